package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bertsync/bertsync/models"
)

// Stored files are content-addressed and shared: the same bytes uploaded
// to two documents are one file. A file is garbage once no document's
// "file" attribute names it (its upload was replaced, its document
// deleted or changed by any path: REST, a Bullet client, a Go handler),
// and the only way to know that whatever changed the documents is to
// look at all of them. So a sweep, at start and every
// [Config.FileSweepInterval], reads every document of the store in one
// snapshot ([models.Store.Walk]) and removes the files none names.
//
// What keeps a file that is not, or not yet, named from going:
//
//   - the grace period: a file whose modification time is less than
//     fileGracePeriod before the sweep began stays. An upload's file gets
//     its time when it is stored (written, or touched when the same bytes
//     were there already), and its document is patched within the
//     request's timeout, far less than the grace period, so a file stored
//     before the snapshot and named after it is never taken;
//   - the in-flight set: a file between its commit and the end of its
//     patch is not taken, whatever its time;
//   - the pin: a file uploaded to a model type served by a Go handler
//     (whose documents the store does not hold) has a <sha256>.keep
//     marker, and is never taken: removing it is the program's business.
//
// The sweep's cost is bounded: it examines at most maxSweepFiles files
// (the next ones by name after those of the last sweep, so that every
// file is examined in turn), holds their names only, decodes each
// document once, and logs what it did and how long it took.

// fileGracePeriod is how old an unreferenced file must be before a sweep
// removes it.
const fileGracePeriod = 10 * time.Minute

// maxSweepFiles bounds the files one sweep examines, so that its memory
// is bounded whatever the files directory holds.
const maxSweepFiles = 1 << 16

// keepSuffix names the marker of a file that sweeps never remove.
const keepSuffix = ".keep"

// fileStore is the files directory, shared by the uploads that add files
// and the sweep that removes them. Its mutex orders the two: a file is
// committed (renamed into place or touched) and a file is removed under
// it, so that a sweep cannot remove bytes an upload just found there.
type fileStore struct {
	dir    string // <DataDir>/files
	tmpDir string // <DataDir>/tmp

	mu sync.Mutex
	// inflight holds the files committed by uploads whose patch has not
	// ended, by hex SHA-256.
	inflight map[string]*fileUse
}

// fileUse counts the uploads in flight that hold one file.
type fileUse struct {
	n int
	// shared: another upload committed the same file while one held it,
	// so the file may be named by a document whose upload succeeded.
	shared bool
}

func newFileStore(dataDir string) *fileStore {
	return &fileStore{
		dir:      filepath.Join(dataDir, "files"),
		tmpDir:   filepath.Join(dataDir, "tmp"),
		inflight: make(map[string]*fileUse),
	}
}

// commit moves the received file tmp to its content address sum, with
// its type sidecar, and holds it in flight until [fileStore.release].
// If the bytes are there already, tmp is dropped and the stored file
// touched, so that its grace period begins again. created says the file
// is new. pin marks the file as never to be swept. tmp is gone after
// commit, whatever happens.
func (s *fileStore) commit(tmp, sum, typ string, pin bool) (created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := s.writeType(sum, typ); err != nil {
		return false, err
	}
	if pin {
		if err := s.writeKeep(sum); err != nil {
			return false, err
		}
	}
	final := filepath.Join(s.dir, sum)
	if _, statErr := os.Stat(final); statErr == nil {
		now := time.Now()
		if err := os.Chtimes(final, now, now); err != nil {
			return false, storageError(err)
		}
		os.Remove(tmp)
	} else {
		if err := os.Rename(tmp, final); err != nil {
			return false, storageError(err)
		}
		created = true
	}
	if u := s.inflight[sum]; u != nil {
		u.n++
		u.shared = true
	} else {
		s.inflight[sum] = &fileUse{n: 1}
	}
	return created, nil
}

// release ends an upload's hold on sum. When its patch was refused (named
// false) and the upload created the file that no other upload shares, the
// file is removed at once: nothing can name it. Otherwise the file stays,
// for its document or for a sweep.
func (s *fileStore) release(sum string, created, named bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.inflight[sum]
	if u == nil {
		return
	}
	if !named && created && !u.shared {
		s.removeLocked(sum)
		os.Remove(filepath.Join(s.dir, sum+keepSuffix))
	}
	if u.n--; u.n == 0 {
		delete(s.inflight, sum)
	}
}

// writeType writes the type sidecar of sum unless it exists.
func (s *fileStore) writeType(sum, typ string) error {
	path := filepath.Join(s.dir, sum+typeSuffix)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(s.tmpDir, "type-*")
	if err != nil {
		return storageError(err)
	}
	_, err = tmp.WriteString(typ + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return storageError(err)
	}
	return nil
}

// writeKeep writes the pin of sum unless it exists.
func (s *fileStore) writeKeep(sum string) error {
	f, err := os.OpenFile(filepath.Join(s.dir, sum+keepSuffix), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return storageError(err)
	}
	if err := f.Close(); err != nil {
		return storageError(err)
	}
	return nil
}

// removeLocked removes the file sum and its type sidecar, and returns the
// bytes freed. s.mu must be held.
func (s *fileStore) removeLocked(sum string) (freed int64, err error) {
	path := filepath.Join(s.dir, sum)
	if st, err := os.Stat(path); err == nil {
		freed = st.Size()
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	if err := os.Remove(path + typeSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return freed, err
	}
	return freed, nil
}

// collect removes the file sum, which no document named in the sweep's
// snapshot, unless it is in flight, pinned or changed at or after
// cutoff. A type sidecar without its file goes too, once it is as old.
func (s *fileStore) collect(sum string, cutoff time.Time) (freed int64, removed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[sum] != nil {
		return 0, false, nil
	}
	path := filepath.Join(s.dir, sum)
	if _, err := os.Lstat(path + keepSuffix); err == nil {
		return 0, false, nil
	}
	st, err := os.Lstat(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return 0, false, err
		}
		// An orphaned sidecar: its file was never renamed into place.
		if st, err = os.Lstat(path + typeSuffix); err != nil || !st.ModTime().Before(cutoff) {
			return 0, false, nil
		}
	} else if !st.Mode().IsRegular() || !st.ModTime().Before(cutoff) {
		return 0, false, nil
	}
	freed, err = s.removeLocked(sum)
	return freed, err == nil, err
}

// candidates returns, sorted, up to max hex names of stored files (or of
// their sidecars) that sort after the name after, and whether there are
// more. It reads the directory a chunk at a time and keeps no more than
// 2*max names.
func (s *fileStore) candidates(after string, max int) (names []string, more bool, err error) {
	d, err := os.Open(s.dir)
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	trim := func() {
		slices.Sort(names)
		names = slices.Compact(names)
		if len(names) > max {
			names, more = names[:max], true
		}
	}
	for {
		entries, err := d.ReadDir(1024)
		for _, e := range entries {
			name := e.Name()
			name = strings.TrimSuffix(name, typeSuffix)
			name = strings.TrimSuffix(name, keepSuffix)
			if isSHA256Hex(name) && name > after {
				names = append(names, name)
			}
		}
		if len(names) > 2*max {
			trim()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	trim()
	return names, more, nil
}

// fileSweeper removes the stored files that no document of a store names.
type fileSweeper struct {
	files *fileStore
	store *models.Store
	quota *uploadQuota
	log   *slog.Logger
	// maxFiles bounds the files one sweep examines; zero means
	// maxSweepFiles.
	maxFiles int

	mu sync.Mutex // one sweep at a time
	// resume is the last name the previous sweep examined when it could
	// not examine every file; "" starts a new round over all of them.
	resume string
	// roundCutoff is the cutoff of the sweep that began the round: once
	// the round is over, every file stored before it was examined.
	roundCutoff time.Time
}

// sweepStats is what one sweep did.
type sweepStats struct {
	docs     int   // documents read
	examined int   // files examined
	removed  int   // files removed
	freed    int64 // bytes of the files removed
	more     bool  // files were left for the next sweep
}

// sweep examines the next files and removes those that no document names
// and that were stored before now minus the grace period. When a round
// over every file ends, the upload quota forgets the uploads the round
// has examined.
func (g *fileSweeper) sweep(ctx context.Context, now time.Time) (sweepStats, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var st sweepStats
	cutoff := now.Add(-fileGracePeriod)
	if g.resume == "" {
		g.roundCutoff = cutoff
	}
	names, more, err := g.files.candidates(g.resume, cmp.Or(g.maxFiles, maxSweepFiles))
	if err != nil {
		return st, fmt.Errorf("listing the files: %w", err)
	}
	st.examined, st.more = len(names), more
	unnamed := make(map[string]struct{}, len(names))
	for _, n := range names {
		unnamed[n] = struct{}{}
	}
	err = g.store.Walk(ctx, func(_ string, d models.Doc) error {
		st.docs++
		if sum, ok := docFileSum(d.Attrs); ok {
			delete(unnamed, sum)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reading the documents: %w", err)
	}
	for _, sum := range names {
		if _, ok := unnamed[sum]; !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		freed, removed, err := g.files.collect(sum, cutoff)
		if err != nil {
			return st, fmt.Errorf("removing a file: %w", err)
		}
		if removed {
			st.removed++
			st.freed += freed
		}
	}
	if more {
		g.resume = names[len(names)-1]
	} else {
		g.resume = ""
		g.quota.prune(g.roundCutoff)
	}
	return st, nil
}

// run sweeps at once and then every interval, until quit is closed.
func (g *fileSweeper) run(quit <-chan struct{}, interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		st, err := g.sweep(ctx, start)
		if ctx.Err() != nil {
			return
		}
		attrs := []any{"docs", st.docs, "examined", st.examined, "removed", st.removed,
			"freed", st.freed, "more", st.more, "took", time.Since(start)}
		switch {
		case err != nil:
			g.log.Warn("file sweep failed", append(attrs, "err", err)...)
		case st.removed > 0:
			g.log.Info("file sweep", attrs...)
		default:
			g.log.Debug("file sweep", attrs...)
		}
		t.Reset(interval)
	}
}

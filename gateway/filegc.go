package gateway

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
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
// snapshot ([models.Store.Walk]) and removes the files none names from
// the [FileStore]. On a file store that many nodes share, one node
// sweeps each interval ([sharedSweeps]).
//
// What keeps a file that is not, or not yet, named from going:
//
//   - the grace period: a file whose time (on disk, its modification
//     time) is less than fileGracePeriod before the sweep began stays. An
//     upload's file gets its time when it is stored (written, or touched
//     when the same bytes were there already), and its document is
//     patched within the request's timeout, far less than the grace
//     period, so a file stored before the snapshot and named after it is
//     never taken. This holds for the uploads of every node that shares a
//     [FileStore];
//   - the in-flight set: a file between its commit and the end of its
//     patch on this server is not taken, whatever its time;
//   - the pin: a file uploaded to a model type served by a Go handler
//     (whose documents the store does not hold) is pinned (on disk, a
//     <sha256>.keep marker), and is never taken: removing it is the
//     program's business.
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

// typeSuffix names the media type sidecar of a stored file.
const typeSuffix = ".type"

// fileStore is the gateway's side of a [FileStore], shared by the
// uploads that add files and the sweep that removes them: it knows which
// files uploads of this server hold in flight. Its mutex orders the two:
// an upload takes its hold before it commits, and a file is removed only
// under the mutex and when no upload holds it, so that a sweep cannot
// remove bytes an upload just found there. Uploads on other nodes of a
// shared store are kept from the sweep by the grace period alone, which
// their commits begin again.
type fileStore struct {
	blobs FileStore

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
	// stamp is the time of the file's last commit ([FileStore.Commit]).
	stamp time.Time
}

func newFileStore(blobs FileStore) *fileStore {
	return &fileStore{blobs: blobs, inflight: make(map[string]*fileUse)}
}

// commit stores the received file tmp under sum (see [FileStore.Commit])
// and holds it in flight until [fileStore.release]. created says the
// file is new. pin marks the file as never to be swept. tmp is gone
// after commit, whatever happens.
func (s *fileStore) commit(ctx context.Context, tmp, sum, typ string, pin bool) (created bool, err error) {
	s.mu.Lock()
	if u := s.inflight[sum]; u != nil {
		u.n++
		u.shared = true
	} else {
		s.inflight[sum] = &fileUse{n: 1}
	}
	s.mu.Unlock()
	created, stamp, err := s.blobs.Commit(ctx, tmp, sum, typ, pin)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.dropLocked(sum)
		return false, err
	}
	s.inflight[sum].stamp = stamp
	return created, nil
}

// release ends an upload's hold on sum. When its patch was refused (named
// false) and the upload created the file that no other upload shares, the
// file is removed at once: nothing can name it. Otherwise the file stays,
// for its document or for a sweep. A failure to remove it is logged by
// the caller; the sweep removes the file later.
func (s *fileStore) release(ctx context.Context, sum string, created, named bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.inflight[sum]
	if u == nil {
		return nil
	}
	var err error
	if !named && created && !u.shared {
		err = s.blobs.Discard(ctx, sum, u.stamp)
	}
	s.dropLocked(sum)
	return err
}

// dropLocked ends one hold on sum. s.mu must be held.
func (s *fileStore) dropLocked(sum string) {
	if u := s.inflight[sum]; u != nil {
		if u.n--; u.n == 0 {
			delete(s.inflight, sum)
		}
	}
}

// collect removes the file sum, which no document named in the sweep's
// snapshot, unless it is in flight, pinned or stored at or after cutoff.
func (s *fileStore) collect(ctx context.Context, sum string, cutoff time.Time) (freed int64, removed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[sum] != nil {
		return 0, false, nil
	}
	return s.blobs.Collect(ctx, sum, cutoff)
}

// candidates returns, sorted, up to max hashes of stored files that sort
// after after, and whether there are more.
func (s *fileStore) candidates(ctx context.Context, after string, max int) (sums []string, more bool, err error) {
	return s.blobs.Candidates(ctx, after, max)
}

// docWalker reads every document of a store in one snapshot: the
// [models.Store], or any store with its Walk.
type docWalker interface {
	Walk(ctx context.Context, fn func(model string, d models.Doc) error) error
}

// fileSweeper removes the stored files that no document of a store names.
type fileSweeper struct {
	files *fileStore
	store docWalker
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
	// roundCutoff is the cutoff of the round the sweep ended, if it
	// ended one: every file stored before it was examined.
	roundCutoff time.Time
	// elsewhere: another node of a shared store swept instead.
	elsewhere bool
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
	names, more, err := g.files.candidates(ctx, g.resume, cmp.Or(g.maxFiles, maxSweepFiles))
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
		freed, removed, err := g.files.collect(ctx, sum, cutoff)
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
		st.roundCutoff = g.roundCutoff
		g.quota.prune(g.roundCutoff)
	}
	return st, nil
}

// sharedSweeps is a [FileStore] that many nodes share
// ([models.PGFiles]), whose sweep runs on one node at a time, once an
// interval: each sweep reads every document, so a sweep on every node
// would read them all once per node. The nodes that do not sweep learn
// from it when a round ended, for their upload quotas.
type sharedSweeps interface {
	// LeadSweep runs sweep unless another node runs one or began one
	// less than every ago, and reports whether it ran.
	LeadSweep(ctx context.Context, every time.Duration, sweep func(context.Context) error) (led bool, err error)
	// EndRound records that a round that began with cutoff ended, and
	// SweptBefore returns the latest such cutoff of any node.
	EndRound(ctx context.Context, cutoff time.Time) error
	SweptBefore(ctx context.Context) (time.Time, error)
}

var _ sharedSweeps = (*models.PGFiles)(nil)

// turn is one turn of the sweep, which comes every interval: this
// server's sweep or, on a shared file store, the one sweep of all the
// nodes in that interval, run by whichever node comes first. A node that
// does not sweep forgets, in its upload quota, the uploads that the
// latest round of any node examined.
func (g *fileSweeper) turn(ctx context.Context, now time.Time, interval time.Duration) (sweepStats, error) {
	shared, ok := g.files.blobs.(sharedSweeps)
	if !ok {
		return g.sweep(ctx, now)
	}
	var st sweepStats
	led, err := shared.LeadSweep(ctx, interval, func(ctx context.Context) error {
		var err error
		if st, err = g.sweep(ctx, now); err != nil || st.roundCutoff.IsZero() {
			return err
		}
		return shared.EndRound(ctx, st.roundCutoff)
	})
	if err != nil || led {
		return st, err
	}
	st.elsewhere = true
	cutoff, err := shared.SweptBefore(ctx)
	if err != nil {
		return st, err
	}
	g.quota.prune(cutoff)
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
		st, err := g.turn(ctx, start, interval)
		if ctx.Err() != nil {
			return
		}
		attrs := []any{"docs", st.docs, "examined", st.examined, "removed", st.removed,
			"freed", st.freed, "more", st.more, "took", time.Since(start)}
		switch {
		case err == nil && st.elsewhere:
			g.log.Debug("file sweep left to another node")
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

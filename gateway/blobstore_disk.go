package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bertsync/bertsync/models"
)

// diskFiles is the [FileStore] of one server's data directory:
//
//	<DataDir>/files/<sha256>        the file, named by the hex SHA-256 of its bytes
//	<DataDir>/files/<sha256>.type   its media type, one line of text
//	<DataDir>/files/<sha256>.keep   a pin: never collected
//	<DataDir>/tmp/type-*            a type sidecar being written
//
// A file's time is its modification time. The received uploads it
// commits must be on the same file system (under <DataDir>/tmp), so that
// a commit is a rename. Its mutex orders commits and removals, so that a
// removal cannot take bytes a commit just found there.
type diskFiles struct {
	dir    string // <DataDir>/files
	tmpDir string // <DataDir>/tmp

	mu sync.Mutex
}

func newDiskFiles(dataDir string) *diskFiles {
	return &diskFiles{dir: filepath.Join(dataDir, "files"), tmpDir: filepath.Join(dataDir, "tmp")}
}

// Commit renames tmp to its content address, with its type sidecar
// (written only when missing) and its pin. If the bytes are there
// already, tmp is dropped and the stored file touched, so that its grace
// period begins again.
func (s *diskFiles) Commit(_ context.Context, tmp, sum, typ string, pin bool) (created bool, stamp time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := s.writeType(sum, typ); err != nil {
		return false, time.Time{}, err
	}
	if pin {
		if err := s.writeKeep(sum); err != nil {
			return false, time.Time{}, err
		}
	}
	final := filepath.Join(s.dir, sum)
	if _, statErr := os.Stat(final); statErr == nil {
		now := time.Now()
		if err := os.Chtimes(final, now, now); err != nil {
			return false, time.Time{}, storageError(err)
		}
		os.Remove(tmp)
	} else {
		if err := os.Rename(tmp, final); err != nil {
			return false, time.Time{}, storageError(err)
		}
		created = true
	}
	// The time as the file system keeps it, which Discard compares.
	st, err := os.Stat(final)
	if err != nil {
		return false, time.Time{}, storageError(err)
	}
	return created, st.ModTime(), nil
}

// Discard removes the file sum, its type sidecar and its pin, unless its
// time is no longer stamp.
func (s *diskFiles) Discard(_ context.Context, sum string, stamp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, sum)
	if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(stamp) {
		return nil
	}
	if _, err := s.removeLocked(sum); err != nil {
		return storageError(err)
	}
	if err := os.Remove(path + keepSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return storageError(err)
	}
	return nil
}

// writeType writes the type sidecar of sum unless it exists.
func (s *diskFiles) writeType(sum, typ string) error {
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
func (s *diskFiles) writeKeep(sum string) error {
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
func (s *diskFiles) removeLocked(sum string) (freed int64, err error) {
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

// Open opens the file sum and reads its type sidecar.
func (s *diskFiles) Open(_ context.Context, sum string) (io.ReadSeekCloser, models.FileInfo, error) {
	var fi models.FileInfo
	f, err := os.Open(filepath.Join(s.dir, sum))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fi, errNoSuchFile
		}
		return nil, fi, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fi, errNoSuchFile
	}
	fi.Size, fi.ModTime, fi.MediaType = st.Size(), st.ModTime(), s.storedType(sum)
	return f, fi, nil
}

// storedType reads the media type sidecar of sum; "" if there is none or
// it is too long to be one.
func (s *diskFiles) storedType(sum string) string {
	data, err := os.ReadFile(filepath.Join(s.dir, sum+typeSuffix))
	if err != nil || len(data) > 1024 {
		return ""
	}
	return string(bytes.TrimSpace(data))
}

// Collect removes the file sum unless it is pinned or changed at or
// after cutoff. A type sidecar without its file goes too, once it is as
// old.
func (s *diskFiles) Collect(_ context.Context, sum string, cutoff time.Time) (freed int64, removed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// Candidates returns the hex names of stored files or of their sidecars.
// It reads the directory a chunk at a time and keeps no more than 2*max
// names.
func (s *diskFiles) Candidates(_ context.Context, after string, max int) (names []string, more bool, err error) {
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

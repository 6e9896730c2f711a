package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bertsync/bertsync/internal/pgtest"
)

// pgFilesPool opens the store on the database url, which creates the
// file tables, and returns its pool.
func pgFilesPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	store, err := OpenPostgres(context.Background(), url, PGConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store.Pool()
}

// received writes data to a new file under dir, as an upload arrives,
// and returns its path and hex SHA-256.
func received(t *testing.T, dir string, data []byte) (path, sum string) {
	t.Helper()
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	return f.Name(), hex.EncodeToString(h[:])
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func chunkCount(t *testing.T, pool *pgxpool.Pool, sum string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM file_chunks WHERE sum = $1`, sum).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPGFiles runs the tests of PGFiles on one server, each on its own
// database.
func TestPGFiles(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	for _, test := range []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"ReadSeek", testPGFilesReadSeek},
		{"CommitDiscardCollect", testPGFilesCommitDiscardCollect},
		{"ConcurrentCommits", testPGFilesConcurrentCommits},
		{"SharedSweep", testPGFilesSharedSweep},
	} {
		url := srv.CreateDB(t, strings.ToLower(test.name))
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			test.fn(t, url)
		})
	}
}

// testPGFilesReadSeek stores files of sizes around the chunk size and
// reads them whole and from offsets that cross chunk boundaries.
func testPGFilesReadSeek(t *testing.T, url string) {
	files := NewPGFiles(pgFilesPool(t, url))
	ctx := context.Background()
	dir := t.TempDir()
	for i, size := range []int{0, 1, pgFileChunk - 1, pgFileChunk, pgFileChunk + 1, 2*pgFileChunk + 1000} {
		data := randomBytes(uint64(i), size)
		tmp, sum := received(t, dir, data)
		created, _, err := files.Commit(ctx, tmp, sum, "application/x-test", false)
		if err != nil || !created {
			t.Fatalf("size %d: commit: %v %v", size, created, err)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("size %d: the received file stayed: %v", size, err)
		}
		if n, want := chunkCount(t, files.pool, sum), (size+pgFileChunk-1)/pgFileChunk; n != want {
			t.Errorf("size %d: %d chunks, want %d", size, n, want)
		}
		r, fi, err := files.Open(ctx, sum)
		if err != nil {
			t.Fatalf("size %d: open: %v", size, err)
		}
		if fi.Size != int64(size) || fi.MediaType != "application/x-test" || time.Since(fi.ModTime) > time.Minute {
			t.Errorf("size %d: info %+v", size, fi)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, %v", size, len(got), err)
		}
		for _, off := range []int{0, 1, pgFileChunk - 10, pgFileChunk, 2*pgFileChunk - 1, size - 1} {
			if off < 0 || off >= size {
				continue
			}
			if _, err := r.Seek(int64(off), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			n := min(size-off, pgFileChunk+20)
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[off:off+n]) {
				t.Errorf("size %d: %d bytes at %d: %v", size, n, off, err)
			}
		}
		if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(size) {
			t.Errorf("size %d: seek to the end: %d %v", size, end, err)
		}
		if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("size %d: read at the end: %d %v", size, n, err)
		}
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Errorf("size %d: seek before the start passed", size)
		}
		r.Close()
	}
	if _, _, err := files.Open(ctx, "00"); CodeOf(err) != CodeNotFound {
		t.Errorf("open of a missing file: %v", err)
	}
}

// testPGFilesCommitDiscardCollect checks storing the same bytes again,
// discarding a file only while no later commit stored it, and the
// sweep's side: candidates, pins and the cutoff.
func testPGFilesCommitDiscardCollect(t *testing.T, url string) {
	pool := pgFilesPool(t, url)
	files := NewPGFiles(pool)
	ctx := context.Background()
	dir := t.TempDir()
	data := randomBytes(1, pgFileChunk+5)

	tmp, sum := received(t, dir, data)
	created, first, err := files.Commit(ctx, tmp, sum, "image/png", false)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	tmp, _ = received(t, dir, data)
	created, second, err := files.Commit(ctx, tmp, sum, "text/plain", false)
	if err != nil || created || !second.After(first) {
		t.Fatalf("commit of stored bytes: created %v, stamp %v after %v, %v", created, second, first, err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the received file stayed: %v", err)
	}
	_, fi, err := files.Open(ctx, sum)
	if err != nil || fi.MediaType != "image/png" || !fi.ModTime.Equal(second) {
		t.Errorf("after the second commit: %+v %v, want the first type and the second time", fi, err)
	}
	// The first upload's patch was refused, after the second stored the
	// file again: it stays.
	if err := files.Discard(ctx, sum, first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := files.Open(ctx, sum); err != nil {
		t.Fatalf("discard with a stale stamp removed the file: %v", err)
	}
	if err := files.Discard(ctx, sum, second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := files.Open(ctx, sum); CodeOf(err) != CodeNotFound {
		t.Errorf("discard with the last stamp left the file: %v", err)
	}
	if n := chunkCount(t, pool, sum); n != 0 {
		t.Errorf("%d chunks left by the discard", n)
	}

	// Three files, one pinned by its second commit.
	var sums []string
	for i := range 3 {
		tmp, s := received(t, dir, randomBytes(uint64(10+i), 100*(i+1)))
		if _, _, err := files.Commit(ctx, tmp, s, "text/plain", false); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, s)
	}
	pinned := sums[1]
	tmp, _ = received(t, dir, randomBytes(11, 200))
	if _, _, err := files.Commit(ctx, tmp, pinned, "text/plain", true); err != nil {
		t.Fatal(err)
	}
	got, more, err := files.Candidates(ctx, "", 10)
	if err != nil || more || len(got) != 2 || got[0] > got[1] {
		t.Fatalf("candidates: %v %v %v", got, more, err)
	}
	got, more, err = files.Candidates(ctx, "", 1)
	if err != nil || !more || len(got) != 1 {
		t.Fatalf("one candidate: %v %v %v", got, more, err)
	}
	rest, more, err := files.Candidates(ctx, got[0], 1)
	if err != nil || more || len(rest) != 1 || rest[0] <= got[0] {
		t.Fatalf("candidates after %s: %v %v %v", got[0], rest, more, err)
	}
	// A cutoff before the commits keeps everything; one after them
	// removes all but the pinned file.
	for _, s := range sums {
		if _, removed, err := files.Collect(ctx, s, time.Now().Add(-time.Hour)); err != nil || removed {
			t.Errorf("collect of a new file: %v %v", removed, err)
		}
	}
	for i, s := range sums {
		freed, removed, err := files.Collect(ctx, s, time.Now().Add(time.Hour))
		if err != nil || removed != (s != pinned) || (removed && freed != int64(100*(i+1))) {
			t.Errorf("collect of file %d: %d %v %v", i, freed, removed, err)
		}
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM file_chunks`).Scan(&left); err != nil || left != 1 {
		t.Errorf("chunks left: %d %v, want the pinned file's", left, err)
	}
}

// testPGFilesConcurrentCommits stores the same bytes from two pools (two
// nodes) at once, many times over, with a sweep removing the file in
// between: each round exactly one commit creates it, and it is whole.
func testPGFilesConcurrentCommits(t *testing.T, url string) {
	nodes := []*PGFiles{NewPGFiles(pgFilesPool(t, url)), NewPGFiles(pgFilesPool(t, url))}
	ctx := context.Background()
	dir := t.TempDir()
	data := randomBytes(3, 3*pgFileChunk/2)
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	for round := range 10 {
		var wg sync.WaitGroup
		created := make([]bool, len(nodes))
		errs := make([]error, len(nodes))
		for i, node := range nodes {
			tmp, _ := received(t, dir, data)
			wg.Go(func() { created[i], _, errs[i] = node.Commit(ctx, tmp, sum, "text/plain", false) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || created[0] == created[1] {
			t.Fatalf("round %d: created %v, errors %v", round, created, errs)
		}
		r, _, err := nodes[round%2].Open(ctx, sum)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: read %d bytes: %v", round, len(got), err)
		}
		if _, removed, err := nodes[0].Collect(ctx, sum, time.Now().Add(time.Hour)); err != nil || !removed {
			t.Fatalf("round %d: collect: %v %v", round, removed, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("received files left: %v", left)
	}
}

// TestPGFilesUnavailable checks that a stopped database is unavailable,
// with a message that tells no address, for every operation.
func TestPGFilesUnavailable(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	files := NewPGFiles(pgFilesPool(t, srv.URL))
	ctx := context.Background()
	dir := t.TempDir()
	tmp, sum := received(t, dir, []byte("hello"))
	if _, _, err := files.Commit(ctx, tmp, sum, "text/plain", false); err != nil {
		t.Fatal(err)
	}
	r, _, err := files.Open(ctx, sum)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv.Stop(t)
	check := func(what string, err error) {
		t.Helper()
		if CodeOf(err) != CodeUnavailable || bytes.Contains([]byte(MessageOf(err)), []byte("127.0.0.1")) {
			t.Errorf("%s with the database down: %v (message %q)", what, err, MessageOf(err))
		}
	}
	tmp, _ = received(t, dir, []byte("hello"))
	_, _, err = files.Commit(ctx, tmp, sum, "text/plain", false)
	check("commit", err)
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("a failed commit left the received file: %v", err)
	}
	_, _, err = files.Open(ctx, sum)
	check("open", err)
	_, err = r.Read(make([]byte, 5))
	check("read", err)
	_, _, err = files.Candidates(ctx, "", 10)
	check("candidates", err)
	_, _, err = files.Collect(ctx, sum, time.Now())
	check("collect", err)
	check("discard", files.Discard(ctx, sum, time.Now()))
}

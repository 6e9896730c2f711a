package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bertsync/bertsync/internal/pgtest"
	"github.com/bertsync/bertsync/models"
)

// newPGFilesEnv starts a server, a node of the database url: its
// documents and its files are in PostgreSQL. It returns the env and the
// store's pool.
func newPGFilesEnv(t *testing.T, url string, cfg Config) (*filesEnv, *pgxpool.Pool) {
	t.Helper()
	store, err := models.OpenPostgres(context.Background(), url, models.PGConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.Files = models.NewPGFiles(store.Pool())
	return newFilesEnvOn(t, store, cfg, "", nil), store.Pool()
}

// pgStored lists the hashes of the files in the database and checks that
// no chunk outlived its file.
func pgStored(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT sum FROM files ORDER BY sum`)
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var orphans int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM file_chunks c WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.sum = c.sum)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("chunks without a file: %d %v", orphans, err)
	}
	return sums
}

// pgAge sets the time of the files sums back by d.
func pgAge(t *testing.T, pool *pgxpool.Pool, d time.Duration, sums ...string) {
	t.Helper()
	for _, sum := range sums {
		if _, err := pool.Exec(context.Background(), `UPDATE files SET created_at = created_at - $2::interval WHERE sum = $1`, sum, d.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// checkNoDiskFiles fails if an env on a PostgreSQL file store left
// anything on its disk: no files directory, an empty tmp.
func checkNoDiskFiles(t *testing.T, e *filesEnv) {
	t.Helper()
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "tmp")); len(got) != 0 {
		t.Errorf("tmp holds %v", got)
	}
	if names, _ := filepath.Glob(filepath.Join(e.dataDir, "files", "*")); len(names) != 0 {
		t.Errorf("files on disk: %v", names)
	}
}

// TestPGFileStoreFlow runs uploads, downloads (whole, ranges, from a
// second node) and sweeps against a PostgreSQL file store.
func TestPGFileStoreFlow(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	e, pool := newPGFilesEnv(t, srv.URL, Config{})
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	e.doJSON(t, "POST", "/api/doc", `{"id":"other"}`)

	data := uploadBytes(700_000, 7) // 3 chunks, the last one short
	r := e.upload(t, "doc", "d", data)
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	url := "/files/doc/d/" + sum
	if got := r.object(t)["file"].(map[string]any)["url"]; got != url {
		t.Fatalf("url %v, want %s", got, url)
	}
	if got := pgStored(t, pool); !slices.Equal(got, []string{sum}) {
		t.Fatalf("stored %v, want %s", got, sum)
	}
	checkNoDiskFiles(t, e)

	g := e.do(t, "GET", url, "", nil)
	if g.status != 200 || !bytes.Equal(g.body, data) || g.header.Get("Content-Type") != "application/x-test" ||
		g.header.Get("ETag") != `"`+sum+`"` || g.header.Get("Last-Modified") == "" {
		t.Fatalf("GET: %d, %d bytes, %v", g.status, len(g.body), g.header)
	}
	for _, rg := range [][2]int{{0, 0}, {100, 300_000}, {262_143, 262_144}, {524_000, 699_999}} {
		g := e.do(t, "GET", url, "", nil, "Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		want := data[rg[0] : rg[1]+1]
		if g.status != http.StatusPartialContent || !bytes.Equal(g.body, want) ||
			g.header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", rg[0], rg[1], len(data)) {
			t.Errorf("range %v: %d, %d bytes, %v", rg, g.status, len(g.body), g.header)
		}
	}
	if g := e.do(t, "GET", url, "", nil, "Range", "bytes=-10"); g.status != 206 || !bytes.Equal(g.body, data[len(data)-10:]) {
		t.Errorf("suffix range: %d %q", g.status, g.body)
	}
	if g := e.do(t, "GET", url, "", nil, "Range", "bytes=800000-"); g.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %d", g.status)
	}
	if g := e.do(t, "HEAD", url, "", nil); g.status != 200 || g.header.Get("Content-Length") != strconv.Itoa(len(data)) || len(g.body) != 0 {
		t.Errorf("HEAD: %d %v", g.status, g.header)
	}
	if g := e.do(t, "GET", url, "", nil, "If-None-Match", `"`+sum+`"`); g.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", g.status)
	}

	// Another node on the same database serves the file, from ranges of
	// chunks it never stored.
	e2, _ := newPGFilesEnv(t, srv.URL, Config{})
	if g := e2.do(t, "GET", url, "", nil, "Range", "bytes=262000-263000"); g.status != 206 || !bytes.Equal(g.body, data[262000:263001]) {
		t.Errorf("range from the second node: %d, %d bytes", g.status, len(g.body))
	}

	// The same bytes uploaded to another document are stored once.
	if r := e.upload(t, "doc", "other", data); r.status != 200 {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}
	// Replacing d's file leaves the first named by "other" only; then
	// replacing that leaves it named by none.
	newer := e.mustUpload(t, "doc", "d", uploadBytes(10, 8))
	newest := e.mustUpload(t, "doc", "other", uploadBytes(20, 9))
	if got := pgStored(t, pool); !slices.Equal(got, sortedSums(sum, newer, newest)) {
		t.Fatalf("stored %v", got)
	}
	// Within the grace period nothing goes.
	if st := e.sweep(t); st.removed != 0 || st.examined != 3 {
		t.Errorf("sweep within the grace period: %+v", st)
	}
	pgAge(t, pool, 2*fileGracePeriod, sum, newer, newest)
	st := e.sweep(t)
	if st.removed != 1 || st.freed != int64(len(data)) || st.docs != 2 {
		t.Errorf("sweep: %+v", st)
	}
	if got := pgStored(t, pool); !slices.Equal(got, sortedSums(newer, newest)) {
		t.Errorf("after the sweep: %v", got)
	}
	if g := e2.do(t, "GET", url, "", nil); g.status != 404 {
		t.Errorf("a swept file served by the second node: %d", g.status)
	}
	checkNoDiskFiles(t, e)

	// A refused patch removes the file it stored at once.
	if r := e.upload(t, "doc", "missing", uploadBytes(30, 10)); r.status != 404 {
		t.Errorf("upload to a missing document: %d %s", r.status, r.body)
	}
	if got := pgStored(t, pool); !slices.Equal(got, sortedSums(newer, newest)) {
		t.Errorf("after a refused upload: %v", got)
	}
}

// TestPGFileStoreUnavailable checks that uploads and downloads answer
// 503 unavailable, with a reason and no address, while the database of
// the files is down (the documents are on disk), and that a failed
// upload leaves nothing.
func TestPGFileStoreUnavailable(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	store, err := models.OpenPostgres(context.Background(), srv.URL, models.PGConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newFilesEnv(t, Config{Files: models.NewPGFiles(store.Pool())}, "", nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	e.doJSON(t, "POST", "/api/doc", `{"id":"e"}`)
	sum := e.mustUpload(t, "doc", "d", []byte("hello"))
	srv.Stop(t)

	check := func(what string, r restResult) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "unavailable" ||
			!bytes.Contains(r.body, []byte("file store is unavailable")) || bytes.Contains(r.body, []byte("127.0.0.1")) {
			t.Errorf("%s with the database down: %d %s", what, r.status, r.body)
		}
	}
	check("upload", e.upload(t, "doc", "e", []byte("world")))
	check("download", e.do(t, "GET", "/files/doc/d/"+sum, "", nil))
	if r := e.do(t, "GET", "/api/doc/e", "", nil); bytes.Contains(r.body, []byte("file")) {
		t.Errorf("document changed by a failed upload: %s", r.body)
	}
	if _, err := e.up.gc.sweep(context.Background(), time.Now()); models.CodeOf(err) != models.CodeUnavailable {
		t.Errorf("sweep with the database down: %v", err)
	}
	checkNoDiskFiles(t, e)
}

// genData is size bytes that look random and that any offset of can be
// made again: 8 bytes of a mix of their index at a time.
type genData struct {
	off, size int64
}

func genByte(i int64) byte {
	x := uint64(i/8) + 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], x)
	return b[i%8]
}

func (g *genData) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.size-g.off))
	for i := range n {
		p[i] = genByte(g.off + int64(i))
	}
	g.off += int64(n)
	return n, nil
}

// heapPeak samples the heap in use until stop is called, and returns the
// largest HeapInuse seen.
func heapPeak() (stop func() uint64) {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// TestPGFileStoreBoundedMemory uploads and downloads 64 MiB through a
// PostgreSQL file store and checks that the heap never grew by anything
// near that: the file is streamed, a chunk at a time, both ways. It
// measures the whole process, so it does not run in parallel.
func TestPGFileStoreBoundedMemory(t *testing.T) {
	const size = 64 << 20
	const bound = 16 << 20
	srv := pgtest.Start(t)
	e, _ := newPGFilesEnv(t, srv.URL, Config{MaxUploadSize: 2 * size, UploadQuota: -1})
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	upHash := sha256.New()
	go func() {
		part, err := mw.CreateFormFile("file", "big.bin")
		if err == nil {
			_, err = io.Copy(io.MultiWriter(part, upHash), &genData{size: size})
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := heapPeak()
	start := time.Now()
	req, err := http.NewRequest("PUT", e.srv.URL+"/api/doc/d", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	uploaded := time.Since(start)
	sum := hex.EncodeToString(upHash.Sum(nil))

	start = time.Now()
	resp, err = e.srv.Client().Get(e.srv.URL + "/files/doc/d/" + sum)
	if err != nil {
		t.Fatal(err)
	}
	downHash := sha256.New()
	n, err := io.Copy(downHash, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || n != size || hex.EncodeToString(downHash.Sum(nil)) != sum {
		t.Fatalf("download: %d, %d bytes, %v", resp.StatusCode, n, err)
	}
	downloaded := time.Since(start)
	peak := stop()

	growth := int64(peak) - int64(base.HeapInuse)
	t.Logf("64 MiB: upload %v, download %v; heap in use %.1f MiB before, peak %.1f MiB (growth %.1f MiB, bound %d MiB)",
		uploaded.Round(time.Millisecond), downloaded.Round(time.Millisecond),
		float64(base.HeapInuse)/(1<<20), float64(peak)/(1<<20), float64(growth)/(1<<20), bound>>20)
	if growth >= bound {
		t.Errorf("the heap grew by %.1f MiB moving a %d MiB file, bound %d MiB", float64(growth)/(1<<20), size>>20, bound>>20)
	}

	// A range from the middle, across chunks.
	off := int64(size/2 - 1000)
	g := e.do(t, "GET", "/files/doc/d/"+sum, "", nil, "Range", fmt.Sprintf("bytes=%d-%d", off, off+600_000-1))
	want := make([]byte, 600_000)
	(&genData{off: off, size: off + int64(len(want))}).Read(want)
	if g.status != 206 || !bytes.Equal(g.body, want) {
		t.Errorf("range: %d, %d bytes", g.status, len(g.body))
	}
}

// TestPGFileStoreSharedSweep runs the sweep of two nodes on one
// database: one node sweeps an interval, and the other forgets in its
// upload quota what a round of the first examined.
func TestPGFileStoreSharedSweep(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	a, pool := newPGFilesEnv(t, srv.URL, Config{UploadQuota: 1000})
	b, _ := newPGFilesEnv(t, srv.URL, Config{UploadQuota: 1000})
	b.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	replaced := b.mustUpload(t, "doc", "d", uploadBytes(600, 1))
	current := b.mustUpload(t, "doc", "d", uploadBytes(300, 2))
	// b's quota counts both uploads: a third one, of 200 bytes, is too many.
	if r := b.upload(t, "doc", "d", uploadBytes(200, 3)); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload past b's quota: %d %s", r.status, r.body)
	}
	if got := pgStored(t, pool); !slices.Equal(got, sortedSums(replaced, current)) {
		t.Fatalf("stored %v, want both uploads", got)
	}
	ctx := context.Background()
	// A time past the uploads' grace period, so that a sweep may take
	// the replaced file and a round forget the uploads.
	later := time.Now().Add(2 * fileGracePeriod)

	// a takes the turn of the hour; its round takes two sweeps of one
	// file each.
	a.up.gc.maxFiles = 1
	first, err := a.up.gc.turn(ctx, later, time.Hour)
	if err != nil || first.elsewhere || first.examined != 1 || !first.more {
		t.Fatalf("a's first sweep: %+v, %v; want one file examined of two", first, err)
	}
	// b's turn in the same hour is left to a. No round has ended: b's
	// quota still counts both uploads.
	if st, err := b.up.gc.turn(ctx, later, time.Hour); err != nil || !st.elsewhere || st.examined != 0 {
		t.Errorf("b's turn in the hour of a's sweep: %+v, %v; want it left to a", st, err)
	}
	if r := b.upload(t, "doc", "d", uploadBytes(200, 3)); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload past b's quota before any round ended: %d %s", r.status, r.body)
	}
	// a's next sweep (an interval of zero: at once) ends the round; the
	// replaced file is gone.
	second, err := a.up.gc.turn(ctx, later, 0)
	if err != nil || second.elsewhere || second.more || first.removed+second.removed != 1 {
		t.Fatalf("a's second sweep: %+v, %v; want the round ended, the replaced file removed", second, err)
	}
	if got := pgStored(t, pool); !slices.Equal(got, []string{current}) {
		t.Fatalf("stored %v after a's round, want %s", got, current)
	}
	// b's next turn is left to a too, and b learns that a's round ended:
	// it forgets the uploads the round examined.
	if st, err := b.up.gc.turn(ctx, later, time.Hour); err != nil || !st.elsewhere {
		t.Errorf("b's turn after a's round: %+v, %v; want it left to a", st, err)
	}
	if n := len(b.up.quota.docs); n != 0 {
		t.Errorf("b's quota ledger after a's round: %d documents, want none", n)
	}
	if r := b.upload(t, "doc", "d", uploadBytes(200, 3)); r.status != 200 {
		t.Errorf("upload to b after a's round: %d %s", r.status, r.body)
	}
}

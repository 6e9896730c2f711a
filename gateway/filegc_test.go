package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/models"
)

// filesEnv is a restEnv whose callers are authenticated by JWTs signed
// with secret, under rules, and whose file sweeps the test runs itself.
type filesEnv struct {
	*restEnv
	store  models.DocumentStore
	up     *uploader
	secret []byte
}

// newFilesEnv starts a server like newRESTEnv with rules (JSON; "" means
// no authentication and every method public) and registry (nil: none).
// Its background sweep is off: tests call e.up.gc.sweep.
func newFilesEnv(t *testing.T, cfg Config, rules string, registry *models.Registry) *filesEnv {
	t.Helper()
	store, err := models.OpenStore(filepath.Join(t.TempDir(), "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newFilesEnvOn(t, store, cfg, rules, registry)
}

// newFilesEnvOn is newFilesEnv on the document store store.
func newFilesEnvOn(t *testing.T, store models.DocumentStore, cfg Config, rules string, registry *models.Registry) *filesEnv {
	t.Helper()
	dir := t.TempDir()
	var err error
	e := &filesEnv{store: store, secret: []byte("test secret of the files tests")}
	acfg := actors.Config{
		Registry:  registry,
		Documents: models.NewDocuments(store, nil),
		Logger:    slog.New(slog.DiscardHandler),
	}
	if rules != "" {
		if acfg.Rules, err = models.ParseRules([]byte(rules)); err != nil {
			t.Fatal(err)
		}
		jwtAuth, err := auth.NewJWT(auth.JWTConfig{Secret: e.secret})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Authenticator = jwtAuth
	}
	sys, err := actors.NewSystem(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sys.Shutdown(ctx)
	})
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.FileSweepInterval = -1
	cfg.Logger = acfg.Logger
	gw, err := New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	h, _ := gw.mux.Handler(httptest.NewRequest("PUT", "/api/doc/d", nil))
	e.up = h.(*restHandler).upload
	if e.up == nil || e.up.gc == nil {
		t.Fatal("no uploader or no sweeper")
	}
	e.restEnv = &restEnv{srv: srv, sys: sys, dataDir: cfg.DataDir}
	return e
}

// token returns a JWT for subject sub.
func (e *filesEnv) token(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(e.secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bearer returns the header arguments of e.do for sub's token.
func (e *filesEnv) bearer(t *testing.T, sub string) []string {
	return []string{"Authorization", "Bearer " + e.token(t, sub)}
}

// upload sends data as the file of model/id and returns the reply's url.
func (e *filesEnv) upload(t *testing.T, model, id string, data []byte, hdr ...string) restResult {
	t.Helper()
	ctype, body := uploadBody(t, "f.bin", "application/x-test", data)
	return e.do(t, "PUT", "/api/"+model+"/"+id, ctype, body, hdr...)
}

// mustUpload uploads and returns the stored file's hash.
func (e *filesEnv) mustUpload(t *testing.T, model, id string, data []byte, hdr ...string) string {
	t.Helper()
	r := e.upload(t, model, id, data, hdr...)
	if r.status != 200 {
		t.Fatalf("upload to %s/%s: %d %s", model, id, r.status, r.body)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func (e *filesEnv) filesDir() string { return filepath.Join(e.dataDir, "files") }

// stored lists the hashes of the files stored, sidecars left out.
func (e *filesEnv) stored(t *testing.T) []string {
	t.Helper()
	var sums []string
	for _, name := range uploadDirFiles(t, e.filesDir()) {
		if isSHA256Hex(name) {
			sums = append(sums, name)
		}
	}
	slices.Sort(sums)
	return sums
}

// age sets the modification time of the files sums back by d.
func (e *filesEnv) age(t *testing.T, d time.Duration, sums ...string) {
	t.Helper()
	at := time.Now().Add(-d)
	for _, sum := range sums {
		if err := os.Chtimes(filepath.Join(e.filesDir(), sum), at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *filesEnv) sweep(t *testing.T) sweepStats {
	t.Helper()
	st, err := e.up.gc.sweep(context.Background(), time.Now())
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	return st
}

func sortedSums(sums ...string) []string {
	out := slices.Clone(sums)
	slices.Sort(out)
	return out
}

func TestSweepRemovesWhatNoDocumentNames(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{}, "", nil)
	for _, id := range []string{"a", "b", "c"} {
		e.doJSON(t, "POST", "/api/doc", `{"id":"`+id+`"}`)
	}
	replaced := e.mustUpload(t, "doc", "a", []byte("the first file of a"))
	current := e.mustUpload(t, "doc", "a", []byte("the second file of a"))
	deleted := e.mustUpload(t, "doc", "b", []byte("the file of b"))
	if r := e.do(t, "DELETE", "/api/doc/b", "", nil); r.status != 200 {
		t.Fatalf("delete b: %d %s", r.status, r.body)
	}
	// c names its file in the form of older servers, and in another
	// type: both count.
	kept := e.mustUpload(t, "doc", "c", []byte("the file of c"))
	e.doJSON(t, "PATCH", "/api/doc/c", `{"file":{"url":"/files/`+kept+`"}}`)
	e.doJSON(t, "POST", "/api/other", `{"id":"x","file":{"url":"/files/other/x/`+current+`"}}`)
	// A fresh file no document names: an upload that has not been
	// patched in yet, say.
	fresh := strings.Repeat("0f", 32)
	if err := os.WriteFile(filepath.Join(e.filesDir(), fresh), []byte("fresh"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A pinned old file (a Go handler's) and an old sidecar whose file
	// never arrived.
	pinned := strings.Repeat("1e", 32)
	orphan := strings.Repeat("2d", 32)
	for _, name := range []string{pinned, pinned + keepSuffix, orphan + typeSuffix} {
		if err := os.WriteFile(filepath.Join(e.filesDir(), name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := sortedSums(replaced, current, deleted, kept, fresh, pinned)
	if got := e.stored(t); !slices.Equal(got, all) {
		t.Fatalf("stored %v, want %v", got, all)
	}

	// Every file is fresh: nothing goes.
	if st := e.sweep(t); st.removed != 0 || st.docs != 3 {
		t.Fatalf("sweep of fresh files: %+v", st)
	}
	if got := e.stored(t); !slices.Equal(got, all) {
		t.Fatalf("after a sweep of fresh files: %v, want %v", got, all)
	}

	e.age(t, 2*fileGracePeriod, replaced, current, deleted, kept, pinned, orphan+typeSuffix)
	st := e.sweep(t)
	if st.removed != 3 || st.freed != int64(len("the first file of a")+len("the file of b")) || st.more {
		t.Errorf("sweep: %+v, want 2 files and a sidecar removed", st)
	}
	want := sortedSums(current, kept, fresh, pinned)
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("after the sweep: %v, want %v", got, want)
	}
	for _, name := range []string{replaced + typeSuffix, deleted + typeSuffix, orphan + typeSuffix} {
		if _, err := os.Stat(filepath.Join(e.filesDir(), name)); err == nil {
			t.Errorf("%s left behind", name)
		}
	}
	if r := e.do(t, "GET", "/files/doc/a/"+current, "", nil); r.status != 200 || string(r.body) != "the second file of a" {
		t.Errorf("the current file after the sweep: %d %q", r.status, r.body)
	}
	// An upload of bytes a sweep is about to take makes them fresh
	// again.
	e.doJSON(t, "PATCH", "/api/doc/c", `{"file":null}`)
	e.age(t, 2*fileGracePeriod, kept)
	e.mustUpload(t, "doc", "a", []byte("the file of c"))
	if st := e.sweep(t); st.removed != 0 {
		t.Errorf("sweep after the same bytes came again: %+v", st)
	}
	if r := e.do(t, "GET", "/files/doc/a/"+kept, "", nil); r.status != 200 {
		t.Errorf("re-uploaded file: %d", r.status)
	}
}

// TestSweepInRounds checks that a sweep bounded to a few files examines
// the next ones each time, so that every file is examined in turn.
func TestSweepInRounds(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{}, "", nil)
	e.up.gc.maxFiles = 3
	var sums []string
	for i := range 8 {
		sum := strings.Repeat(string("0123456789abcdef"[i]), 64)
		sums = append(sums, sum)
		if err := os.WriteFile(filepath.Join(e.filesDir(), sum), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.doJSON(t, "POST", "/api/doc", `{"id":"d","file":{"url":"/files/doc/d/`+sums[4]+`"}}`)
	e.age(t, 2*fileGracePeriod, sums...)
	var examined int
	for round := 0; ; round++ {
		st := e.sweep(t)
		examined += st.examined
		if st.examined > 3 {
			t.Fatalf("sweep %d examined %d files, the bound is 3", round, st.examined)
		}
		if !st.more {
			break
		}
		if round > 3 {
			t.Fatal("the sweeps never end a round")
		}
	}
	if examined != 8 {
		t.Errorf("a round examined %d files, want 8", examined)
	}
	if got := e.stored(t); !slices.Equal(got, sums[4:5]) {
		t.Errorf("after a round: %v, want only the named one", got)
	}
}

// TestFileStoreFailedPatch checks what an upload whose patch failed
// leaves: nothing, unless another upload holds the same bytes.
func TestFileStoreFailedPatch(t *testing.T) {
	t.Parallel()
	disk := newDiskFiles(t.TempDir())
	s := newFileStore(disk)
	ctx := context.Background()
	for _, d := range []string{disk.dir, disk.tmpDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	received := func(data string) string {
		t.Helper()
		f, err := os.CreateTemp(disk.tmpDir, "upload-*")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(data)
		f.Close()
		return f.Name()
	}
	sum := strings.Repeat("ab", 32)
	exists := func() bool {
		_, err := os.Stat(filepath.Join(disk.dir, sum))
		return err == nil
	}

	created, err := s.commit(ctx, received("x"), sum, "text/plain", false)
	if err != nil || !created {
		t.Fatalf("commit: %v %v", created, err)
	}
	s.release(ctx, sum, created, false)
	if exists() {
		t.Error("a failed upload's new file stayed")
	}

	// Two uploads of the same bytes: the one that created the file fails
	// after the other succeeded.
	first, err := s.commit(ctx, received("x"), sum, "text/plain", false)
	if err != nil || !first {
		t.Fatal(first, err)
	}
	second, err := s.commit(ctx, received("x"), sum, "text/plain", false)
	if err != nil || second {
		t.Fatal(second, err)
	}
	s.release(ctx, sum, second, true)
	s.release(ctx, sum, first, false)
	if !exists() {
		t.Error("a file another upload's document names was removed")
	}
	if len(s.inflight) != 0 {
		t.Errorf("in flight after the uploads: %v", s.inflight)
	}
	if got := uploadDirFiles(t, disk.tmpDir); len(got) != 0 {
		t.Errorf("tmp: %v", got)
	}
	// A file in flight is never collected, however old.
	if _, err := s.commit(ctx, received("x"), sum, "text/plain", false); err != nil {
		t.Fatal(err)
	}
	if _, removed, err := s.collect(ctx, sum, time.Now().Add(time.Hour)); err != nil || removed {
		t.Errorf("collect of a file in flight: %v %v", removed, err)
	}
	s.release(ctx, sum, false, true)
	if _, removed, err := s.collect(ctx, sum, time.Now().Add(time.Hour)); err != nil || !removed {
		t.Errorf("collect after the upload: %v %v", removed, err)
	}
}

// TestUploadToGoHandlerPinned checks that the files of a type a Go
// handler serves, whose documents the sweep cannot see, are never swept.
func TestUploadToGoHandlerPinned(t *testing.T) {
	t.Parallel()
	reg := models.NewRegistry()
	var file any
	err := reg.Register("photo", models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		if req.Method == models.Patch {
			file, _ = req.Props.Get("file")
		}
		return models.Props{{Key: "id", Value: []byte(req.ID)}, {Key: "file", Value: file}}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	e := newFilesEnv(t, Config{}, "", reg)
	sum := e.mustUpload(t, "photo", "p", []byte("a photo"))
	if _, err := os.Stat(filepath.Join(e.filesDir(), sum+keepSuffix)); err != nil {
		t.Fatalf("no pin: %v", err)
	}
	e.age(t, 2*fileGracePeriod, sum)
	if st := e.sweep(t); st.removed != 0 {
		t.Errorf("sweep removed a Go handler's file: %+v", st)
	}
	if r := e.do(t, "GET", "/files/photo/p/"+sum, "", nil); r.status != 200 {
		t.Errorf("download from the Go handler's document: %d %s", r.status, r.body)
	}
}

func TestUploadQuotaLedger(t *testing.T) {
	t.Parallel()
	q := newUploadQuota(1000)
	doc := docKey{"doc", "d"}
	t0 := time.Now()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * quotaStep) }
	// Uploads far apart in time take an entry each, up to the bound.
	for i := range maxQuotaEntries + 4 {
		if err := q.reserve(doc, 10, at(i)); err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
	}
	if l := q.docs[doc]; len(l) != maxQuotaEntries {
		t.Fatalf("%d entries, the bound is %d", len(l), maxQuotaEntries)
	}
	if err := q.reserve(doc, 1000-200+1, at(30)); err == nil {
		t.Fatal("a reservation past the quota passed")
	}
	// Merging kept every byte, under the later time: the five oldest
	// uploads now count as made at the fifth's time.
	counted := func() (n int64) {
		for _, e := range q.docs[doc] {
			n += e.n
		}
		return n
	}
	q.prune(at(4))
	if n := counted(); n != 200 {
		t.Errorf("%d bytes counted after forgetting what came before the fifth upload, want all 200", n)
	}
	q.prune(at(5))
	n := counted()
	if n != 150 {
		t.Errorf("%d bytes counted after forgetting the first five uploads, want 150", n)
	}
	// A release takes from the oldest; releasing all forgets the document.
	q.release(doc, n)
	if _, ok := q.docs[doc]; ok {
		t.Errorf("ledger after releasing everything: %v", q.docs[doc])
	}
	// Uploads close in time share an entry.
	q.reserve(doc, 1, t0)
	q.reserve(doc, 1, t0.Add(quotaStep/2))
	if l := q.docs[doc]; len(l) != 1 || l[0].n != 2 || !l[0].at.Equal(t0.Add(quotaStep/2)) {
		t.Errorf("close uploads: %v", l)
	}
	// No quota, no ledger.
	none := newUploadQuota(-1)
	if err := none.reserve(doc, 1<<40, t0); err != nil || len(none.docs) != 0 {
		t.Errorf("no quota: %v %v", err, none.docs)
	}
}

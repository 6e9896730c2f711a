package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/models/jsonterm"
)

// uploadBody builds what the seed's FormData upload sends: a "file"
// part (with ctype, if not empty) and optional extra fields.
func uploadBody(t *testing.T, name, ctype string, data []byte, fields ...string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func uploadBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// uploadDirFiles lists the names in dir.
func uploadDirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestUploadAndDownload(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	tr := restSubscribe(t, e.sys, "character")
	r := e.doJSON(t, "POST", "/api/character", `{"id":"ann","name":"Ann"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	tr.next(t, false) // the created push

	data := uploadBytes(300_000, 1)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	ctype, body := uploadBody(t, "photo.jpg", "image/jpeg", data, "note", "ignored")
	r = e.do(t, "PUT", "/api/character/ann", ctype, body)
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	file, _ := r.object(t)["file"].(map[string]any)
	wantURL := "/files/" + hexSum
	if file["name"] != "photo.jpg" || file["size"] != float64(len(data)) || file["type"] != "image/jpeg" || file["url"] != wantURL {
		t.Fatalf("upload reply %s", r.body)
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "tmp")); len(got) != 0 {
		t.Errorf("temp files left: %v", got)
	}

	// Subscribers hear of the new attribute, and reads show it.
	p := restPushProps(t, tr.next(t, false), "updated", "character")
	fv, ok := p.Get("file")
	if !ok {
		t.Fatalf("updated push without file: %#v", p)
	}
	fj, err := jsonterm.Append(nil, fv)
	if err != nil {
		t.Fatal(err)
	}
	wantFile := fmt.Sprintf(`{"name":"photo.jpg","size":%d,"type":"image/jpeg","url":"%s"}`, len(data), wantURL)
	if string(fj) != wantFile {
		t.Errorf("pushed file attribute %s, want %s", fj, wantFile)
	}
	r = e.do(t, "GET", "/api/character/ann", "", nil)
	if m := r.object(t); m["name"] != "Ann" || !bytes.Contains(r.body, []byte(wantFile)) {
		t.Errorf("model after upload: %s", r.body)
	}

	// The whole file.
	r = e.do(t, "GET", wantURL, "", nil)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	if r.header.Get("Content-Type") != "image/jpeg" || r.header.Get("Content-Length") != fmt.Sprint(len(data)) ||
		r.header.Get("ETag") != `"`+hexSum+`"` || r.header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("download headers %v", r.header)
	}

	// A range.
	r = e.do(t, "GET", wantURL, "", nil, "Range", "bytes=1000-1999")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, data[1000:2000]) {
		t.Fatalf("range: %d, %d bytes", r.status, len(r.body))
	}
	if cr := r.header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(data)) {
		t.Errorf("Content-Range %q", cr)
	}
	r = e.do(t, "GET", wantURL, "", nil, "Range", fmt.Sprintf("bytes=%d-", len(data)+10))
	if r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range: %d", r.status)
	}
	// Revalidation.
	r = e.do(t, "GET", wantURL, "", nil, "If-None-Match", `"`+hexSum+`"`)
	if r.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.status)
	}
	r = e.do(t, "HEAD", wantURL, "", nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Errorf("HEAD: %d %v", r.status, r.header)
	}

	// The same bytes again, to another model and without a type: stored
	// once, the first type stays.
	e.doJSON(t, "POST", "/api/character", `{"id":"bea"}`)
	ctype, body = uploadBody(t, `C:\Users\bea\photo copy.jpg`, "", data)
	r = e.do(t, "PUT", "/api/character/bea", ctype, body)
	if r.status != 200 {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}
	file, _ = r.object(t)["file"].(map[string]any)
	if file["url"] != wantURL || file["name"] != "photo copy.jpg" || file["type"] != "application/octet-stream" {
		t.Errorf("second upload reply %s", r.body)
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "files")); len(got) != 2 {
		t.Errorf("files stored: %v, want the file and its type", got)
	}
	if r := e.do(t, "GET", wantURL, "", nil); r.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("type after second upload: %q", r.header.Get("Content-Type"))
	}
}

func TestUploadSniffsType(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	png := append([]byte("\x89PNG\r\n\x1a\n"), uploadBytes(100, 2)...)
	ctype, body := uploadBody(t, "x.bin", "application/octet-stream", png)
	r := e.do(t, "PUT", "/api/doc/d", ctype, body)
	file, _ := r.object(t)["file"].(map[string]any)
	if r.status != 200 || file["type"] != "image/png" {
		t.Fatalf("sniffed upload: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", file["url"].(string), "", nil)
	if r.header.Get("Content-Type") != "image/png" || r.header.Get("Content-Security-Policy") != "sandbox" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("download headers %v", r.header)
	}

	// HTML is stored as sent, but served sandboxed.
	ctype, body = uploadBody(t, "x.html", "text/html", []byte("<script>alert(1)</script>"))
	r = e.do(t, "PUT", "/api/doc/d", ctype, body)
	file, _ = r.object(t)["file"].(map[string]any)
	r = e.do(t, "GET", file["url"].(string), "", nil)
	if r.header.Get("Content-Type") != "text/html" || r.header.Get("Content-Security-Policy") != "sandbox" {
		t.Errorf("html download headers %v", r.header)
	}
}

func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{MaxUploadSize: 4096}, nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)

	ctype, body := uploadBody(t, "ok.bin", "", uploadBytes(4096, 3))
	if r := e.do(t, "PUT", "/api/doc/d", ctype, body); r.status != 200 {
		t.Fatalf("upload at the limit: %d %s", r.status, r.body)
	}
	for _, n := range []int{4097, 64 << 10, 3 << 20} {
		ctype, body := uploadBody(t, "big.bin", "", uploadBytes(n, uint64(n)))
		r := e.do(t, "PUT", "/api/doc/d", ctype, body)
		if r.status != http.StatusRequestEntityTooLarge || r.errorCode(t) != "too_large" {
			t.Errorf("upload of %d bytes: %d %s, want 413", n, r.status, r.body)
		}
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "tmp")); len(got) != 0 {
		t.Errorf("temp files left: %v", got)
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "files")); len(got) != 2 {
		t.Errorf("files stored: %v, want only the one at the limit and its type", got)
	}
	// The model still points at the file that fitted.
	r := e.do(t, "GET", "/api/doc/d", "", nil)
	if !bytes.Contains(r.body, []byte(`"name":"ok.bin"`)) {
		t.Errorf("model after failed uploads: %s", r.body)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("other", "x")
	mw.Close()
	r := e.do(t, "PUT", "/api/doc/d", mw.FormDataContentType(), &buf)
	if r.status != 400 || r.errorCode(t) != "bad_request" {
		t.Errorf("no file part: %d %s", r.status, r.body)
	}

	r = e.do(t, "PUT", "/api/doc/d", "multipart/form-data; boundary=xyz", strings.NewReader("--xyz\r\nbroken"))
	if r.status != 400 {
		t.Errorf("broken multipart: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/api/doc/d", "multipart/form-data", strings.NewReader("x"))
	if r.status != 400 {
		t.Errorf("multipart without boundary: %d %s", r.status, r.body)
	}

	ctype, body := uploadBody(t, "a.txt", "text/plain", []byte("hello"))
	r = e.do(t, "POST", "/api/doc", ctype, body)
	if r.status != 400 {
		t.Errorf("multipart create: %d %s", r.status, r.body)
	}

	ctype, body = uploadBody(t, "a.txt", "text/plain", []byte("hello"))
	r = e.do(t, "PUT", "/api/doc/nobody", ctype, body)
	if r.status != 404 || r.errorCode(t) != "not_found" {
		t.Errorf("upload to a missing model: %d %s", r.status, r.body)
	}

	// emulateHTTP uploads work like PUT.
	ctype, body = uploadBody(t, "a.txt", "text/plain", []byte("hello"))
	r = e.do(t, "POST", "/api/doc/d", ctype, body, "X-HTTP-Method-Override", "PUT")
	if r.status != 200 {
		t.Errorf("emulated PUT upload: %d %s", r.status, r.body)
	}

	off := newRESTEnv(t, Config{DataDir: "-"}, nil)
	off.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	ctype, body = uploadBody(t, "a.txt", "text/plain", []byte("hello"))
	r = off.do(t, "PUT", "/api/doc/d", ctype, body)
	if r.status != 503 || r.errorCode(t) != "unavailable" {
		t.Errorf("upload without a data directory: %d %s", r.status, r.body)
	}
}

func TestFilesRejects(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	sum := strings.Repeat("ab", 32)
	// A file and its sidecar on disk, to make sure tricks cannot reach
	// them by other names.
	os.WriteFile(filepath.Join(e.dataDir, "files", sum), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(e.dataDir, "files", sum+".type"), []byte("text/plain\n"), 0o644)
	if r := e.do(t, "GET", "/files/"+sum, "", nil); r.status != 200 || string(r.body) != "x" {
		t.Fatalf("control: %d %q", r.status, r.body)
	}
	for _, p := range []string{
		"/files/" + strings.ToUpper(sum),
		"/files/" + sum + ".type",
		"/files/" + sum[:63],
		"/files/" + sum + "/",
		"/files/%2e%2e%2ftmp",
		"/files/..%2f..%2fbertsync.db",
		"/files/",
		"/files/" + strings.Repeat("cd", 32),
	} {
		r := e.do(t, "GET", p, "", nil)
		if r.status != 404 {
			t.Errorf("GET %s = %d %q, want 404", p, r.status, r.body)
		}
	}
	if r := e.do(t, "DELETE", "/files/"+sum, "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE a file: %d", r.status)
	}
	// With no data directory, nothing is served.
	off := newRESTEnv(t, Config{DataDir: "-"}, nil)
	if r := off.do(t, "GET", "/files/"+sum, "", nil); r.status != 404 {
		t.Errorf("no data dir: %d", r.status)
	}
}

// TestStaticMounted checks the browser files through the whole server.
func TestStaticMounted(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	r := e.do(t, "GET", "/bertsync.js", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/javascript; charset=utf-8" || len(r.body) == 0 {
		t.Errorf("/bertsync.js: %d %v", r.status, r.header)
	}
	r = e.do(t, "GET", "/", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("/: %d %v", r.status, r.header)
	}
	if r := e.do(t, "GET", "/no/such/file", "", nil); r.status != 404 {
		t.Errorf("unknown path: %d", r.status)
	}
}

// TestUploadStorageFailure checks that a failing disk is a 500 with no
// detail for the client and leaves no temporary file.
func TestUploadStorageFailure(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	files := filepath.Join(e.dataDir, "files")
	if err := os.Remove(files); err != nil {
		t.Fatal(err)
	}
	// A regular file where the files directory should be: every rename
	// into it fails.
	if err := os.WriteFile(files, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctype, body := uploadBody(t, "a.txt", "text/plain", []byte("hello"))
	r := e.do(t, "PUT", "/api/doc/d", ctype, body)
	if r.status != 500 || r.errorCode(t) != "internal" || bytes.Contains(r.body, []byte(e.dataDir)) {
		t.Errorf("upload onto a broken disk: %d %s", r.status, r.body)
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "tmp")); len(got) != 0 {
		t.Errorf("temp files left: %v", got)
	}
	if r := e.do(t, "GET", "/api/doc/d", "", nil); bytes.Contains(r.body, []byte("file")) {
		t.Errorf("model changed by a failed upload: %s", r.body)
	}
}

func TestUploaderRemovesLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"upload-123", "type-456", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newUploader(dir, 0, nil); err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Name() != "keep.txt" {
		t.Fatalf("left in tmp: %v, want only keep.txt", left)
	}
}

package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bertsync/bertsync/models"
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
	wantURL := "/files/character/ann/" + hexSum
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
	beaURL := "/files/character/bea/" + hexSum
	if file["url"] != beaURL || file["name"] != "photo copy.jpg" || file["type"] != "application/octet-stream" {
		t.Errorf("second upload reply %s", r.body)
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "files")); len(got) != 2 {
		t.Errorf("files stored: %v, want the file and its type", got)
	}
	for _, u := range []string{wantURL, beaURL} {
		if r := e.do(t, "GET", u, "", nil); r.status != 200 || r.header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("GET %s after second upload: %d, type %q", u, r.status, r.header.Get("Content-Type"))
		}
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
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "files")); len(got) != 0 {
		t.Errorf("files stored by failed uploads: %v", got)
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
	// A file and its sidecar on disk, named by a document, to make sure
	// tricks cannot reach them by other names.
	os.WriteFile(filepath.Join(e.dataDir, "files", sum), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(e.dataDir, "files", sum+".type"), []byte("text/plain\n"), 0o644)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d/1","file":{"url":"/files/doc/d%2F1/`+sum+`"}}`)
	e.doJSON(t, "POST", "/api/doc", `{"id":"other"}`)
	good := "/files/doc/d%2F1/" + sum
	if r := e.do(t, "GET", good, "", nil); r.status != 200 || string(r.body) != "x" {
		t.Fatalf("control: %d %q", r.status, r.body)
	}
	for _, p := range []string{
		"/files/" + sum, // the form of older servers: names no document
		"/files/doc/d%2F1/" + strings.ToUpper(sum),
		"/files/doc/d%2F1/" + sum + ".type",
		"/files/doc/d%2F1/" + sum[:63],
		"/files/doc/d%2F1/" + sum + "/",
		"/files/doc/d/1/" + sum,
		"/files/doc/other/" + sum,   // a document that does not hold it
		"/files/doc/nobody/" + sum,  // no such document
		"/files/nodoc/d%2F1/" + sum, // no such type
		"/files/doc//" + sum,
		"/files/%2e%2e%2ftmp",
		"/files/doc/d%2F1/..%2f..%2fbertsync.db",
		"/files/",
		"/files/doc/d%2F1/" + strings.Repeat("cd", 32),
	} {
		r := e.do(t, "GET", p, "", nil)
		if r.status != 404 {
			t.Errorf("GET %s = %d %q, want 404", p, r.status, r.body)
		}
	}
	if r := e.do(t, "DELETE", good, "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE a file: %d", r.status)
	}
	// A document that drops its file stops serving it.
	e.doJSON(t, "PATCH", "/api/doc/d%2F1", `{"file":null}`)
	if r := e.do(t, "GET", good, "", nil); r.status != 404 {
		t.Errorf("file of a document that dropped it: %d", r.status)
	}
	// With no data directory, nothing is served.
	off := newRESTEnv(t, Config{DataDir: "-"}, nil)
	off.doJSON(t, "POST", "/api/doc", `{"id":"d/1","file":{"url":"/files/doc/d%2F1/`+sum+`"}}`)
	if r := off.do(t, "GET", good, "", nil); r.status != 404 {
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
	if _, err := newUploader(uploaderConfig{DataDir: dir}); err != nil {
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

// The rules of the files tests: notes are their owners' alone; posts are
// read by anyone and changed by their owners; locked documents are read
// by anyone and patched by no one.
const filesRules = `{
  "note":   {"create": "authenticated", "read": "owner", "patch": "owner", "delete": "owner"},
  "post":   {"create": "authenticated", "read": "public", "patch": "owner"},
  "locked": {"create": "authenticated", "read": "public", "patch": "none"}
}`

// checkNothingStored fails if the files or tmp directory holds anything.
func checkNothingStored(t *testing.T, e *filesEnv, what string) {
	t.Helper()
	for _, dir := range []string{"files", "tmp"} {
		if got := uploadDirFiles(t, filepath.Join(e.dataDir, dir)); len(got) != 0 {
			t.Errorf("%s: %s holds %v", what, dir, got)
		}
	}
}

// countingReader serves n bytes of a multipart upload and counts what
// was read of them.
type countingReader struct {
	head, tail []byte
	left       int64 // file bytes still to serve
	read       atomic.Int64
}

func newCountingUpload(n int64) (ctype string, r *countingReader) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.CreateFormFile("file", "big.bin")
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	return mw.FormDataContentType(), &countingReader{head: head.Bytes(), tail: []byte(tail), left: n}
}

func (c *countingReader) Read(p []byte) (int, error) {
	var n int
	switch {
	case len(c.head) > 0:
		n = copy(p, c.head)
		c.head = c.head[n:]
	case c.left > 0:
		n = int(min(int64(len(p)), c.left))
		clear(p[:n])
		c.left -= int64(n)
	case len(c.tail) > 0:
		n = copy(p, c.tail)
		c.tail = c.tail[n:]
	default:
		return 0, io.EOF
	}
	c.read.Add(int64(n))
	return n, nil
}

// refusedUploadSize is the size of the uploads tests expect refused
// before their body is read: far more than the kernel buffers between
// client and server, so that a server that read the body would have
// read most of it.
const refusedUploadSize = 32 << 20

// sendRefused uploads refusedUploadSize bytes to model/id, checks that
// the server answered before reading most of them, and returns the
// status (0 if the client saw the connection close first).
func sendRefused(t *testing.T, e *filesEnv, model, id string, hdr ...string) int {
	t.Helper()
	ctype, body := newCountingUpload(refusedUploadSize)
	req, err := http.NewRequest("PUT", e.srv.URL+"/api/"+model+"/"+id, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	status := 0
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		// The server may close the connection while the client still
		// writes the body it refused.
		t.Logf("refused upload to %s/%s: %v", model, id, err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	if n := body.read.Load(); n >= refusedUploadSize/2 {
		t.Errorf("upload to %s/%s: the server read %d bytes of a body it refused", model, id, n)
	}
	return status
}

// TestUploadToMissingDocumentStoresNothing is issue #8's finding: an
// upload to an id that does not exist is refused before its body is read,
// and nothing of it is stored.
func TestUploadToMissingDocumentStoresNothing(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{MaxUploadSize: 2 * refusedUploadSize}, "", nil)
	for range 3 {
		if s := sendRefused(t, e, "doc", "nobody"); s != 404 && s != 0 {
			t.Errorf("upload to a missing document: %d", s)
		}
	}
	checkNothingStored(t, e, "uploads to a missing document")
}

func TestUploadObeysRules(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{MaxUploadSize: 2 * refusedUploadSize}, filesRules, nil)
	ann, bea := e.bearer(t, "ann"), e.bearer(t, "bea")
	for _, model := range []string{"note", "post", "locked"} {
		if r := e.doJSON(t, "POST", "/api/"+model, `{"id":"a"}`, ann...); r.status != 201 {
			t.Fatalf("create %s: %d %s", model, r.status, r.body)
		}
	}
	data := []byte("a file")
	for _, tc := range []struct {
		what, model, id string
		hdr             []string
		status          int
	}{
		{"anonymous", "note", "a", nil, 401},
		{"a bad token", "note", "a", []string{"Authorization", "Bearer nonsense"}, 401},
		{"another owner's note", "note", "a", bea, 404},
		{"another owner's post, readable", "post", "a", bea, 404},
		{"a type no one patches", "locked", "a", ann, 403},
		{"a missing note", "note", "nobody", ann, 404},
	} {
		r := e.upload(t, tc.model, tc.id, data, tc.hdr...)
		if r.status != tc.status {
			t.Errorf("upload to %s: %d %s, want %d", tc.what, r.status, r.body, tc.status)
		}
		// Refused before the body is read.
		if s := sendRefused(t, e, tc.model, tc.id, tc.hdr...); s != tc.status && s != 0 {
			t.Errorf("large upload to %s: %d, want %d", tc.what, s, tc.status)
		}
		checkNothingStored(t, e, "upload to "+tc.what)
	}
	// The owner may.
	sum := e.mustUpload(t, "post", "a", data, ann...)
	r := e.do(t, "GET", "/api/post/a", "", nil)
	if !bytes.Contains(r.body, []byte(`"url":"/files/post/a/`+sum+`"`)) || !bytes.Contains(r.body, []byte(`"owner":"ann"`)) {
		t.Errorf("post after the owner's upload: %s", r.body)
	}
}

func TestDownloadObeysRules(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{}, filesRules, nil)
	ann := e.bearer(t, "ann")
	e.doJSON(t, "POST", "/api/note", `{"id":"n"}`, ann...)
	e.doJSON(t, "POST", "/api/post", `{"id":"p"}`, ann...)
	data := []byte("ann's secret")
	sum := e.mustUpload(t, "note", "n", data, ann...)
	note := "/files/note/n/" + sum
	for _, tc := range []struct {
		what   string
		path   string
		hdr    []string
		status int
	}{
		{"the owner, Bearer", note, ann, 200},
		{"the owner, token in the query", note + "?token=" + e.token(t, "ann"), nil, 200},
		{"the owner, cookie", note, []string{"Cookie", "bertsync_token=" + e.token(t, "ann")}, 200},
		{"another owner", note, e.bearer(t, "bea"), 404},
		{"another owner, token in the query", note + "?token=" + e.token(t, "bea"), nil, 404},
		{"anonymous", note, nil, 401},
		{"a bad token in the query", note + "?token=nonsense", nil, 401},
		// A readable document that does not hold the file serves
		// nothing, though the hash is right.
		{"a public post without it", "/files/post/p/" + sum, nil, 404},
	} {
		r := e.do(t, "GET", tc.path, "", nil, tc.hdr...)
		if r.status != tc.status {
			t.Errorf("download by %s: %d %s, want %d", tc.what, r.status, r.body, tc.status)
			continue
		}
		if tc.status == 200 {
			if !bytes.Equal(r.body, data) || r.header.Get("Cache-Control") != "private, max-age=31536000, immutable" ||
				r.header.Get("Content-Security-Policy") != "sandbox" || r.header.Get("ETag") != `"`+sum+`"` {
				t.Errorf("download by %s: %q %v", tc.what, r.body, r.header)
			}
		}
	}
	// A range and a revalidation go through the same check.
	r := e.do(t, "GET", note, "", nil, append(ann, "Range", "bytes=0-2")...)
	if r.status != http.StatusPartialContent || string(r.body) != "ann" {
		t.Errorf("range by the owner: %d %q", r.status, r.body)
	}
	r = e.do(t, "GET", note, "", nil, append(e.bearer(t, "bea"), "If-None-Match", `"`+sum+`"`)...)
	if r.status != 404 {
		t.Errorf("revalidation by another owner: %d", r.status)
	}
}

func TestUploadQuota(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{MaxUploadSize: 8000, UploadQuota: 10_000}, "", nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	e.doJSON(t, "POST", "/api/doc", `{"id":"other"}`)
	e.mustUpload(t, "doc", "d", uploadBytes(6000, 1))
	e.mustUpload(t, "doc", "d", uploadBytes(3000, 2))
	before := e.stored(t)
	r := e.upload(t, "doc", "d", uploadBytes(2000, 3))
	if r.status != http.StatusRequestEntityTooLarge || r.errorCode(t) != "too_large" || !bytes.Contains(r.body, []byte("quota")) {
		t.Fatalf("upload past the quota: %d %s", r.status, r.body)
	}
	if got := e.stored(t); !slices.Equal(got, before) {
		t.Errorf("stored after the refused upload: %v, want %v", got, before)
	}
	if got := uploadDirFiles(t, filepath.Join(e.dataDir, "tmp")); len(got) != 0 {
		t.Errorf("tmp after the refused upload: %v", got)
	}
	// The refused upload's bytes were given back: the quota is used to
	// the byte.
	e.mustUpload(t, "doc", "d", uploadBytes(1000, 4))
	if r := e.upload(t, "doc", "d", []byte("x")); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("one byte past the quota: %d %s", r.status, r.body)
	}
	// Other documents have their own.
	e.mustUpload(t, "doc", "other", uploadBytes(6000, 5))

	// A sweep within the grace period of the uploads leaves them
	// counted: their files are not examined yet.
	e.sweep(t)
	if r := e.upload(t, "doc", "d", []byte("x")); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("after a sweep that could not take the files: %d %s", r.status, r.body)
	}
	// Once a sweep has examined them, the replaced files are gone and the
	// quota is free again.
	if _, err := e.up.gc.sweep(context.Background(), time.Now().Add(2*fileGracePeriod)); err != nil {
		t.Fatal(err)
	}
	e.mustUpload(t, "doc", "d", uploadBytes(6000, 6))
}

// TestUploadQuotaConcurrent checks that uploads to one document at once
// cannot pass its quota together.
func TestUploadQuotaConcurrent(t *testing.T) {
	t.Parallel()
	e := newFilesEnv(t, Config{MaxUploadSize: 100_000, UploadQuota: 250_000}, "", nil)
	e.doJSON(t, "POST", "/api/doc", `{"id":"d"}`)
	const n = 8
	statuses := make(chan int, n)
	for i := range n {
		ctype, body := uploadBody(t, "f.bin", "", uploadBytes(100_000, uint64(10+i)))
		go func() {
			req, _ := http.NewRequest("PUT", e.srv.URL+"/api/doc/d", body)
			req.Header.Set("Content-Type", ctype)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	ok := 0
	for range n {
		switch s := <-statuses; s {
		case 200:
			ok++
		case http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("concurrent upload: %d", s)
		}
	}
	if ok != 2 {
		t.Errorf("%d uploads of 100,000 bytes passed a quota of 250,000, want 2", ok)
	}
	if got := len(e.stored(t)); got != 2 {
		t.Errorf("%d files stored, want 2", got)
	}
}

// guardedPhotos is a Go handler whose Guard lets anyone read and no one
// patch.
type guardedPhotos struct{}

func (guardedPhotos) Sync(_ context.Context, req models.Request) (any, error) {
	return models.Props{{Key: "id", Value: []byte(req.ID)}}, nil
}

func (guardedPhotos) Allow(_ context.Context, req models.Request) error {
	if req.Method == models.Patch {
		return models.Errorf(models.CodeForbidden, "photos are read-only")
	}
	return nil
}

// TestUploadPatchRefusedAfterStoring checks that an upload whose patch a
// Guard refuses, which only the patch can tell, leaves nothing behind.
func TestUploadPatchRefusedAfterStoring(t *testing.T) {
	t.Parallel()
	reg := models.NewRegistry()
	if err := reg.Register("photo", guardedPhotos{}); err != nil {
		t.Fatal(err)
	}
	e := newFilesEnv(t, Config{}, "", reg)
	r := e.upload(t, "photo", "p", []byte("a photo"))
	if r.status != 403 || r.errorCode(t) != "forbidden" {
		t.Fatalf("upload refused by the Guard: %d %s", r.status, r.body)
	}
	checkNothingStored(t, e, "an upload whose patch was refused")
	// Its bytes were given back to the quota.
	e.up.quota.mu.Lock()
	defer e.up.quota.mu.Unlock()
	if l, ok := e.up.quota.docs[docKey{"photo", "p"}]; ok {
		t.Errorf("the refused upload still counts: %v", l)
	}
}

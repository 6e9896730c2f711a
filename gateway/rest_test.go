package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
	"github.com/bertsync/bertsync/models/jsonterm"
)

// restEnv is a whole server on a temporary directory: a bbolt store, the
// document model, an actor system and the gateway behind httptest.
type restEnv struct {
	srv     *httptest.Server
	sys     *actors.System
	dataDir string
}

// newRESTEnv starts a server. allow limits the document model's types
// (nil: any). cfg.DataDir "-" means no data directory.
func newRESTEnv(t *testing.T, cfg Config, allow []string) *restEnv {
	t.Helper()
	dir := t.TempDir()
	store, err := models.OpenStore(filepath.Join(dir, "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.DiscardHandler)
	sys, err := actors.NewSystem(context.Background(), actors.Config{
		Documents: models.NewDocuments(store, allow),
		Logger:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sys.Shutdown(ctx)
	})
	switch cfg.DataDir {
	case "":
		cfg.DataDir = filepath.Join(dir, "data")
	case "-":
		cfg.DataDir = ""
	}
	cfg.Logger = log
	gw, err := New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &restEnv{srv: srv, sys: sys, dataDir: cfg.DataDir}
}

type restResult struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as a client would.
func (r restResult) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response body %q is not JSON: %v", r.body, err)
	}
	return v
}

func (r restResult) object(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("response body %s is not an object", r.body)
	}
	return m
}

// errorCode returns the code of a {"error": {...}} body.
func (r restResult) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: body %q is not a JSON error (%v)", r.status, r.body, err)
	}
	return e.Error.Code
}

func (e *restEnv) do(t *testing.T, method, path, ctype string, body io.Reader, hdr ...string) restResult {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return restResult{status: resp.StatusCode, header: resp.Header, body: data}
}

func (e *restEnv) doJSON(t *testing.T, method, path, body string, hdr ...string) restResult {
	t.Helper()
	return e.do(t, method, path, "application/json", strings.NewReader(body), hdr...)
}

func restID(t *testing.T, m map[string]any) string {
	t.Helper()
	switch id := m["id"].(type) {
	case string:
		return id
	case float64:
		return fmt.Sprint(int64(id))
	}
	t.Fatalf("no id in %v", m)
	return ""
}

func TestRESTCRUD(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)

	r := e.doJSON(t, "POST", "/api/character", `{"name":"Ann","n":1,"tags":["a"],"alive":true,"pet":null}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("create: Content-Type %q", ct)
	}
	ann := r.object(t)
	id := restID(t, ann)
	if ann["name"] != "Ann" || ann["n"] != 1.0 || ann["alive"] != true || ann["pet"] != nil {
		t.Errorf("create reply %s", r.body)
	}
	if tags, _ := ann["tags"].([]any); len(tags) != 1 || tags[0] != "a" {
		t.Errorf("create reply tags: %s", r.body)
	}

	r = e.doJSON(t, "POST", "/api/character", `{"name":"Bea","n":2}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create 2: %d %s", r.status, r.body)
	}
	bea := restID(t, r.object(t))

	r = e.do(t, "GET", "/api/character/"+url.PathEscape(id), "", nil)
	if r.status != 200 || r.object(t)["name"] != "Ann" {
		t.Fatalf("read: %d %s", r.status, r.body)
	}

	r = e.do(t, "GET", "/api/character?_=12345", "", nil)
	list, ok := r.json(t).([]any)
	if r.status != 200 || !ok || len(list) != 2 {
		t.Fatalf("read collection: %d %s", r.status, r.body)
	}

	// Paging: limit and offset reach the document model as integers.
	r = e.do(t, "GET", "/api/character?limit=1&offset=1", "", nil)
	if list, ok := r.json(t).([]any); r.status != 200 || !ok || len(list) != 1 || list[0].(map[string]any)["name"] != "Bea" {
		t.Fatalf("read page: %d %s", r.status, r.body)
	}

	// The id of the path wins over the body's.
	r = e.doJSON(t, "PUT", "/api/character/"+url.PathEscape(id), `{"id":"someone-else","name":"Ann B","n":5}`)
	if r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if m := r.object(t); restID(t, m) != id || m["name"] != "Ann B" || m["n"] != 5.0 {
		t.Errorf("update reply %s", r.body)
	}
	if r := e.do(t, "GET", "/api/character/someone-else", "", nil); r.status != 404 {
		t.Errorf("update wrote to the body's id: %d %s", r.status, r.body)
	}

	r = e.doJSON(t, "PATCH", "/api/character/"+url.PathEscape(id), `{"n":6}`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/api/character/"+url.PathEscape(id), "", nil)
	if m := r.object(t); m["name"] != "Ann B" || m["n"] != 6.0 {
		t.Errorf("after patch: %s", r.body)
	}

	r = e.do(t, "DELETE", "/api/character/"+url.PathEscape(bea), "", nil)
	if r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/api/character/"+url.PathEscape(bea), "", nil)
	if r.status != 404 || r.errorCode(t) != "not_found" {
		t.Errorf("read deleted: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/api/character", "", nil)
	if list, _ := r.json(t).([]any); len(list) != 1 {
		t.Errorf("collection after delete: %s", r.body)
	}
}

func TestRESTEmulateHTTP(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	id := restID(t, e.doJSON(t, "POST", "/api/item", `{"v":1}`).object(t))
	path := "/api/item/" + url.PathEscape(id)

	r := e.doJSON(t, "POST", path, `{"v":2,"w":true}`, "X-HTTP-Method-Override", "PUT")
	if r.status != 200 || r.object(t)["v"] != 2.0 {
		t.Fatalf("emulated PUT: %d %s", r.status, r.body)
	}
	r = e.doJSON(t, "POST", path, `{"v":3}`, "X-HTTP-Method-Override", "patch")
	if m := r.object(t); r.status != 200 || m["v"] != 3.0 {
		t.Fatalf("emulated PATCH: %d %s", r.status, r.body)
	}
	if m := e.do(t, "GET", path, "", nil).object(t); m["w"] != true || m["v"] != 3.0 {
		t.Errorf("after emulated PATCH: %v", m)
	}
	r = e.do(t, "POST", path, "", nil, "X-HTTP-Method-Override", "DELETE")
	if r.status != 200 {
		t.Fatalf("emulated DELETE: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", path, "", nil); r.status != 404 {
		t.Errorf("after emulated DELETE: %d %s", r.status, r.body)
	}
}

func TestRESTEmulateJSON(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	const form = "application/x-www-form-urlencoded; charset=UTF-8"
	enc := func(kv ...string) io.Reader {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return strings.NewReader(v.Encode())
	}

	r := e.do(t, "POST", "/api/note", form, enc("model", `{"text":"a & b = c"}`))
	if r.status != http.StatusCreated || r.object(t)["text"] != "a & b = c" {
		t.Fatalf("emulateJSON create: %d %s", r.status, r.body)
	}
	path := "/api/note/" + url.PathEscape(restID(t, r.object(t)))

	// emulateJSON with emulateHTTP: _method in the form and the header.
	r = e.do(t, "POST", path, form, enc("model", `{"text":"x"}`, "_method", "PUT"), "X-HTTP-Method-Override", "PUT")
	if r.status != 200 || r.object(t)["text"] != "x" {
		t.Fatalf("emulateJSON update: %d %s", r.status, r.body)
	}
	// _method alone is enough.
	r = e.do(t, "POST", path, form, enc("model", `{"more":1}`, "_method", "PATCH"))
	if m := r.object(t); r.status != 200 || m["text"] != "x" || m["more"] != 1.0 {
		t.Fatalf("emulateJSON patch: %d %s", r.status, r.body)
	}
	r = e.do(t, "POST", path, form, enc("_method", "DELETE"))
	if r.status != 200 {
		t.Fatalf("emulateJSON delete: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", path, "", nil); r.status != 404 {
		t.Errorf("after emulateJSON delete: %d", r.status)
	}
	// JSON labelled as a form (curl -d) is read as JSON.
	r = e.do(t, "POST", "/api/note", form, strings.NewReader(`{"id":"c","text":"curl"}`))
	if r.status != http.StatusCreated || restID(t, r.object(t)) != "c" || r.object(t)["text"] != "curl" {
		t.Fatalf("JSON labelled as a form: %d %s", r.status, r.body)
	}
	// PUT with emulateJSON but without emulateHTTP.
	r = e.do(t, "POST", "/api/note", form, enc("model", `{"id":"n1","text":"y"}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create n1: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", "/api/note/n1", form, enc("model", `{"text":"z"}`))
	if r.status != 200 || r.object(t)["text"] != "z" {
		t.Fatalf("emulateJSON PUT: %d %s", r.status, r.body)
	}
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{MaxBodySize: 64}, []string{"character"})
	id := restID(t, e.doJSON(t, "POST", "/api/character", `{"name":"x"}`).object(t))
	one := "/api/character/" + url.PathEscape(id)

	tests := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"bad JSON", "POST", "/api/character", `{"name":`, nil, 400, "bad_request"},
		{"trailing data", "POST", "/api/character", `{} {}`, nil, 400, "bad_request"},
		{"array body", "POST", "/api/character", `[1,2]`, nil, 400, "bad_request"},
		{"string body", "PUT", one, `"x"`, nil, 400, "bad_request"},
		{"duplicate key", "PATCH", one, `{"a":1,"a":2}`, nil, 400, "bad_request"},
		{"unknown model", "GET", "/api/nope", "", nil, 404, "not_found"},
		{"unknown model create", "POST", "/api/nope", `{}`, nil, 404, "not_found"},
		{"unknown id", "GET", "/api/character/missing", "", nil, 404, "not_found"},
		{"deep path", "GET", "/api/character/1/2", "", nil, 404, "not_found"},
		{"no model", "GET", "/api/", "", nil, 404, "not_found"},
		{"PUT without id", "PUT", "/api/character", `{}`, nil, 400, "bad_request"},
		{"PATCH without id", "PATCH", "/api/character/", `{}`, nil, 400, "bad_request"},
		{"DELETE without id", "DELETE", "/api/character", "", nil, 400, "bad_request"},
		{"emulated DELETE without id", "POST", "/api/character", "", []string{"X-HTTP-Method-Override", "DELETE"}, 400, "bad_request"},
		{"POST to an id", "POST", one, `{}`, nil, 405, "bad_request"},
		{"bad override", "POST", "/api/character", `{}`, []string{"X-HTTP-Method-Override", "TRACE"}, 400, "bad_request"},
		{"bad method", "OPTIONS", "/api/character", "", nil, 405, "bad_request"},
		{"bad limit", "GET", "/api/character?limit=-1", "", nil, 400, "bad_request"},
		{"bad offset", "GET", "/api/character?offset=x", "", nil, 400, "bad_request"},
		{"body too large", "POST", "/api/character", `{"name":"` + strings.Repeat("x", 100) + `"}`, nil, 413, "too_large"},
		{"foreign origin", "POST", "/api/character", `{}`, []string{"Origin", "http://evil.example"}, 403, "forbidden"},
	}
	for _, tt := range tests {
		r := e.doJSON(t, tt.method, tt.path, tt.body, tt.hdr...)
		if r.status != tt.status {
			t.Errorf("%s: status %d %s, want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		t.Logf("%s: %d %s", tt.name, r.status, bytes.TrimSpace(r.body))
		if code := r.errorCode(t); code != tt.code {
			t.Errorf("%s: code %q, want %q", tt.name, code, tt.code)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
	}
	if r := e.do(t, "POST", one, "", nil); r.header.Get("Allow") == "" {
		t.Errorf("405 without an Allow header")
	}
	// The failed requests changed nothing.
	r := e.do(t, "GET", "/api/character", "", nil)
	if list, _ := r.json(t).([]any); len(list) != 1 {
		t.Errorf("collection after errors: %s", r.body)
	}
}

// TestRESTOrigin checks that same-origin pages and allowed origins may use
// the API, with CORS headers for the latter.
func TestRESTOrigin(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{AllowedOrigins: []string{"https://app.example"}}, nil)
	r := e.doJSON(t, "POST", "/api/thing", `{}`, "Origin", e.srv.URL)
	if r.status != http.StatusCreated {
		t.Errorf("same origin: %d %s", r.status, r.body)
	}
	r = e.doJSON(t, "POST", "/api/thing", `{}`, "Origin", "https://app.example")
	if r.status != http.StatusCreated || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("allowed origin: %d %v", r.status, r.header)
	}
	r = e.do(t, "OPTIONS", "/api/thing/1", "", nil, "Origin", "https://app.example",
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type")
	if r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
}

func TestRESTQueryProps(t *testing.T) {
	t.Parallel()
	p, err := queryProps(url.Values{"limit": {"10"}, "offset": {"0"}, "_": {"123"}, "tag": {"a", "b"}, "q": {"x"}, "token": {"eyJ.secret"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonterm.Append(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"limit":10,"offset":0,"q":"x","tag":["a","b"]}`; string(got) != want {
		t.Errorf("queryProps = %s, want %s", got, want)
	}
}

func TestRESTPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, model, id string
		ok              bool
	}{
		{"/api/character", "character", "", true},
		{"/api/character/", "character", "", true},
		{"/api/character/7", "character", "7", true},
		{"/api/character/7/", "character", "7", true},
		{"/api/character/a%2Fb", "character", "a/b", true},
		{"/api/char%20acter/%C3%A9", "char acter", "é", true},
		{"/api/", "", "", false},
		{"/api//7", "", "", false},
		{"/api/a/b/c", "", "", false},
		{"/other/a", "", "", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		model, id, ok := splitRESTPath(u)
		if model != tt.model || id != tt.id || ok != tt.ok {
			t.Errorf("splitRESTPath(%s) = %q, %q, %v; want %q, %q, %v", tt.path, model, id, ok, tt.model, tt.id, tt.ok)
		}
	}
}

// restTransport is an actors.Transport that hands frames to the test.
type restTransport struct {
	frames chan actors.Frame
}

func (c *restTransport) Send(f actors.Frame) error {
	select {
	case c.frames <- f:
		return nil
	default:
		return actors.ErrSlowConsumer
	}
}

func (c *restTransport) Close(actors.CloseReason) {}

// next returns the next frame of the given kind (reply or push), failing
// the test rather than hanging when none comes.
func (c *restTransport) next(t *testing.T, reply bool) bert.Tuple {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-c.frames:
			if f.Reply != reply {
				continue
			}
			var term any
			if err := bert.Unmarshal(f.Data, &term); err != nil {
				t.Fatalf("frame %x: %v", f.Data, err)
			}
			tup, ok := term.(bert.Tuple)
			if !ok {
				t.Fatalf("frame %#v is not a tuple", term)
			}
			return tup
		case <-deadline:
			t.Fatalf("no frame (reply=%v) came", reply)
			return nil
		}
	}
}

// restSubscribe starts a session subscribed to model.
func restSubscribe(t *testing.T, sys *actors.System, model string) *restTransport {
	t.Helper()
	tr := &restTransport{frames: make(chan actors.Frame, 64)}
	sess := sys.NewSession(tr)
	t.Cleanup(sess.Close)
	data, err := bert.Marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("subscribe"), bert.Atom(model), bert.List{}})
	if err != nil {
		t.Fatal(err)
	}
	sess.Deliver(actors.Frame{Data: data})
	if reply := tr.next(t, true); len(reply) < 2 || reply[1] != bert.Atom("ok") {
		t.Fatalf("subscribe reply %#v", reply)
	}
	return tr
}

// restPushProps checks a push is {sync, Event, Model, Props, Seq} and returns
// its props.
func restPushProps(t *testing.T, push bert.Tuple, event, model string) models.Props {
	t.Helper()
	if len(push) != 5 || push[0] != bert.Atom("sync") || push[1] != bert.Atom(event) {
		t.Fatalf("push %#v, want {sync, %s, %s, Props, Seq}", push, event, model)
	}
	if m, _ := bert.AsString(push[2]); m != model {
		t.Fatalf("push for model %#v, want %s", push[2], model)
	}
	props, err := models.ParseProps(push[3])
	if err != nil {
		t.Fatalf("push props: %v", err)
	}
	return props
}

func TestRESTChangeReachesSubscriber(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	tr := restSubscribe(t, e.sys, "character")

	r := e.doJSON(t, "POST", "/api/character", `{"name":"Ann"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := restID(t, r.object(t))
	p := restPushProps(t, tr.next(t, false), "created", "character")
	if name, _ := restText(p, "name"); name != "Ann" {
		t.Errorf("created push props %#v", p)
	}

	e.doJSON(t, "PATCH", "/api/character/"+url.PathEscape(id), `{"name":"Bea"}`)
	p = restPushProps(t, tr.next(t, false), "updated", "character")
	if name, _ := restText(p, "name"); name != "Bea" {
		t.Errorf("updated push props %#v", p)
	}
	if pid, _ := restText(p, "id"); pid != id {
		t.Errorf("updated push id %q, want %q", pid, id)
	}

	e.do(t, "DELETE", "/api/character/"+url.PathEscape(id), "", nil)
	p = restPushProps(t, tr.next(t, false), "deleted", "character")
	if pid, _ := restText(p, "id"); pid != id {
		t.Errorf("deleted push id %q, want %q", pid, id)
	}
}

// TestRESTSeesBulletWrites checks the other direction: a change made over
// a session is what the next REST read returns.
func TestRESTSeesBulletWrites(t *testing.T) {
	t.Parallel()
	e := newRESTEnv(t, Config{}, nil)
	tr := &restTransport{frames: make(chan actors.Frame, 16)}
	sess := e.sys.NewSession(tr)
	t.Cleanup(sess.Close)
	data, err := bert.Marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("character"),
		bert.List{bert.Tuple{bert.Atom("id"), []byte("c1")}, bert.Tuple{bert.Atom("bytes"), []byte{0xE9, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	sess.Deliver(actors.Frame{Data: data})
	if reply := tr.next(t, true); len(reply) < 2 || reply[1] != bert.Atom("ok") {
		t.Fatalf("create reply %#v", reply)
	}
	r := e.do(t, "GET", "/api/character/c1", "", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"bytes":"\u00e9\u0000"`)) && !bytes.Contains(r.body, []byte("\"bytes\":\"é\\u0000\"")) {
		t.Errorf("read of a BERT-created model: %d %s", r.status, r.body)
	}
}

// restText is the text of a property (see bert.AsString).
func restText(p models.Props, key string) (string, bool) {
	v, ok := p.Get(key)
	if !ok {
		return "", false
	}
	return bert.AsString(v)
}

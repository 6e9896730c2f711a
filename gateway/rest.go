package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
	"github.com/bertsync/bertsync/models/jsonterm"
)

// noSizeLimit stands for "no limit" where a size is passed to io and
// net/http readers; it leaves room for the slack added to it.
const noSizeLimit = math.MaxInt64 / 2

// The REST API serves stock Backbone.ajaxSync from the same model actors
// as the Bullet endpoint (docs/rest.md is the reference):
//
//	GET    /api/<model>        read the collection (query parameters are props)
//	POST   /api/<model>        create, 201 Created
//	GET    /api/<model>/<id>   read one
//	PUT    /api/<model>/<id>   update (or upload, with a multipart body)
//	PATCH  /api/<model>/<id>   patch
//	DELETE /api/<model>/<id>   delete
//
// Backbone.emulateHTTP sends PUT, PATCH and DELETE as POST with the real
// method in the X-HTTP-Method-Override header (and, with emulateJSON, in a
// _method form field); Backbone.emulateJSON sends the JSON as the "model"
// field of an application/x-www-form-urlencoded body. Both are honoured.

// restPrefix is where the REST API is mounted.
const restPrefix = "/api/"

// caller runs one request through the model actors and pushes the change
// to subscribers; *actors.System is one.
type caller interface {
	Call(ctx context.Context, req models.Request) (any, error)
}

// restHandler is the http.Handler of /api/.
type restHandler struct {
	sys     caller
	maxBody int64
	upload  *uploader // nil: uploads are off (no data directory)
	log     *slog.Logger
	// origin vets the Origin header of browser requests, as for the
	// Bullet endpoint, so that a page of another site cannot change
	// models with a form post, and adds the CORS headers; nil allows all.
	origin originPolicy
	// identify finds out who sent a request (see [Authenticator]); nil
	// makes every caller anonymous.
	identify func(*http.Request) (identity, error)
	// maxReply bounds a reply's JSON body, in bytes: the message limit
	// ([actors.Config].MaxMessageSize; not positive: none), as for the
	// Bullet endpoint. A larger reply is a 413, never a giant body.
	maxReply int
}

// mountHTTP mounts the REST API (with uploads) at /api/, the stored files
// at /files/ and the embedded browser files at /, and starts the sweep of
// unreferenced files, which Shutdown waits for like a handler.
func (s *Server) mountHTTP() error {
	var up *uploader
	blobs := s.cfg.Files
	if s.cfg.DataDir != "" {
		acfg := s.sys.Config()
		ucfg := uploaderConfig{
			DataDir:  s.cfg.DataDir,
			Files:    blobs,
			MaxSize:  s.cfg.MaxUploadSize,
			Quota:    s.cfg.UploadQuota,
			Rules:    acfg.Rules,
			Registry: acfg.Registry,
			Log:      s.log,
		}
		if st := acfg.Documents.Store(); st != nil {
			ucfg.Store = st
		}
		var err error
		if up, err = newUploader(ucfg); err != nil {
			return err
		}
		blobs = up.files.blobs
	}
	rest := newREST(s.sys, s.cfg.MaxBodySize, up, s.log)
	rest.origin = s
	rest.identify = s.identify
	rest.maxReply = s.maxMessage
	files := newFiles(blobs, s.sys, s.log)
	files.origin = s
	files.identify = s.identify
	static, err := newStatic(WebFS())
	if err != nil {
		return err
	}
	s.mux.Handle(restPrefix, rest)
	s.mux.Handle(filesURLPrefix, files)
	s.mux.Handle("/", static)
	if up != nil && up.gc != nil && s.cfg.FileSweepInterval > 0 && s.track(1) {
		go func() {
			defer s.track(-1)
			up.gc.run(s.quit, s.cfg.FileSweepInterval)
		}()
	}
	return nil
}

// newREST returns the handler of /api/. maxBody is a resolved limit
// (negative: none); up may be nil.
func newREST(sys caller, maxBody int64, up *uploader, log *slog.Logger) *restHandler {
	if !limits.Set(maxBody) {
		maxBody = noSizeLimit
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &restHandler{sys: sys, maxBody: maxBody, upload: up, log: log}
}

func (h *restHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.origin != nil {
		if err := h.origin.checkOrigin(r); err != nil {
			writeJSONError(w, models.Errorf(models.CodeForbidden, "%v", err))
			return
		}
		if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
			r.Header.Get("Access-Control-Request-Method") != "" {
			h.origin.servePreflight(w, r, "GET, POST, PUT, PATCH, DELETE")
			return
		}
		h.origin.allowCORS(w, r)
	}
	if h.identify != nil {
		who, err := h.identify(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bertsync"`)
			writeJSONError(w, err)
			return
		}
		r = withIdentity(r, who)
	}
	model, id, ok := splitRESTPath(r.URL)
	if !ok {
		writeJSONError(w, models.Errorf(models.CodeNotFound, "no such resource %q: want /api/<model> or /api/<model>/<id>", r.URL.Path))
		return
	}

	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method == http.MethodPost {
		if o := r.Header.Get("X-HTTP-Method-Override"); o != "" {
			var err error
			if method, err = overrideMethod(o); err != nil {
				writeJSONError(w, err)
				return
			}
		}
	}

	mediaType := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, _ = mime.ParseMediaType(ct)
	}
	if mediaType == "multipart/form-data" && (method == http.MethodPut || method == http.MethodPost) {
		if method != http.MethodPut || id == "" {
			writeJSONError(w, models.Errorf(models.CodeBadRequest, "a multipart upload goes to PUT /api/<model>/<id>"))
			return
		}
		if h.upload == nil {
			writeJSONError(w, models.Errorf(models.CodeUnavailable, "uploads are off: the server has no data directory"))
			return
		}
		h.upload.serve(w, r, h.sys, model, id)
		return
	}

	var body models.Props
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		data, err := readBody(w, r, h.maxBody)
		if err != nil {
			writeJSONError(w, err)
			return
		}
		// curl -d sends JSON labelled as a form; a body that starts like
		// an object is read as JSON whatever its label.
		if mediaType == "application/x-www-form-urlencoded" && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			form, err := url.ParseQuery(string(data))
			if err != nil {
				writeJSONError(w, models.Errorf(models.CodeBadRequest, "bad form body: %v", err))
				return
			}
			if m := form.Get("_method"); m != "" && r.Method == http.MethodPost {
				if method, err = overrideMethod(m); err != nil {
					writeJSONError(w, err)
					return
				}
			}
			data = []byte(form.Get("model"))
		}
		if method != http.MethodDelete {
			if body, err = parseJSONProps(data); err != nil {
				writeJSONError(w, err)
				return
			}
		}
	}

	var (
		m     models.Method
		props models.Props
	)
	switch method {
	case http.MethodGet:
		m = models.Read
		var err error
		if props, err = queryProps(r.URL.Query()); err != nil {
			writeJSONError(w, err)
			return
		}
	case http.MethodPost:
		if id != "" {
			w.Header().Set("Allow", "GET, PUT, PATCH, DELETE")
			writeJSONErrorStatus(w, http.StatusMethodNotAllowed, models.Errorf(models.CodeBadRequest,
				"POST goes to the collection, /api/%s; use PUT or PATCH to change %q", model, id))
			return
		}
		m, props = models.Create, body
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		if id == "" {
			writeJSONError(w, models.Errorf(models.CodeBadRequest,
				"%s needs an id in the path: /api/%s/<id>", method, model))
			return
		}
		m = map[string]models.Method{
			http.MethodPut: models.Update, http.MethodPatch: models.Patch, http.MethodDelete: models.Delete,
		}[method]
		props = body
	default:
		if id == "" {
			w.Header().Set("Allow", "GET, POST")
		} else {
			w.Header().Set("Allow", "GET, PUT, PATCH, DELETE")
		}
		writeJSONErrorStatus(w, http.StatusMethodNotAllowed, models.Errorf(models.CodeBadRequest, "method %s is not allowed here", r.Method))
		return
	}
	if id != "" {
		// The id in the path wins over one in the body.
		props = append(models.Props{{Key: "id", Value: []byte(id)}}, props.Delete("id")...)
	}

	req, err := models.NewRequest(m, model, props)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	req.Caller = identityOf(r).caller
	reply, err := h.sys.Call(r.Context(), req)
	if err != nil {
		if models.CodeOf(err) == models.CodeInternal {
			h.log.Error("rest: call failed", "method", m, "model", model, "id", id, "err", err)
		}
		writeJSONError(w, err)
		return
	}
	status := http.StatusOK
	if m == models.Create {
		status = http.StatusCreated
	}
	single := id != "" || m != models.Read
	if err := writeJSONReply(w, status, reply, single, h.maxReply); err != nil {
		h.log.Error("rest: reply not representable as JSON", "method", m, "model", model, "err", err)
	}
}

// splitRESTPath returns the model and id of /api/<model>[/<id>], each
// path-unescaped so that an id may hold an escaped slash.
func splitRESTPath(u *url.URL) (model, id string, ok bool) {
	rest, found := strings.CutPrefix(u.EscapedPath(), restPrefix)
	if !found {
		return "", "", false
	}
	segs := strings.Split(rest, "/")
	if len(segs) > 1 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1] // a trailing slash
	}
	if len(segs) > 2 || segs[0] == "" {
		return "", "", false
	}
	var err error
	if model, err = url.PathUnescape(segs[0]); err != nil || model == "" {
		return "", "", false
	}
	if len(segs) == 2 {
		if id, err = url.PathUnescape(segs[1]); err != nil || id == "" {
			return "", "", false
		}
	}
	return model, id, true
}

// overrideMethod checks the method named by emulateHTTP.
func overrideMethod(m string) (string, error) {
	switch m = strings.ToUpper(strings.TrimSpace(m)); m {
	case http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost:
		return m, nil
	}
	return "", models.Errorf(models.CodeBadRequest, "method override %q: want PUT, PATCH or DELETE", m)
}

// readBody reads the whole body, at most limit bytes; more is too_large.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, models.Errorf(models.CodeTooLarge, "the body is larger than %d bytes", limit)
		}
		return nil, models.Errorf(models.CodeBadRequest, "reading the body: %v", err)
	}
	return data, nil
}

// queryProps turns the query parameters of a read into props: limit and
// offset as non-negative integers, any other as a binary (a list of
// binaries when repeated). Parameters starting with "_" are left out:
// jQuery's cache buster is "_".
// tokenQueryParameter is where auth.Lookup finds a token in the URL; a
// credential is never a filter on the documents read.
const tokenQueryParameter = "token"

func queryProps(q url.Values) (models.Props, error) {
	props := models.Props{}
	for key, vals := range q {
		if key == "" || strings.HasPrefix(key, "_") || key == "id" || key == tokenQueryParameter {
			continue
		}
		if key == "limit" || key == "offset" {
			n, err := strconv.ParseInt(vals[len(vals)-1], 10, 64)
			if err != nil || n < 0 {
				return nil, models.Errorf(models.CodeBadRequest, "%s=%q: want a non-negative integer", key, vals[len(vals)-1])
			}
			props = append(props, models.Prop{Key: key, Value: n})
			continue
		}
		if len(vals) == 1 {
			props = append(props, models.Prop{Key: key, Value: []byte(vals[0])})
			continue
		}
		l := make(bert.List, len(vals))
		for i, v := range vals {
			l[i] = []byte(v)
		}
		props = append(props, models.Prop{Key: key, Value: l})
	}
	// Map order is random; sort for a deterministic request.
	sortProps(props)
	return props, nil
}

func sortProps(p models.Props) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Key < p[j-1].Key; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// writeJSONReply writes a handler's reply as JSON, in at most limit bytes
// (not positive: no limit), or a too_large error instead. single says the
// reply is one model, so that an empty proplist prints as {} rather than
// [].
func writeJSONReply(w http.ResponseWriter, status int, reply any, single bool, limit int) error {
	var (
		b   []byte
		err error
	)
	if l, ok := reply.(bert.List); single && (reply == nil || ok && len(l) == 0) {
		b = []byte("{}")
	} else if b, err = jsonterm.Append(make([]byte, 0, 256), reply); err != nil {
		writeJSONError(w, models.Errorf(models.CodeInternal, "the reply cannot be written as JSON"))
		return err
	}
	if limits.Exceeds(len(b)+1, limit) {
		writeJSONError(w, models.Errorf(models.CodeTooLarge,
			"reply of %d bytes exceeds the message limit of %d bytes; a collection read can ask for fewer with limit", len(b)+1, limit))
		return nil
	}
	setJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
}

func setJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// httpStatus is the HTTP status of each reply code.
var httpStatus = map[models.Code]int{
	models.CodeBadRequest:   http.StatusBadRequest,
	models.CodeNotFound:     http.StatusNotFound,
	models.CodeConflict:     http.StatusConflict,
	models.CodeUnauthorized: http.StatusUnauthorized,
	models.CodeForbidden:    http.StatusForbidden,
	models.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	models.CodeRateLimited:  http.StatusTooManyRequests,
	models.CodeUnavailable:  http.StatusServiceUnavailable,
	models.CodeInternal:     http.StatusInternalServerError,
}

// statusOf returns the HTTP status of err's reply code.
func statusOf(err error) int {
	if s, ok := httpStatus[models.CodeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// writeJSONError writes {"error": {"code": Code, "message": Message}} with
// the status of err's code. Internal errors show a generic message; their
// detail is for the server's log.
func writeJSONError(w http.ResponseWriter, err error) {
	writeJSONErrorStatus(w, statusOf(err), err)
}

func writeJSONErrorStatus(w http.ResponseWriter, status int, err error) {
	b := make([]byte, 0, 128)
	b = append(b, `{"error":{"code":`...)
	b = jsonterm.AppendText(b, []byte(models.CodeOf(err)))
	b = append(b, `,"message":`...)
	b = jsonterm.AppendText(b, []byte(errorMessage(err)))
	b = append(b, "}}\n"...)
	setJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// errorMessage is the message clients see for err (see models.MessageOf)
// without the "code: " prefix that the code field already says.
func errorMessage(err error) string {
	msg := models.MessageOf(err)
	return strings.TrimPrefix(msg, string(models.CodeOf(err))+": ")
}

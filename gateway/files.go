package gateway

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// filesHandler serves stored uploads at /files/<model>/<id>/<sha256>: the
// file of document id of model, which must be readable by the caller (the
// same read through the model actor as GET /api/<model>/<id>, with the
// rules applied; another owner's document is not_found) and whose "file"
// attribute must name that file. So a file is served to whoever may read
// a document that holds it, and to no one else, and a document that
// drops its file stops serving it. model and id are path segments,
// percent-encoded like those of /api/; the hash must be exactly 64
// lowercase hex digits, so no path can leave the files directory.
//
// Content is addressed by its hash and so never changes: the ETag is the
// hash and the response may be cached for good, by the browser only,
// since it depends on who asks. Uploads are served under a sandbox
// Content-Security-Policy and with nosniff, so an uploaded HTML or SVG
// file cannot run script in the site's origin.
type filesHandler struct {
	dir string // <DataDir>/files; "" serves nothing
	sys caller
	log *slog.Logger
	// origin and identify are the REST handler's (see restHandler).
	origin   originPolicy
	identify func(*http.Request) (identity, error)
}

func newFiles(dataDir string, sys caller, log *slog.Logger) *filesHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &filesHandler{sys: sys, log: log}
	if dataDir != "" {
		h.dir = filepath.Join(dataDir, "files")
	}
	return h
}

// fileURL is where the file sum of document id of model is served.
func fileURL(model, id, sum string) string {
	return filesURLPrefix + url.PathEscape(model) + "/" + url.PathEscape(id) + "/" + sum
}

// splitFilesPath returns the parts of /files/<model>/<id>/<sha256>.
func splitFilesPath(u *url.URL) (model, id, sum string, ok bool) {
	rest, found := strings.CutPrefix(u.EscapedPath(), filesURLPrefix)
	if !found {
		return "", "", "", false
	}
	segs := strings.Split(rest, "/")
	if len(segs) != 3 || !isSHA256Hex(segs[2]) {
		return "", "", "", false
	}
	var err error
	if model, err = url.PathUnescape(segs[0]); err != nil || model == "" {
		return "", "", "", false
	}
	if id, err = url.PathUnescape(segs[1]); err != nil || id == "" {
		return "", "", "", false
	}
	return model, id, segs[2], true
}

// docFileSum returns the hash of the stored file that a document's
// attributes name: the last segment of the url of its "file" attribute,
// when that is a /files/ URL. It reads the URLs of older servers
// (/files/<sha256>) too, and so does the sweep, which keeps their files.
func docFileSum(attrs models.Props) (string, bool) {
	v, ok := attrs.Get("file")
	if !ok {
		return "", false
	}
	switch v.(type) {
	case bert.List, []any, bert.Map, bert.Dict, models.Props:
	default:
		return "", false
	}
	file, err := models.FromValue(v)
	if err != nil {
		return "", false
	}
	u, ok := file.Text("url")
	if !ok {
		return "", false
	}
	rest, ok := strings.CutPrefix(u, filesURLPrefix)
	if !ok {
		return "", false
	}
	sum := rest[strings.LastIndexByte(rest, '/')+1:]
	return sum, isSHA256Hex(sum)
}

func (h *filesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.origin != nil {
		if err := h.origin.checkOrigin(r); err != nil {
			writeJSONError(w, models.Errorf(models.CodeForbidden, "%v", err))
			return
		}
		if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
			r.Header.Get("Access-Control-Request-Method") != "" {
			h.origin.servePreflight(w, r, "GET, HEAD")
			return
		}
		h.origin.allowCORS(w, r)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONErrorStatus(w, http.StatusMethodNotAllowed, models.Errorf(models.CodeBadRequest, "method %s is not allowed here", r.Method))
		return
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
	model, id, sum, ok := splitFilesPath(r.URL)
	if !ok || h.dir == "" {
		writeJSONError(w, models.Errorf(models.CodeNotFound, "no such file: want /files/<model>/<id>/<sha256>"))
		return
	}
	if err := h.authorize(r, model, id, sum); err != nil {
		if models.CodeOf(err) == models.CodeInternal {
			h.log.Error("files: reading the document failed", "model", model, "id", id, "err", err)
		}
		writeJSONError(w, err)
		return
	}
	f, err := os.Open(filepath.Join(h.dir, sum))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			writeJSONError(w, models.Errorf(models.CodeNotFound, "no such file"))
		} else {
			writeJSONError(w, err)
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeJSONError(w, models.Errorf(models.CodeNotFound, "no such file"))
		return
	}
	hdr := w.Header()
	if typ := h.storedType(sum); typ != "" {
		hdr.Set("Content-Type", typ)
	}
	hdr.Set("ETag", `"`+sum+`"`)
	hdr.Set("Cache-Control", "private, max-age=31536000, immutable")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox")
	// ServeContent answers Range, If-Range, If-None-Match and HEAD, and
	// sniffs the type when the sidecar is missing.
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// authorize reads document id of model as the request's caller and
// checks that it holds the file sum.
func (h *filesHandler) authorize(r *http.Request, model, id, sum string) error {
	req, err := models.NewRequest(models.Read, model, models.Props{{Key: "id", Value: []byte(id)}})
	if err != nil {
		return err
	}
	req.Caller = identityOf(r).caller
	reply, err := h.sys.Call(r.Context(), req)
	if err != nil {
		return err
	}
	attrs, err := models.FromValue(reply)
	if err != nil {
		return models.Errorf(models.CodeNotFound, "no such file")
	}
	if held, ok := docFileSum(attrs); !ok || held != sum {
		return models.Errorf(models.CodeNotFound, "%s %q holds no such file", model, id)
	}
	return nil
}

// storedType reads the media type sidecar of sum; "" if there is none or
// it does not hold a valid media type.
func (h *filesHandler) storedType(sum string) string {
	data, err := os.ReadFile(filepath.Join(h.dir, sum+typeSuffix))
	if err != nil || len(data) > 1024 {
		return ""
	}
	typ := string(bytes.TrimSpace(data))
	if _, _, err := mime.ParseMediaType(typ); err != nil {
		return ""
	}
	return typ
}

// isSHA256Hex reports whether s is 64 lowercase hex digits.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

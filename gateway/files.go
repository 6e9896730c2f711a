package gateway

import (
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
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
// lowercase hex digits, so no path can leave the files directory. The
// bytes come from the [FileStore], with ranges fetched as asked: on a
// store shared by many nodes, every node serves every file.
//
// Content is addressed by its hash and so never changes: the ETag is the
// hash and the response may be cached for good, by the browser only,
// since it depends on who asks. Uploads are served under a sandbox
// Content-Security-Policy and with nosniff, so an uploaded HTML or SVG
// file cannot run script in the site's origin.
type filesHandler struct {
	files FileStore // nil serves nothing
	sys   caller
	log   *slog.Logger
	// origin and identify are the REST handler's (see restHandler).
	origin   originPolicy
	identify func(*http.Request) (identity, error)
}

// newFiles returns the handler of /files/; files nil serves nothing.
func newFiles(files FileStore, sys caller, log *slog.Logger) *filesHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &filesHandler{files: files, sys: sys, log: log}
}

// errNoSuchFile is the error of a file that is not stored.
var errNoSuchFile = models.Errorf(models.CodeNotFound, "no such file")

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
	if !ok || h.files == nil {
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
	f, fi, err := h.files.Open(r.Context(), sum)
	if err != nil {
		if code := models.CodeOf(err); code != models.CodeNotFound {
			h.log.Error("files: opening the file failed", "model", model, "id", id, "sum", sum, "err", errorDetail(err))
		}
		writeJSONError(w, err)
		return
	}
	defer f.Close()
	hdr := w.Header()
	if _, _, err := mime.ParseMediaType(fi.MediaType); err == nil {
		hdr.Set("Content-Type", fi.MediaType)
	}
	hdr.Set("ETag", `"`+sum+`"`)
	hdr.Set("Cache-Control", "private, max-age=31536000, immutable")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox")
	// ServeContent answers Range, If-Range, If-None-Match and HEAD, and
	// sniffs the type when the store has none. It learns the size by
	// seeking to the end, which reads nothing.
	// A file of the disk is served as it is, so that the connection can
	// send it with sendfile; the reads of another store are watched for
	// errors, which ServeContent does not report.
	var content io.ReadSeeker = f
	var read *readErrRecorder
	if _, ok := f.(*os.File); !ok {
		read = &readErrRecorder{r: f}
		content = read
	}
	http.ServeContent(w, r, "", fi.ModTime, content)
	if read != nil && read.err != nil && r.Context().Err() == nil {
		// The headers are gone: the client sees a short body.
		h.log.Error("files: reading the file failed", "model", model, "id", id, "sum", sum, "err", errorDetail(read.err))
	}
}

// readErrRecorder keeps the first error of its reader other than EOF.
type readErrRecorder struct {
	r   io.ReadSeeker
	err error
}

func (r *readErrRecorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

func (r *readErrRecorder) Seek(offset int64, whence int) (int64, error) {
	return r.r.Seek(offset, whence)
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

package gateway

import (
	"bytes"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/bertsync/bertsync/models"
)

// filesHandler serves stored uploads at /files/<sha256>. The name must be
// exactly 64 lowercase hex digits, so no path can leave the files
// directory. Content is addressed by its hash and so never changes: the
// ETag is the hash and the response may be cached for good. Uploads are
// served under a sandbox Content-Security-Policy and with nosniff, so an
// uploaded HTML or SVG file cannot run script in the site's origin.
type filesHandler struct {
	dir string // <DataDir>/files; "" serves nothing
}

func newFiles(dataDir string) *filesHandler {
	if dataDir == "" {
		return &filesHandler{}
	}
	return &filesHandler{dir: filepath.Join(dataDir, "files")}
}

func (h *filesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONErrorStatus(w, http.StatusMethodNotAllowed, models.Errorf(models.CodeBadRequest, "method %s is not allowed here", r.Method))
		return
	}
	sum, ok := strings.CutPrefix(r.URL.Path, filesURLPrefix)
	if !ok || !isSHA256Hex(sum) || h.dir == "" {
		writeJSONError(w, models.Errorf(models.CodeNotFound, "no such file"))
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
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "sandbox")
	// ServeContent answers Range, If-Range, If-None-Match and HEAD, and
	// sniffs the type when the sidecar is missing.
	http.ServeContent(w, r, "", st.ModTime(), f)
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

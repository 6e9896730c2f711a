package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// web holds the browser side the binary serves: bertsync.js, the demo app
// (index.html and its scripts and styles) and the vendored libraries the
// demo loads.
//
//go:embed web
var web embed.FS

// WebFS returns the embedded browser files, rooted at the directory that
// holds bertsync.js and index.html.
func WebFS() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // "web" is a constant, valid path
	}
	return sub
}

// staticTypes fixes the media types of the files the demo is made of, so
// that they do not depend on the host's MIME tables.
var staticTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "application/javascript; charset=utf-8",
	".mjs":  "application/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
	".md":   "text/plain; charset=utf-8",
}

// staticFile is one file of the embedded web directory, ready to serve.
type staticFile struct {
	data  []byte
	ctype string
	etag  string
}

// staticHandler serves a read-only file tree from memory: "/" is
// index.html, a file is served at its path, anything else is 404 (no
// directory listings). Files carry a strong ETag of their content and
// "Cache-Control: no-cache", so browsers revalidate (a cheap 304) and a
// new binary's files are picked up at once, without fingerprinted names.
type staticHandler struct {
	files map[string]staticFile
}

// newStatic reads every file of fsys into memory.
func newStatic(fsys fs.FS) (*staticHandler, error) {
	h := &staticHandler{files: make(map[string]staticFile)}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ctype, ok := staticTypes[path.Ext(p)]
		if !ok {
			if ctype = mime.TypeByExtension(path.Ext(p)); ctype == "" {
				ctype = http.DetectContentType(data)
			}
		}
		sum := sha256.Sum256(data)
		h.files["/"+p] = staticFile{
			data:  data,
			ctype: ctype,
			etag:  `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: static files: %w", err)
	}
	return h, nil
}

func (h *staticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	f, ok := h.files[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("ETag", f.etag)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

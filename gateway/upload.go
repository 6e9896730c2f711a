package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
	"github.com/bertsync/bertsync/models/jsonterm"
)

// Uploads, the way the first seed's Backbone.cruds sends them: PUT
// /api/<model>/<id> with a multipart/form-data body whose "file" part is
// the file. The part is streamed to a temporary file under the data
// directory while it is hashed, so that no upload is ever held in memory,
// and then renamed to its content address:
//
//	<DataDir>/tmp/upload-*          while it arrives; removed on any failure
//	<DataDir>/files/<sha256>        the file, named by the hex SHA-256 of its bytes
//	<DataDir>/files/<sha256>.type   its media type, one line of text
//
// The same bytes uploaded twice are stored once; the media type of the
// first upload stays (the type sidecar is written only when missing). The
// model's "file" attribute is then set with a patch through the model
// actor, so subscribers hear of it like of any other change:
//
//	file: [{name, <<"photo.png">>}, {size, 1234}, {type, <<"image/png">>},
//	       {url, <<"/files/<sha256>">>}]
//
// and the reply is {"file": {"name", "size", "type", "url"}}.

// uploadSlack is what a multipart body may hold on top of the file itself:
// part headers, boundaries and small form fields, which are discarded.
const uploadSlack = 1 << 20

// maxFileNameSize bounds the stored file name, in bytes.
const maxFileNameSize = 255

// sniffLen is how many leading bytes http.DetectContentType looks at.
const sniffLen = 512

// filesURLPrefix is where stored files are served.
const filesURLPrefix = "/files/"

// uploader stores uploads under a data directory.
type uploader struct {
	filesDir string
	tmpDir   string
	max      int64
	log      *slog.Logger
}

// newUploader creates <dataDir>/files and <dataDir>/tmp, and removes what
// a crash left in tmp: one server owns a data directory (bertsync serve
// holds the store's lock in it), so nothing there is still being written.
// max is a resolved limit (negative: none).
func newUploader(dataDir string, max int64, log *slog.Logger) (*uploader, error) {
	if !limits.Set(max) {
		max = noSizeLimit
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &uploader{
		filesDir: filepath.Join(dataDir, "files"),
		tmpDir:   filepath.Join(dataDir, "tmp"),
		max:      max,
		log:      log,
	}
	for _, d := range []string{u.filesDir, u.tmpDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("gateway: upload directory: %w", err)
		}
	}
	for _, pattern := range []string{"upload-*", "type-*"} {
		stale, _ := filepath.Glob(filepath.Join(u.tmpDir, pattern)) // the pattern is well-formed
		for _, name := range stale {
			if err := os.Remove(name); err != nil {
				log.Warn("gateway: leftover upload", "file", name, "err", err)
			}
		}
	}
	return u, nil
}

// storedFile describes a stored upload.
type storedFile struct {
	Name string
	Size int64
	Type string
	Sum  string // hex SHA-256
}

func (f storedFile) url() string { return filesURLPrefix + f.Sum }

// term is the value of the model's file attribute.
func (f storedFile) term() bert.List {
	return bert.List{
		bert.Tuple{bert.Atom("name"), []byte(f.Name)},
		bert.Tuple{bert.Atom("size"), f.Size},
		bert.Tuple{bert.Atom("type"), []byte(f.Type)},
		bert.Tuple{bert.Atom("url"), []byte(f.url())},
	}
}

// serve handles an upload to model id: stores the file part, patches the
// model's file attribute and answers {"file": {...}}.
func (u *uploader) serve(w http.ResponseWriter, r *http.Request, sys caller, model, id string) {
	r.Body = http.MaxBytesReader(w, r.Body, u.max+uploadSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		writeJSONError(w, models.Errorf(models.CodeBadRequest, "upload: %v", err))
		return
	}
	var (
		file  storedFile
		found bool
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeJSONError(w, uploadReadError(err, u.max))
			return
		}
		if part.FormName() == "file" && !found {
			file, err = u.store(part)
			found = true
		} else {
			_, err = io.Copy(io.Discard, part)
		}
		part.Close()
		if err != nil {
			if errors.Is(err, errStorage) {
				u.log.Error("upload failed", "model", model, "id", id, "err", err)
			}
			writeJSONError(w, uploadReadError(err, u.max))
			return
		}
	}
	if !found {
		writeJSONError(w, models.Errorf(models.CodeBadRequest, "upload: the multipart body has no \"file\" part"))
		return
	}

	req, err := models.NewRequest(models.Patch, model, models.Props{
		{Key: "id", Value: []byte(id)},
		{Key: "file", Value: file.term()},
	})
	if err == nil {
		req.Caller = identityOf(r).caller
		_, err = sys.Call(r.Context(), req)
	}
	if err != nil {
		if models.CodeOf(err) == models.CodeInternal {
			u.log.Error("upload: patch failed", "model", model, "id", id, "err", err)
		}
		writeJSONError(w, err)
		return
	}
	b := append([]byte(`{"file":`), `{"name":`...)
	b = jsonterm.AppendText(b, []byte(file.Name))
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, file.Size, 10)
	b = append(b, `,"type":`...)
	b = jsonterm.AppendText(b, []byte(file.Type))
	b = append(b, `,"url":`...)
	b = jsonterm.AppendText(b, []byte(file.url()))
	b = append(b, "}}\n"...)
	setJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// errTooLarge marks an upload over the limit.
var errTooLarge = errors.New("upload too large")

// errStorage marks a failure of the server's disk, not of the client.
var errStorage = errors.New("upload: storing the file")

func storageError(err error) error { return fmt.Errorf("%w: %w", errStorage, err) }

// recordingWriter keeps the error of its writer, so that a failed copy can
// be told apart: the disk's fault or the client's.
type recordingWriter struct {
	w   io.Writer
	err error
}

func (r *recordingWriter) Write(b []byte) (int, error) {
	n, err := r.w.Write(b)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// uploadReadError maps an error of reading or storing an upload to the
// reply's code. Storage errors are internal: their detail (paths) is
// logged, not sent.
func uploadReadError(err error, max int64) error {
	if errors.Is(err, errStorage) {
		return err
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok || errors.Is(err, errTooLarge) {
		return models.Errorf(models.CodeTooLarge, "upload: the file is larger than %d bytes", max)
	}
	if _, ok := errors.AsType[*models.Error](err); ok {
		return err
	}
	return models.Errorf(models.CodeBadRequest, "upload: reading the body: %v", err)
}

// prefixWriter keeps the first sniffLen bytes written to it.
type prefixWriter struct{ buf []byte }

func (p *prefixWriter) Write(b []byte) (int, error) {
	if n := sniffLen - len(p.buf); n > 0 {
		p.buf = append(p.buf, b[:min(n, len(b))]...)
	}
	return len(b), nil
}

// store streams one part to a temporary file while hashing it, then moves
// it to its content address. On any error nothing is left behind.
func (u *uploader) store(part *multipart.Part) (f storedFile, err error) {
	tmp, err := os.CreateTemp(u.tmpDir, "upload-*")
	if err != nil {
		return f, storageError(err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	var head prefixWriter
	disk := &recordingWriter{w: tmp}
	n, err := io.Copy(io.MultiWriter(disk, h, &head), io.LimitReader(part, u.max+1))
	if disk.err != nil {
		return f, storageError(disk.err)
	}
	if err != nil {
		return f, err
	}
	if n > u.max {
		return f, errTooLarge
	}
	if err = tmp.Sync(); err != nil {
		return f, storageError(err)
	}
	if err = tmp.Close(); err != nil {
		return f, storageError(err)
	}

	f.Sum = hex.EncodeToString(h.Sum(nil))
	f.Size = n
	f.Name = cleanFileName(part.FileName())
	f.Type = mediaType(part.Header.Get("Content-Type"), head.buf)

	final := filepath.Join(u.filesDir, f.Sum)
	if err = u.writeType(f.Sum, f.Type); err != nil {
		return f, err
	}
	if _, statErr := os.Stat(final); statErr == nil {
		// Stored before: same bytes, same name.
		os.Remove(tmp.Name())
		return f, nil
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return f, storageError(err)
	}
	return f, nil
}

// writeType writes the type sidecar of sum unless it exists.
func (u *uploader) writeType(sum, typ string) error {
	path := filepath.Join(u.filesDir, sum+typeSuffix)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(u.tmpDir, "type-*")
	if err != nil {
		return storageError(err)
	}
	_, err = tmp.WriteString(typ + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return storageError(err)
	}
	return nil
}

// typeSuffix names the media type sidecar of a stored file.
const typeSuffix = ".type"

// cleanFileName keeps the base name a browser sent (old browsers send a
// whole Windows path), valid UTF-8 and at most maxFileNameSize bytes.
func cleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "\uFFFD")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return -1
		}
		return r
	}, name)
	for len(name) > maxFileNameSize {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}

// mediaType returns the part's declared type when it is a valid media type
// more specific than application/octet-stream, and the sniffed type of the
// first bytes otherwise.
func mediaType(declared string, head []byte) string {
	if declared != "" {
		if mt, params, err := mime.ParseMediaType(declared); err == nil && mt != "application/octet-stream" {
			return mime.FormatMediaType(mt, params)
		}
	}
	return http.DetectContentType(head)
}

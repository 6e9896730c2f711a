package gateway

import (
	"context"
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
// the file. An upload is a patch of the document's "file" attribute, and
// is authorized as one before a byte of the body is read: the caller must
// be let through by the patch rule, and the document must exist and be
// readable by the caller (and be theirs where the patch rule is "owner"),
// else the answer is the rule's 401 or 403, or 404. Only then is the part
// streamed to a temporary file under the data directory while it is
// hashed and counted against the document's quota, so that no upload is
// ever held in memory, and, once the whole body is read, committed to the
// [FileStore] under its content address, the hex SHA-256 of its bytes,
// with its media type, and pinned (never swept) when a Go handler serves
// the model type:
//
//	<DataDir>/tmp/upload-*          while it arrives; removed on any failure
//
// On disk (the default FileStore, diskFiles) the file is then renamed to
// <DataDir>/files/<sha256>; [models.PGFiles] copies it into the database
// a chunk at a time. The same bytes uploaded twice are stored once; the
// media type of the first upload stays. The
// model's "file" attribute is then set with a patch through the model
// actor, which applies the rules again, so subscribers hear of it like of
// any other change:
//
//	file: [{name, <<"photo.png">>}, {size, 1234}, {type, <<"image/png">>},
//	       {url, <<"/files/<model>/<id>/<sha256>">>}]
//
// and the reply is {"file": {"name", "size", "type", "url"}}. If the patch
// is refused, a file the upload created and no other upload shares is
// removed at once; files that documents stop naming later, or whose patch
// timed out, are removed by the sweep (filegc.go).

// uploadSlack is what a multipart body may hold on top of the file itself:
// part headers, boundaries and small form fields, which are discarded.
const uploadSlack = 1 << 20

// maxFileNameSize bounds the stored file name, in bytes.
const maxFileNameSize = 255

// sniffLen is how many leading bytes http.DetectContentType looks at.
const sniffLen = 512

// filesURLPrefix is where stored files are served.
const filesURLPrefix = "/files/"

// uploader receives uploads under a data directory and commits them to
// a [FileStore].
type uploader struct {
	files  *fileStore
	tmpDir string // <DataDir>/tmp
	max    int64
	rules  *models.Rules
	// goType reports whether a Go handler serves a model type, whose
	// files are pinned: the sweep cannot see its documents.
	goType func(model string) bool
	quota  *uploadQuota
	// gc sweeps the files no document names; nil without a store.
	gc  *fileSweeper
	log *slog.Logger
}

// uploaderConfig configures [newUploader].
type uploaderConfig struct {
	// DataDir holds the uploads while they arrive (DataDir/tmp) and, when
	// Files is nil, the files (DataDir/files).
	DataDir string
	// Files stores the files; nil means the disk under DataDir.
	Files FileStore
	// MaxSize and Quota are resolved limits (negative: none).
	MaxSize, Quota int64
	// Rules are the access rules the model actors enforce; nil means
	// models.DefaultRules(false).
	Rules *models.Rules
	// Registry holds the types of Go handlers; nil means none.
	Registry *models.Registry
	// Store holds the documents whose "file" attributes name the stored
	// files; nil means no sweep.
	Store docWalker
	Log   *slog.Logger
}

// newUploader creates <dataDir>/tmp (and <dataDir>/files for the disk
// store), and removes what a crash left in tmp: one server owns a data
// directory (bertsync serve holds the store's lock in it), so nothing
// there is still being written.
func newUploader(cfg uploaderConfig) (*uploader, error) {
	max := cfg.MaxSize
	if !limits.Set(max) {
		max = noSizeLimit
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rules := cfg.Rules
	if rules == nil {
		rules = models.DefaultRules(false)
	}
	blobs := cfg.Files
	dirs := []string{filepath.Join(cfg.DataDir, "tmp")}
	if blobs == nil {
		disk := newDiskFiles(cfg.DataDir)
		blobs, dirs = disk, append(dirs, disk.dir)
	}
	u := &uploader{
		files:  newFileStore(blobs),
		tmpDir: dirs[0],
		max:    max,
		rules:  rules,
		goType: func(model string) bool {
			_, ok := cfg.Registry.Lookup(model)
			return ok
		},
		quota: newUploadQuota(cfg.Quota),
		log:   log,
	}
	for _, d := range dirs {
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
	if cfg.Store != nil {
		u.gc = &fileSweeper{files: u.files, store: cfg.Store, quota: u.quota, log: log}
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

// term is the value of the file attribute of document id of model.
func (f storedFile) term(model, id string) bert.List {
	return bert.List{
		bert.Tuple{bert.Atom("name"), []byte(f.Name)},
		bert.Tuple{bert.Atom("size"), f.Size},
		bert.Tuple{bert.Atom("type"), []byte(f.Type)},
		bert.Tuple{bert.Atom("url"), []byte(fileURL(model, id, f.Sum))},
	}
}

// serve handles an upload to model id: authorizes it, stores the file
// part, patches the model's file attribute and answers {"file": {...}}.
func (u *uploader) serve(w http.ResponseWriter, r *http.Request, sys caller, model, id string) {
	who := identityOf(r).caller
	if err := u.authorize(r.Context(), sys, model, id, who); err != nil {
		if models.CodeOf(err) == models.CodeInternal {
			u.log.Error("upload: reading the document failed", "model", model, "id", id, "err", err)
		}
		writeJSONError(w, err)
		return
	}
	counted := &quotaWriter{q: u.quota, doc: docKey{model, id}}
	file, created, err := u.accept(w, r, counted, model, id)
	if err != nil {
		counted.giveBack()
		writeJSONError(w, err)
		return
	}

	req, err := models.NewRequest(models.Patch, model, models.Props{
		{Key: "id", Value: []byte(id)},
		{Key: "file", Value: file.term(model, id)},
	})
	if err == nil {
		req.Caller = who
		_, err = sys.Call(r.Context(), req)
	}
	// A patch that timed out may still be applied: its file stays, for
	// the document or for the sweep, and stays counted.
	named := err == nil || !patchRefused(err)
	if rerr := u.files.release(context.WithoutCancel(r.Context()), file.Sum, created, named); rerr != nil {
		u.log.Warn("upload: removing the file of a refused patch failed; the sweep will",
			"model", model, "id", id, "err", errorDetail(rerr))
	}
	if !named {
		counted.giveBack()
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
	b = jsonterm.AppendText(b, []byte(fileURL(model, id, file.Sum)))
	b = append(b, "}}\n"...)
	setJSONHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// accept reads the multipart body, receives its first "file" part and
// commits it to the file store, where it is held in flight until
// [fileStore.release]; created says the file is new. On error nothing of
// the upload is left, and the error is the reply's.
func (u *uploader) accept(w http.ResponseWriter, r *http.Request, counted *quotaWriter, model, id string) (file storedFile, created bool, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, u.max+uploadSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return file, false, models.Errorf(models.CodeBadRequest, "upload: %v", err)
	}
	var tmp string // the received file part, until it is committed
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return file, false, u.readError(err)
		}
		if part.FormName() == "file" && tmp == "" {
			file, tmp, err = u.receive(part, counted)
		} else {
			_, err = io.Copy(io.Discard, part)
		}
		part.Close()
		if err != nil {
			if errors.Is(err, errStorage) {
				u.log.Error("upload failed", "model", model, "id", id, "err", errorDetail(err))
			}
			return file, false, u.readError(err)
		}
	}
	if tmp == "" {
		return file, false, models.Errorf(models.CodeBadRequest, "upload: the multipart body has no \"file\" part")
	}
	created, err = u.files.commit(r.Context(), tmp, file.Sum, file.Type, u.goType(model))
	tmp = "" // commit removes it, whatever happens
	if err != nil {
		u.log.Error("upload failed", "model", model, "id", id, "err", errorDetail(err))
		return file, false, err
	}
	return file, created, nil
}

// patchRefused reports whether err says that a patch was not applied and
// will not be: a refusal by the rules, a Guard or the handler, as opposed
// to a timeout or a failure, after which the handler may yet apply it.
func patchRefused(err error) bool {
	switch models.CodeOf(err) {
	case models.CodeBadRequest, models.CodeNotFound, models.CodeConflict,
		models.CodeUnauthorized, models.CodeForbidden:
		return true
	}
	return false
}

// authorize decides an upload to document id of model by who as the
// patch it is, before anything of it is read: the patch rule must let
// who through, and the document must exist and be readable by who, which
// a read through the model actor tells with the rules applied (another
// owner's document is not_found). Where the patch rule is "owner", the
// document must also be who's, though the read rule may be wider. The
// patch itself is checked again by the model actor, Guards included.
func (u *uploader) authorize(ctx context.Context, sys caller, model, id string, who models.Caller) error {
	if err := u.rules.Check(model, models.Patch, who); err != nil {
		return err
	}
	req, err := models.NewRequest(models.Read, model, models.Props{{Key: "id", Value: []byte(id)}})
	if err != nil {
		return err
	}
	req.Caller = who
	reply, err := sys.Call(ctx, req)
	if err != nil {
		return err
	}
	if u.rules.Access(model, models.Patch) == models.Owner {
		attrs, err := models.FromValue(reply)
		owner, _ := attrs.Text(u.rules.OwnerField(model))
		if err != nil || owner == "" || owner != who.Subject {
			return models.Errorf(models.CodeNotFound, "no %s with id %q", model, id)
		}
	}
	return nil
}

// errTooLarge marks an upload over the limit.
var errTooLarge = errors.New("upload too large")

// errStorage marks a failure of the server's disk, not of the client. A
// [FileStore]'s own errors (an unavailable database) carry their code.
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

// readError maps an error of reading or storing an upload to the
// reply's code. Storage errors are internal: their detail (paths) is
// logged, not sent.
func (u *uploader) readError(err error) error {
	if errors.Is(err, errStorage) {
		return err
	}
	if q, ok := errors.AsType[*quotaError](err); ok {
		return models.Errorf(models.CodeTooLarge, "%s", q.Error())
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok || errors.Is(err, errTooLarge) {
		return models.Errorf(models.CodeTooLarge, "upload: the file is larger than %d bytes", u.max)
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

// receive streams one part to a temporary file while counting it
// against the document's quota and hashing it, and returns what it holds
// and the temporary file's path. On any error nothing is left behind.
func (u *uploader) receive(part *multipart.Part, counted *quotaWriter) (f storedFile, tmpPath string, err error) {
	tmp, err := os.CreateTemp(u.tmpDir, "upload-*")
	if err != nil {
		return f, "", storageError(err)
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
	// The quota first: bytes past it reach neither the disk nor the hash.
	n, err := io.Copy(io.MultiWriter(counted, disk, h, &head), io.LimitReader(part, u.max+1))
	if disk.err != nil {
		return f, "", storageError(disk.err)
	}
	if err != nil {
		return f, "", err
	}
	if n > u.max {
		return f, "", errTooLarge
	}
	if err = tmp.Sync(); err != nil {
		return f, "", storageError(err)
	}
	if err = tmp.Close(); err != nil {
		return f, "", storageError(err)
	}
	f.Sum = hex.EncodeToString(h.Sum(nil))
	f.Size = n
	f.Name = cleanFileName(part.FileName())
	f.Type = mediaType(part.Header.Get("Content-Type"), head.buf)
	return f, tmp.Name(), nil
}

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

package models

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// LockTimeout is how long OpenStore waits for the store file's lock, which
// another process (a second bertsync serve on the same --data) may hold.
const LockTimeout = 2 * time.Second

// MaxDocumentSize is the largest stored document, in bytes of its encoded
// attributes. Writes of larger documents fail with [ErrTooLarge].
const MaxDocumentSize = 1 << 20

var (
	rootBucket  = []byte("models")
	docsBucket  = []byte("docs")
	orderBucket = []byte("order")
)

// Store is the embedded document store: one bbolt file holding a
// collection of documents per model type.
//
// A Store is safe for concurrent use. Every method runs in one bbolt
// transaction, so it sees and makes one consistent change; a method that
// writes returns only after its transaction is committed and synced to
// disk, so an acknowledged write survives a crash. Writes are serialized
// by bbolt; reads run in parallel with each other and with a write.
//
// The file holds one root bucket, "models", with one bucket per model
// type, named by the type. Each type's bucket holds two buckets:
//
//	docs    key: the id's text
//	        value: the record, the BERT term {Seq, [{Key, Value}, ...]}
//	        encoded with the bert.Erlang profile: Seq is the document's
//	        place in insertion order, Keys are binaries, Values the
//	        attributes (without id) exactly as they were given
//	order   key: Seq as 8 bytes big-endian, value: the id
//
// The sequence of order numbers insertions; generated ids are not
// numbered but random (see newDocumentID). Values keep every term of the bert term model as it
// came: a byte list stays a byte list, a list of small integers a list
// (the codec keeps List and ByteList apart), a map a map, a bignum a
// bignum. A byte list longer than 65535 bytes, which no STRING_EXT can
// hold, reads back as a list of integers, as it would from Erlang.
//
// A model type's buckets are made by its first insertion (Insert, or a Put
// that creates) and kept when its last document is removed, with the
// sequence that orders its documents; reads never make any. The
// Store counts the types it holds ([Store.TypeCount]), so that
// [Documents] can bound them.
type Store struct {
	db    *bbolt.DB
	path  string
	cfg   StoreConfig
	epoch string
	// types counts the model types' buckets: at open, and then after
	// each commit that made some (the committer, commit.go, is the one
	// writer).
	types atomic.Int64
	// now is the clock of the history's TTL; tests replace it.
	now func() time.Time
	// history counts the events in each type's history, for
	// ObserveHistory; only the committer touches it once open.
	history map[string]int

	// commits is the group commit (commit.go): the one writer.
	commits  *committer
	closeErr error
	closed   sync.Once
}

// StoreConfig configures [OpenStoreWith]. Its limits follow the rule of
// every bertsync config (docs/limits.md): zero means the default, a
// negative value means no limit.
type StoreConfig struct {
	// History bounds the history of each model type's stream.
	History HistoryConfig
	// MaxTypes bounds the model types a stream's event can make (a
	// broadcast to a new name, or an event of a Go handler's type); zero
	// means DefaultMaxTypes. The document model's writes are bounded by
	// [DocumentsConfig.MaxTypes].
	MaxTypes int
	// ObserveCommit, if set, is called by the committer after each
	// commit with its latency and the number of writes it holds.
	ObserveCommit func(d time.Duration, writes int)
	// ObserveHistory, if set, is called with the number of events in a
	// type's history: for each type at open, and after each commit that
	// changed it.
	ObserveHistory func(model string, events int)
}

// Doc is one stored document: its id and its attributes without the id.
type Doc struct {
	ID    string
	Attrs Props
}

// OpenStore opens the store file at path with the default
// [StoreConfig], creating it and its directory if need be. If another
// process holds the file open, OpenStore fails after [LockTimeout] with
// an error that says so.
func OpenStore(path string) (*Store, error) {
	return openStore(path, StoreConfig{}, LockTimeout)
}

// OpenStoreWith is [OpenStore] configured by cfg.
func OpenStoreWith(path string, cfg StoreConfig) (*Store, error) {
	return openStore(path, cfg, LockTimeout)
}

func openStore(path string, cfg StoreConfig, lockTimeout time.Duration) (*Store, error) {
	if path == "" {
		return nil, errors.New("models: open store: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("models: open store: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: lockTimeout,
		// The freelist is not written at each commit (one page or more
		// fewer per commit, the group commit's cost) but rebuilt by a scan
		// at open; the hashmap freelist allocates in constant time.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("models: open store %s: the file is locked by another process (gave up after %v): %w", path, lockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("models: open store %s: %w", path, err)
	}
	var types int64
	var epoch string
	history := make(map[string]int)
	err = db.Update(func(tx *bbolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(rootBucket)
		if err != nil {
			return err
		}
		if epoch, err = loadEpoch(tx); err != nil {
			return err
		}
		c := root.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil { // a bucket: a model type
				types++
				if events := root.Bucket(k).Bucket(eventsBucket); events != nil {
					history[string(k)] = events.Stats().KeyN
				}
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("models: open store %s: %w", path, err)
	}
	if cfg.ObserveHistory != nil {
		for model, n := range history {
			cfg.ObserveHistory(model, n)
		}
	}
	cfg.History = cfg.History.resolved()
	cfg.MaxTypes = limits.Resolve(cfg.MaxTypes, DefaultMaxTypes)
	s := &Store{db: db, path: path, cfg: cfg, epoch: epoch, now: time.Now, history: history}
	s.types.Store(types)
	s.commits = newCommitter(s, cfg.ObserveCommit)
	return s, nil
}

// Ready reports whether the store file is open (see [DocumentStore]).
func (s *Store) Ready(ctx context.Context) error {
	return s.view(ctx, func(*bbolt.Tx) error { return nil })
}

// TypeCount returns the number of model types the store holds: those
// with a document, or that had one.
func (s *Store) TypeCount() int { return int(s.types.Load()) }

// Path returns the path of the store file.
func (s *Store) Path() string { return s.path }

// Close closes the store file. Operations after Close fail with
// [ErrUnavailable]. Close may be called more than once.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.commits.close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Get returns the attributes of document id of model, or an error
// wrapping [ErrNotFound].
func (s *Store) Get(ctx context.Context, model, id string) (Props, error) {
	var attrs Props
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		_, _, _, attrs, err = findRecord(tx, model, id)
		return err
	})
	return attrs, err
}

// Insert stores a new document and returns its id. With id "" it makes
// one: unguessable, and sorting after those made in earlier milliseconds
// (see newDocumentID).
// A document id that exists is an error wrapping [ErrConflict].
func (s *Store) Insert(ctx context.Context, model, id string, attrs Props) (string, error) {
	return insertDoc(ctx, s, model, id, attrs)
}

// Put replaces the attributes of document id, or stores a new document if
// there is none; created says which. A replaced document keeps its place
// in the collection's order.
func (s *Store) Put(ctx context.Context, model, id string, attrs Props) (created bool, err error) {
	return putDoc(ctx, s, model, id, attrs)
}

// Merge sets the given attributes on document id, keeping the others, and
// returns all its attributes. A missing document is an error wrapping
// [ErrNotFound].
func (s *Store) Merge(ctx context.Context, model, id string, attrs Props) (merged Props, err error) {
	return mergeDoc(ctx, s, model, id, attrs)
}

// Remove deletes document id and returns the attributes it had. A missing
// document is an error wrapping [ErrNotFound].
func (s *Store) Remove(ctx context.Context, model, id string) (old Props, err error) {
	return removeDoc(ctx, s, model, id)
}

// findRecord looks document id of model up in tx: its model's buckets,
// its place in the creation order and its attributes, or an error
// wrapping [ErrNotFound].
func findRecord(tx *bbolt.Tx, model, id string) (docs, order *bbolt.Bucket, seq uint64, attrs Props, err error) {
	docs, order = modelBuckets(tx, model)
	if docs == nil {
		return nil, nil, 0, nil, notFound(model, id)
	}
	v := docs.Get([]byte(id))
	if v == nil {
		return nil, nil, 0, nil, notFound(model, id)
	}
	seq, attrs, err = decodeRecord(v)
	return docs, order, seq, attrs, err
}

// List returns up to limit documents of model in the order they were
// created, skipping the first offset. A model with no documents has an
// empty list. The cost grows with offset + limit.
func (s *Store) List(ctx context.Context, model string, offset, limit int) ([]Doc, error) {
	return listDocs(ctx, s, model, offset, limit)
}

// each calls fn with the documents of model in creation order, after
// skipping the first offset, until fn returns false or an error, or the
// documents end. It decodes one document at a time, so a caller that
// stops early (a collection read that is full) decodes no more than it
// keeps. fn runs inside a read transaction: it must not write to s.
func (s *Store) each(ctx context.Context, model string, offset int, fn func(Doc) (bool, error)) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		docs, order := modelBuckets(tx, model)
		if docs == nil {
			return nil
		}
		c := order.Cursor()
		k, id := c.First()
		for skip := offset; k != nil && skip > 0; skip-- {
			k, id = c.Next()
		}
		for ; k != nil; k, id = c.Next() {
			v := docs.Get(id)
			if v == nil {
				return fmt.Errorf("models: store: order entry %x of %s names a missing document %q", k, model, id)
			}
			_, attrs, err := decodeRecord(v)
			if err != nil {
				return err
			}
			more, err := fn(Doc{ID: string(id), Attrs: attrs})
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}

// Count returns the number of documents of model. It walks the model's
// index, in time proportional to the number of documents.
func (s *Store) Count(ctx context.Context, model string) (int, error) {
	var n int
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if _, order := modelBuckets(tx, model); order != nil {
			n = order.Stats().KeyN
		}
		return nil
	})
	return n, err
}

func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return Errorf(CodeUnavailable, "store: %w", err)
	}
	return storeError(s.db.View(fn))
}

// storeError gives bbolt's errors a reply code; errors of this package
// pass unchanged.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return Errorf(CodeUnavailable, "store closed: %w", err)
	case errors.Is(err, bolterrors.ErrKeyTooLarge), errors.Is(err, bolterrors.ErrValueTooLarge):
		return Errorf(CodeTooLarge, "store: %w", err)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	return fmt.Errorf("models: store: %w", err)
}

func notFound(model, id string) error {
	return Errorf(CodeNotFound, "%s %q not found", model, id)
}

// modelBuckets returns the buckets of model, or nils if it has none yet.
func modelBuckets(tx *bbolt.Tx, model string) (docs, order *bbolt.Bucket) {
	m := tx.Bucket(rootBucket).Bucket([]byte(model))
	if m == nil {
		return nil, nil
	}
	return m.Bucket(docsBucket), m.Bucket(orderBucket)
}

// docCheck vets a document about to be written, inside the write's
// transaction, once its id and attributes are final (a generated id, a
// merge's result) and before its record is encoded: an error rolls the
// write back. The document model checks there that the document fits in
// a reply.
type docCheck func(id string, attrs Props) error

// run applies c, if there is one.
func (c docCheck) run(id string, attrs Props) error {
	if c == nil {
		return nil
	}
	return c(id, attrs)
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// encodeRecord returns the stored form of a document, checking its size.
// The encoding is bounded before it starts: a client's attributes come
// from a message of bounded size (the decoder bounds what it inflates),
// and the document model's check (docCheck) has bounded the document's
// reply, which is at most a few bytes a key smaller than the record.
func encodeRecord(seq uint64, attrs Props) ([]byte, error) {
	if seq > math.MaxInt64 {
		return nil, fmt.Errorf("models: store: sequence %d out of range", seq)
	}
	list := make(bert.List, len(attrs))
	for i, p := range attrs {
		list[i] = bert.Tuple{[]byte(p.Key), p.Value}
	}
	rec, err := bert.Append(nil, bert.Tuple{int64(seq), list}, bert.Erlang)
	if err != nil {
		return nil, Errorf(CodeBadRequest, "attributes cannot be stored: %w", err)
	}
	if len(rec) > MaxDocumentSize {
		return nil, Errorf(CodeTooLarge, "document of %d bytes, the limit is %d", len(rec), MaxDocumentSize)
	}
	return rec, nil
}

// decodeRecord decodes a stored document. v is memory of the bbolt file,
// valid only in its transaction; bert.Unmarshal (without ZeroCopy) copies
// every binary and byte list out of its input, so nothing returned
// aliases v.
func decodeRecord(v []byte) (uint64, Props, error) {
	var term any
	if err := bert.Unmarshal(v, &term); err != nil {
		return 0, nil, fmt.Errorf("models: store: corrupt record: %w", err)
	}
	tup, ok := term.(bert.Tuple)
	if !ok || len(tup) != 2 {
		return 0, nil, fmt.Errorf("models: store: corrupt record: %s, want {Seq, Attrs}", bert.KindOf(term))
	}
	seq, ok := tup[0].(int64)
	if !ok || seq <= 0 {
		return 0, nil, fmt.Errorf("models: store: corrupt record: sequence is %s", bert.KindOf(tup[0]))
	}
	// Without the bounds on a client's props: a record written before a
	// bound existed reads all the same.
	attrs, err := parseProps(tup[1], false)
	if err != nil {
		// %v: a stored record that does not parse is the server's fault,
		// not a bad request.
		return 0, nil, fmt.Errorf("models: store: corrupt record: %v", err)
	}
	return uint64(seq), attrs, nil
}

// recordSeq returns the place of a stored document in its collection. It
// reads the sequence from the record's head when it is a SMALL_INTEGER_EXT
// or INTEGER_EXT, as it is for the first 2^31 - 1 insertions, and decodes
// the whole record otherwise.
func recordSeq(v []byte) (uint64, error) {
	const (
		versionMagic = 131
		smallTuple   = 104
		smallInt     = 97
		integer      = 98
	)
	if len(v) > 4 && v[0] == versionMagic && v[1] == smallTuple && v[2] == 2 {
		switch {
		case v[3] == smallInt && v[4] > 0:
			return uint64(v[4]), nil
		case v[3] == integer && len(v) >= 8:
			if n := int32(binary.BigEndian.Uint32(v[4:8])); n > 0 {
				return uint64(n), nil
			}
		}
	}
	seq, _, err := decodeRecord(v)
	return seq, err
}

// Types returns the names of the model types the store holds, sorted:
// those with a document, or that had one.
func (s *Store) Types(ctx context.Context) ([]string, error) {
	var names []string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(rootBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil { // a bucket: a model type
				names = append(names, string(k))
			}
		}
		return nil
	})
	return names, err
}

// walkCheckEvery is how many documents [Store.Walk] decodes between two
// looks at its context.
const walkCheckEvery = 1024

// Walk calls fn with every document of every model type, the types in
// name order and each type's documents in id order, until fn returns an
// error, which Walk returns, or ctx ends. It runs in one read
// transaction, so fn sees one consistent snapshot of the whole store:
// what a sweep that must not miss a reference needs (a value moved from
// one document to another during the walk is seen in one of them). The
// price is that of a long read transaction in bbolt: writes go on, but
// one that must grow the file waits for the walk to end. fn runs inside
// the transaction: it must not write to s, and must copy what it keeps
// beyond the document's attributes, which are decoded afresh for it.
func (s *Store) Walk(ctx context.Context, fn func(model string, d Doc) error) error {
	return s.view(ctx, func(tx *bbolt.Tx) error {
		n := 0
		root := tx.Bucket(rootBucket)
		c := root.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v != nil {
				continue
			}
			model := string(k)
			docs, _ := modelBuckets(tx, model)
			if docs == nil {
				continue
			}
			dc := docs.Cursor()
			for id, rec := dc.First(); id != nil; id, rec = dc.Next() {
				if n++; n%walkCheckEvery == 0 {
					if err := ctx.Err(); err != nil {
						return Errorf(CodeUnavailable, "store: %w", err)
					}
				}
				_, attrs, err := decodeRecord(rec)
				if err != nil {
					return fmt.Errorf("%w (%s %q)", err, model, id)
				}
				if err := fn(model, Doc{ID: string(id), Attrs: attrs}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Store returns the store d serves its documents from, for what must see
// them all outside any request: the gateway's sweep of unreferenced
// uploads. It is here, beside the store's other whole-store functions,
// rather than in documents.go. A nil d has none.
func (d *Documents) Store() DocumentStore {
	if d == nil {
		return nil
	}
	return d.store
}

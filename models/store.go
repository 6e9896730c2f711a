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
	"github.com/bertsync/bertsync/internal/wal"
	"github.com/tidwall/btree"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// walSuffix, added to the store file's path, names the directory of its
// write-ahead log.
const walSuffix = ".wal"

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
// A Store is safe for concurrent use. Every method sees and makes one
// consistent change. A method that writes returns only once its change
// is in the store's write-ahead log and synced to disk, so that an
// acknowledged write survives a crash; the log is applied to the bbolt
// file in the background and replayed into it at open after a crash
// (store_apply.go). Writes are serialized by one committer; reads run in
// parallel with each other and with writes, and see every acknowledged
// write.
//
// The log is the directory named by the file's path and ".wal"
// (internal/wal), which belongs to the file: a copy of the store is the
// file and that directory, taken together while the store is closed.
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
	commits *committer

	// The write-ahead log and the pending changes (store_apply.go).
	// wal is the log; applied is the log position the file has applied,
	// set by the applier; published is what reads see of the pending
	// changes.
	wal       *wal.Log
	applied   atomic.Uint64
	published atomic.Pointer[pendingState]
	applier   *applier
	applyMu   sync.Mutex // one applyPending at a time
	// Only the committer touches these: pending is its working tree of
	// the pending changes, changeLog every change in it in log order
	// (those since replaced too), pendingBytes their size, and pruned
	// the position up to which they have been pruned. recordBuf is the
	// buffer a group writes its log records in, kept for the next: the
	// log copies them.
	pending      *btree.BTreeG[*change]
	changeLog    []*change
	pendingBytes int
	pruned       uint64
	recordBuf    []byte
	// replaced holds the changes of changeLog that a later committed
	// change of the same key replaced in pending, so that the prune need
	// not look each change up to learn whether the tree still holds it.
	// It is kept apart from the changes, which reads share.
	replaced map[*change]struct{}

	stopApplier chan struct{}
	closeErr    error
	closed      sync.Once
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

	// pending bounds the pending changes (store_apply.go); its zero
	// fields mean the defaults. The tests change them.
	pending pendingConfig
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
	s := &Store{db: db, path: path, now: time.Now, pending: newPendingTree(), replaced: make(map[*change]struct{})}
	if err := s.load(cfg); err != nil {
		if s.wal != nil {
			s.wal.Close()
		}
		db.Close()
		return nil, fmt.Errorf("models: open store %s: %w", path, err)
	}
	s.applier = &applier{kick: make(chan struct{}, 1), done: make(chan struct{})}
	s.applier.cond = sync.NewCond(&s.applier.mu)
	s.stopApplier = make(chan struct{})
	go s.runApplier(s.stopApplier)
	s.commits = newCommitter(s, cfg.ObserveCommit)
	return s, nil
}

// load reads the epoch of the file, opens its log and replays into it
// what it lacks, and counts its types and histories.
func (s *Store) load(cfg StoreConfig) error {
	var applied uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(rootBucket); err != nil {
			return err
		}
		applied = fileApplied(tx)
		var err error
		s.epoch, err = loadEpoch(tx)
		return err
	})
	if err != nil {
		return err
	}
	if s.wal, err = wal.Open(s.path+walSuffix, applied, wal.Options{SegmentSize: walSegmentSize}); err != nil {
		return err
	}
	s.applied.Store(applied)
	s.pruned = applied
	if err := s.replayLog(); err != nil {
		return err
	}
	var types int64
	history := make(map[string]int)
	err = s.db.View(func(tx *bbolt.Tx) error {
		root := tx.Bucket(rootBucket)
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
		return err
	}
	if cfg.ObserveHistory != nil {
		for model, n := range history {
			cfg.ObserveHistory(model, n)
		}
	}
	cfg.History = cfg.History.resolved()
	cfg.MaxTypes = limits.Resolve(cfg.MaxTypes, DefaultMaxTypes)
	cfg.pending = cfg.pending.resolved()
	s.cfg, s.history = cfg, history
	s.types.Store(types)
	return nil
}

// Ready reports whether the store file is open (see [DocumentStore]).
func (s *Store) Ready(ctx context.Context) error {
	return s.view(ctx, func(*storeView) error { return nil })
}

// TypeCount returns the number of model types the store holds: those
// with a document, or that had one.
func (s *Store) TypeCount() int { return int(s.types.Load()) }

// Path returns the path of the store file.
func (s *Store) Path() string { return s.path }

// Close closes the store file, once the writes handed over are in the
// log and the log is applied to the file. Operations after Close fail
// with [ErrUnavailable]. Close may be called more than once.
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.commits.close()
		close(s.stopApplier)
		<-s.applier.done
		s.closeErr = errors.Join(s.applier.err, s.wal.Close(), s.db.Close())
	})
	return s.closeErr
}

// Get returns the attributes of document id of model, or an error
// wrapping [ErrNotFound].
func (s *Store) Get(ctx context.Context, model, id string) (Props, error) {
	var attrs Props
	err := s.view(ctx, func(v *storeView) error {
		var err error
		_, attrs, err = findRecord(v, model, id)
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

// findRecord looks document id of model up in view: its place in the
// creation order and its attributes, or an error wrapping
// [ErrNotFound].
func findRecord(view *storeView, model, id string) (seq uint64, attrs Props, err error) {
	v := view.get(model, partDocs, []byte(id))
	if v == nil {
		return 0, nil, notFound(model, id)
	}
	return decodeRecord(v)
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
	return s.view(ctx, func(view *storeView) error {
		c := view.cursor(model, partOrder)
		defer c.release()
		k, id := c.first()
		for skip := offset; k != nil && skip > 0; skip-- {
			k, id = c.next()
		}
		for ; k != nil; k, id = c.next() {
			v := view.get(model, partDocs, id)
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
	err := s.view(ctx, func(v *storeView) error {
		n = v.count(model, partOrder)
		return nil
	})
	return n, err
}

// view runs fn in a consistent view of the store. The pending changes
// are taken before the file's transaction begins, so that the file has
// applied at least those the committer has dropped from them.
func (s *Store) view(ctx context.Context, fn func(*storeView) error) error {
	if err := ctx.Err(); err != nil {
		return Errorf(CodeUnavailable, "store: %w", err)
	}
	var pending *btree.BTreeG[*change]
	if st := s.published.Load(); st != nil {
		pending = st.tree
	}
	return storeError(s.db.View(func(btx *bbolt.Tx) error {
		return fn(&storeView{btx: btx, pending: pending, applied: fileApplied(btx)})
	}))
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
	// The pairs share one backing array, as in Props.Term; a string
	// encodes as a binary, as the key is stored.
	list := make(bert.List, len(attrs))
	elems := make([]any, 2*len(attrs))
	for i, p := range attrs {
		kv := elems[2*i : 2*i+2 : 2*i+2]
		kv[0], kv[1] = p.Key, p.Value
		list[i] = bert.Tuple(kv)
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
	err := s.view(ctx, func(v *storeView) error {
		names = v.types()
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
	return s.view(ctx, func(view *storeView) error {
		n := 0
		for _, model := range view.types() {
			if err := walkType(ctx, view, model, &n, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// walkType is Walk's walk of the documents of model; n counts the
// documents walked.
func walkType(ctx context.Context, view *storeView, model string, n *int, fn func(model string, d Doc) error) error {
	dc := view.cursor(model, partDocs)
	defer dc.release()
	for id, rec := dc.first(); id != nil; id, rec = dc.next() {
		if *n++; *n%walkCheckEvery == 0 {
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
	return nil
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

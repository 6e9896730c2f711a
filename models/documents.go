package models

import (
	"context"
	"fmt"
	"math/big"
	"strconv"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
)

// DefaultMaxTypes is the number of model types the document model makes
// in its store when [DocumentsConfig.MaxTypes] is zero.
const DefaultMaxTypes = 1000

// DefaultListLimit is how many documents a collection read returns when
// the request has no limit property; MaxListLimit is the most it returns
// whatever the limit asked. A client pages through longer collections
// with offset.
const (
	DefaultListLimit = 1000
	MaxListLimit     = 1000
)

// Documents is the generic document model: it serves every model type
// that has no Go handler as a collection of documents in a
// [DocumentStore]: a [Store] or a [PGStore].
//
// The methods, for a request of model type T:
//
//   - create stores the attributes as a new document. The id is the
//     request's id, or, when it has none, one the store makes: 29
//     characters of lowercase base32hex holding the time in milliseconds
//     and 96 random bits. Random, so that one document's id tells nothing
//     of another's and cannot be guessed (a counter would hand every
//     client the ids of everyone's documents); time first, so that an id
//     made in a later millisecond sorts later. An id that exists,
//     generated or chosen by a client, is [ErrConflict].
//   - read with an id returns the document or [ErrNotFound]; read without
//     an id returns the collection in creation order, at most limit
//     documents (default [DefaultListLimit], capped at [MaxListLimit])
//     after skipping offset; both are non-negative integers (or their
//     decimal text, or a whole float such as 10.0 from JSON) and any other
//     value is [ErrBadRequest]. The page also stops before the document
//     that would take the reply past [Request.MaxReplySize], so it may be
//     shorter than limit while more follow: a client reads on with offset
//     until an empty page, which alone ends the collection.
//   - update replaces all attributes of the document. Update of an id that
//     does not exist creates the document ("upsert"): Backbone sends update
//     for any model that has an id, including one whose id the client chose.
//   - patch sets the given attributes and keeps the others; a missing id is
//     [ErrNotFound].
//   - delete removes the document and returns its last attributes; a
//     missing id is [ErrNotFound].
//
// update, patch and delete need an id ([ErrBadRequest] without one). Every
// reply is the document's attributes as [Props] with "id" first, as a
// binary whatever form the client sent it in; a collection read returns
// []Props. The "id" property is never stored as an attribute: it is the
// document's key. Attribute values are stored as they came, so a document
// reads back exactly as it was written. A document larger than
// [MaxDocumentSize] encoded is [ErrTooLarge], and so, before anything is
// committed, is a create, update or patch whose document would not fit in
// a reply of [Request.MaxReplySize] bytes; one that cannot be encoded as
// a reply in the BERT-JS profile is [ErrBadRequest].
//
// The model types in the store are bounded ([DocumentsConfig.MaxTypes]),
// since any name a client sends is a type: a create, or an update that
// creates, into a type the store does not hold yet is [ErrForbidden] once
// the store holds MaxTypes types (those already in the file at open
// count). Every other request, into any type, goes on, and a request that
// makes no document (a read, a patch or delete of a missing one) never
// makes a type: a read of an unknown type is an empty collection or
// [ErrNotFound].
//
// Documents is safe for concurrent use, as is the store beneath it.
type Documents struct {
	store    DocumentStore
	allow    map[string]struct{}
	maxTypes int
	// defaultList and maxList are DefaultListLimit and MaxListLimit; tests
	// lower them to page through small collections.
	defaultList, maxList int
}

// DocumentsConfig configures [NewDocumentsWith]. Its limits follow the
// rule of every bertsync config (docs/limits.md): zero means the
// Default… constant, a negative value means no limit.
type DocumentsConfig struct {
	// Models, if not empty, lists the only model types served; otherwise
	// every type is.
	Models []string
	// MaxTypes bounds the model types in the store: a write that would
	// make one more is refused with [ErrForbidden]. Zero means
	// DefaultMaxTypes.
	MaxTypes int
}

// NewDocuments returns the document model on store with the default
// bound on the model types. If allow is not empty, only the model types
// it names are served; otherwise every type is.
func NewDocuments(store DocumentStore, allow []string) *Documents {
	return NewDocumentsWith(store, DocumentsConfig{Models: allow})
}

// NewDocumentsWith returns the document model on store configured by cfg.
func NewDocumentsWith(store DocumentStore, cfg DocumentsConfig) *Documents {
	// A nil store of either kind is no store: Handler serves nothing and
	// Store returns nil.
	switch s := store.(type) {
	case *Store:
		if s == nil {
			store = nil
		}
	case *PGStore:
		if s == nil {
			store = nil
		}
	}
	d := &Documents{
		store:       store,
		maxTypes:    limits.Resolve(cfg.MaxTypes, DefaultMaxTypes),
		defaultList: DefaultListLimit,
		maxList:     MaxListLimit,
	}
	if len(cfg.Models) > 0 {
		d.allow = make(map[string]struct{}, len(cfg.Models))
		for _, name := range cfg.Models {
			d.allow[name] = struct{}{}
		}
	}
	return d
}

// MaxTypes returns the resolved bound on the model types in the store: a
// negative value means none.
func (d *Documents) MaxTypes() int { return d.maxTypes }

// Handler returns the handler of model type model and true, or false if
// the document model does not serve that type: it is not in the allow
// list, or it is not a valid model name.
func (d *Documents) Handler(model string) (Handler, bool) {
	if d == nil || d.store == nil || checkModelName(model) != nil {
		return nil, false
	}
	if d.allow != nil {
		if _, ok := d.allow[model]; !ok {
			return nil, false
		}
	}
	return docHandler{d: d, model: model}, true
}

// docHandler serves one model type from the store.
type docHandler struct {
	d     *Documents
	model string
}

var _ Handler = docHandler{}

func (h docHandler) Sync(ctx context.Context, req Request) (any, error) {
	change, ok, err := h.Stage(ctx, req)
	if err != nil {
		return nil, err
	}
	if !ok {
		return h.read(ctx, req)
	}
	var reply any
	err = h.d.store.Commit(ctx, []Write{func(tx Tx) (err error) {
		reply, err = change(tx)
		return err
	}})[0]
	return reply, err
}

var _ Stager = docHandler{}

// Stage returns the change of a create, update, patch or delete, which
// runs in a transaction of the store it serves from.
func (h docHandler) Stage(ctx context.Context, req Request) (Change, bool, error) {
	id := req.ID
	if id == "" {
		var err error
		if id, err = idOf(req.Props); err != nil {
			return nil, false, err
		}
	}
	attrs := req.Props.Delete("id")
	check := replyCheck(req.MaxReplySize)
	var change func(tx docTx) (any, error)
	switch req.Method {
	case Create:
		change = func(tx docTx) (any, error) {
			id, err := tx.insert(h.model, id, attrs, h.d.maxTypes, check)
			if err != nil {
				return nil, err
			}
			return withID(id, attrs), nil
		}
	case Update, Patch, Delete:
		if id == "" {
			return nil, false, Errorf(CodeBadRequest, "%s of %s needs an id", req.Method, h.model)
		}
		switch req.Method {
		case Update:
			change = func(tx docTx) (any, error) {
				if _, err := tx.replace(h.model, id, attrs, h.d.maxTypes, check); err != nil {
					return nil, err
				}
				return withID(id, attrs), nil
			}
		case Patch:
			change = func(tx docTx) (any, error) {
				merged, err := tx.merge(h.model, id, attrs, check)
				if err != nil {
					return nil, err
				}
				return withID(id, merged), nil
			}
		case Delete:
			change = func(tx docTx) (any, error) {
				old, err := tx.remove(h.model, id)
				if err != nil {
					return nil, err
				}
				return withID(id, old), nil
			}
		}
	default:
		return nil, false, nil
	}
	return func(tx Tx) (any, error) {
		dtx, ok := tx.(docTx)
		if !ok || dtx.store() != h.d.store {
			return nil, fmt.Errorf("models: the %s documents are in another store than this transaction's", h.model)
		}
		return change(dtx)
	}, true, nil
}

// read serves a read: one document, or the collection.
func (h docHandler) read(ctx context.Context, req Request) (any, error) {
	if req.Method != Read {
		return nil, Errorf(CodeBadRequest, "unknown method %q", req.Method)
	}
	id := req.ID
	if id == "" {
		var err error
		if id, err = idOf(req.Props); err != nil {
			return nil, err
		}
	}
	if id == "" {
		return h.list(ctx, req.Props, req.Owned, req.MaxReplySize)
	}
	attrs, err := h.d.store.Get(ctx, h.model, id)
	if err != nil {
		return nil, err
	}
	return withID(id, attrs), nil
}

// list is a collection read: at most limit documents after offset, and
// no more than fit in a reply of maxReply bytes (see [page]).
func (h docHandler) list(ctx context.Context, props Props, owned *Ownership, maxReply int) ([]Props, error) {
	limit, err := countProp(props, "limit", h.d.defaultList)
	if err != nil {
		return nil, err
	}
	limit = min(limit, h.d.maxList)
	offset, err := countProp(props, "offset", 0)
	if err != nil {
		return nil, err
	}
	p := page{max: maxReply, limit: limit, offset: offset}
	if limit == 0 {
		return p.out(), nil
	}
	if owned != nil {
		return h.listOwned(ctx, *owned, &p)
	}
	err = h.d.store.each(ctx, h.model, offset, p.add)
	if err != nil {
		return nil, err
	}
	return p.out(), nil
}

// listOwned is a collection read of one owner's documents: offset and
// limit count theirs alone. The store keeps no index by owner, so it
// reads the type's documents in creation order and keeps the owner's:
// the cost grows with the type's size, not the owner's.
func (h docHandler) listOwned(ctx context.Context, owned Ownership, p *page) ([]Props, error) {
	skip := p.offset
	err := h.d.store.each(ctx, h.model, 0, func(d Doc) (bool, error) {
		if owner, ok := d.Attrs.Text(owned.Field); !ok || owner != owned.Subject {
			return true, nil
		}
		if skip > 0 {
			skip--
			return true, nil
		}
		return p.add(d)
	})
	if err != nil {
		return nil, err
	}
	return p.out(), nil
}

// page gathers the documents of one collection read: at most limit, and
// no more than one reply carries. Its size is counted as the reply's
// list encodes in the BERT-JS profile (the server's default): once the
// next document would take the list past max bytes the page ends there,
// shorter than limit, and the client reads on with offset (the end of
// a collection is an empty page; docs/protocol.md). A document that
// alone does not fit is an error: an empty page would end the reading.
type page struct {
	max           int // Request.MaxReplySize; not positive: no limit
	limit, offset int
	docs          []Props
	size          int    // of the list encoded with docs
	buf           []byte // scratch for the encodings
}

// listFraming is what a non-empty list adds to its elements: the
// LIST_EXT header (5 bytes) and the NIL_EXT tail.
const listFraming = 6

// add takes document d if it fits, and reports whether the page takes
// more. It has the signature of a [Store.each] callback.
func (p *page) add(d Doc) (bool, error) {
	doc := withID(d.ID, d.Attrs)
	if limits.Set(p.max) {
		n, err := p.encodedSize(doc)
		if err != nil {
			return false, Errorf(CodeInternal, "the document at offset %d (id %q) cannot be sent: %v; read on with offset %d",
				p.offset+len(p.docs), truncate(d.ID, 64), err, p.offset+len(p.docs)+1)
		}
		size := p.size + n
		if len(p.docs) == 0 {
			size += listFraming
		}
		if size > p.max {
			if len(p.docs) == 0 {
				return false, Errorf(CodeTooLarge, "the document at offset %d (id %q) takes %d bytes, more than a reply carries (%d); read on with offset %d",
					p.offset, truncate(d.ID, 64), n, p.max, p.offset+1)
			}
			return false, nil
		}
		p.size = size
	}
	p.docs = append(p.docs, doc)
	return len(p.docs) < p.limit, nil
}

// encodedSize returns the size of doc as an element of the reply.
func (p *page) encodedSize(doc Props) (int, error) {
	var err error
	p.buf, err = bert.Append(p.buf[:0], doc.Term(), bert.BERTJS)
	if err != nil {
		return 0, err
	}
	return len(p.buf) - 1, nil // without the version byte
}

// out returns the page's documents, an empty list when none.
func (p *page) out() []Props {
	if p.docs == nil {
		return []Props{}
	}
	return p.docs
}

// replyCheck returns the check a write of the document model makes
// before it commits (see [docCheck]): that the document's reply encodes
// in the BERT-JS profile, and in at most maxReply bytes when that is
// positive, so that nothing is committed that cannot be answered and
// read back. (The push of the change is counted in maxReply too: see
// [Request.MaxReplySize].)
func replyCheck(maxReply int) docCheck {
	return func(id string, attrs Props) error {
		var p page
		n, err := p.encodedSize(withID(id, attrs))
		if err != nil {
			return Errorf(CodeBadRequest, "the document cannot be sent back: %v", err)
		}
		if limits.Exceeds(n, maxReply) {
			return Errorf(CodeTooLarge, "the document takes %d bytes as a reply, the limit is %d", n, maxReply)
		}
		return nil
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// countProp returns the non-negative integer value of key, or def when
// props has no key or it is nil. Values past the int range are clamped:
// they mean "everything" for limit and "nothing" for offset either way.
func countProp(props Props, key string, def int) (int, error) {
	v, ok := props.Get(key)
	if !ok || v == nil {
		return def, nil
	}
	bad := func() (int, error) {
		return 0, Errorf(CodeBadRequest, "%s is %s, want a non-negative integer", key, bert.KindOf(v))
	}
	switch n := v.(type) {
	case int64:
		if n < 0 {
			return bad()
		}
		return int(min(n, int64(maxInt))), nil
	case int:
		if n < 0 {
			return bad()
		}
		return n, nil
	case *big.Int:
		if n == nil || n.Sign() < 0 {
			return bad()
		}
		return maxInt, nil
	case float64:
		if i, ok := integralFloat(n); ok && i >= 0 {
			return int(i), nil
		}
		return bad()
	}
	if s, ok := bert.AsString(v); ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return maxInt, nil
			}
			return 0, Errorf(CodeBadRequest, "%s is %q, want a non-negative integer", key, s)
		}
		return int(min(n, uint64(maxInt))), nil
	}
	return bad()
}

const maxInt = int(^uint(0) >> 1)

// withID returns the reply for document id: its attributes with "id"
// first, as a binary.
func withID(id string, attrs Props) Props {
	out := make(Props, 0, len(attrs)+1)
	out = append(out, Prop{Key: "id", Value: []byte(id)})
	for _, p := range attrs {
		if p.Key != "id" {
			out = append(out, p)
		}
	}
	return out
}

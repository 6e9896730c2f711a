package models

import (
	"context"
	"math/big"
	"strconv"

	"github.com/bertsync/bertsync/bert"
)

// DefaultListLimit is how many documents a collection read returns when
// the request has no limit property; MaxListLimit is the most it returns
// whatever the limit asked. A client pages through longer collections
// with offset.
const (
	DefaultListLimit = 1000
	MaxListLimit     = 1000
)

// Documents is the generic document model: it serves every model type
// that has no Go handler as a collection of documents in a [Store].
//
// The methods, for a request of model type T:
//
//   - create stores the attributes as a new document. The id is the
//     request's id, or, when it has none, the next number of T's sequence
//     as decimal text ("1", "2", ...; a number already taken by a
//     client-chosen id is skipped). An id that exists is [ErrConflict].
//   - read with an id returns the document or [ErrNotFound]; read without
//     an id returns the collection in creation order, at most limit
//     documents (default [DefaultListLimit], capped at [MaxListLimit])
//     after skipping offset; both are non-negative integers (or their
//     decimal text, or a whole float such as 10.0 from JSON) and any other
//     value is [ErrBadRequest].
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
// [MaxDocumentSize] encoded is [ErrTooLarge].
//
// Documents is safe for concurrent use, as is the Store beneath it.
type Documents struct {
	store *Store
	allow map[string]struct{}
	// defaultList and maxList are DefaultListLimit and MaxListLimit; tests
	// lower them to page through small collections.
	defaultList, maxList int
}

// NewDocuments returns the document model on store. If allow is not empty,
// only the model types it names are served; otherwise every type is.
func NewDocuments(store *Store, allow []string) *Documents {
	d := &Documents{store: store, defaultList: DefaultListLimit, maxList: MaxListLimit}
	if len(allow) > 0 {
		d.allow = make(map[string]struct{}, len(allow))
		for _, name := range allow {
			d.allow[name] = struct{}{}
		}
	}
	return d
}

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
	id := req.ID
	if id == "" {
		var err error
		if id, err = idOf(req.Props); err != nil {
			return nil, err
		}
	}
	attrs := req.Props.Delete("id")
	switch req.Method {
	case Create:
		id, err := h.d.store.Insert(ctx, h.model, id, attrs)
		if err != nil {
			return nil, err
		}
		return withID(id, attrs), nil
	case Read:
		if id == "" {
			return h.list(ctx, req.Props)
		}
		attrs, err := h.d.store.Get(ctx, h.model, id)
		if err != nil {
			return nil, err
		}
		return withID(id, attrs), nil
	case Update:
		if id == "" {
			return nil, Errorf(CodeBadRequest, "update of %s needs an id", h.model)
		}
		if _, err := h.d.store.Put(ctx, h.model, id, attrs); err != nil {
			return nil, err
		}
		return withID(id, attrs), nil
	case Patch:
		if id == "" {
			return nil, Errorf(CodeBadRequest, "patch of %s needs an id", h.model)
		}
		merged, err := h.d.store.Merge(ctx, h.model, id, attrs)
		if err != nil {
			return nil, err
		}
		return withID(id, merged), nil
	case Delete:
		if id == "" {
			return nil, Errorf(CodeBadRequest, "delete of %s needs an id", h.model)
		}
		old, err := h.d.store.Remove(ctx, h.model, id)
		if err != nil {
			return nil, err
		}
		return withID(id, old), nil
	}
	return nil, Errorf(CodeBadRequest, "unknown method %q", req.Method)
}

func (h docHandler) list(ctx context.Context, props Props) ([]Props, error) {
	limit, err := countProp(props, "limit", h.d.defaultList)
	if err != nil {
		return nil, err
	}
	limit = min(limit, h.d.maxList)
	offset, err := countProp(props, "offset", 0)
	if err != nil {
		return nil, err
	}
	docs, err := h.d.store.List(ctx, h.model, offset, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Props, len(docs))
	for i, d := range docs {
		out[i] = withID(d.ID, d.Attrs)
	}
	return out, nil
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

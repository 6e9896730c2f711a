package models

import "context"

// Method is one of the sync methods a model handler serves.
type Method string

// The methods a Handler is called with. subscribe, unsubscribe and
// broadcast never reach a handler: the model actor serves them itself.
const (
	Create Method = "create"
	Read   Method = "read"
	Update Method = "update"
	Patch  Method = "patch"
	Delete Method = "delete"
)

// Request is one call of a model's sync handler, the Go counterpart of
// Erlang's Model:sync(Method, Props).
type Request struct {
	Method Method
	// Model is the model type's name, such as "character".
	Model string
	// ID is the text of the id property, or "" when Props has none.
	ID string
	// Props are the request's properties with their keys as text, in the
	// order the client sent them.
	Props Props
}

// Handler serves the sync methods of one model type. The registry runs each
// model type as one actor, so a Handler is never called concurrently for
// the same type and may keep state without locks.
//
// Sync returns the reply message: for create, read (with an id), update,
// patch and delete the model's attributes (a struct, a map[string]T or
// Props, including "id"); for a collection read a slice of them. Errors map
// to reply codes through [CodeOf]; wrap the Err… values of this package.
type Handler interface {
	Sync(ctx context.Context, req Request) (any, error)
}

// HandlerFunc adapts a function to a [Handler].
type HandlerFunc func(ctx context.Context, req Request) (any, error)

// Sync calls f(ctx, req).
func (f HandlerFunc) Sync(ctx context.Context, req Request) (any, error) { return f(ctx, req) }

var _ Handler = HandlerFunc(nil)

// Prop is one property: its key as text and its value as a term of the
// bert term model (see package bert).
type Prop struct {
	Key   string
	Value any
}

// Props is a property list: the attributes of a model, in order, each key
// at most once. Its wire form is a proplist with atom keys ([Props.Term]);
// [ParseProps] reads every form a client may send.
type Props []Prop

package models

import "context"

// Method is one of the sync methods a model handler serves.
type Method string

// The methods a Handler is called with.
const (
	Create Method = "create"
	Read   Method = "read"
	Update Method = "update"
	Patch  Method = "patch"
	Delete Method = "delete"
)

// The methods the model actor serves itself: they never reach
// [Handler.Sync], but a [Guard] is asked about them and the access rules
// name them.
const (
	Subscribe   Method = "subscribe"
	Unsubscribe Method = "unsubscribe"
	Broadcast   Method = "broadcast"
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
	// Caller is who sent the request; the zero Caller is anonymous, as is
	// every caller when the server runs without authentication.
	Caller Caller
	// Owned is set on a collection read of a type whose read rule is
	// "owner" (see [Rules]): the caller may see their own documents only.
	// A handler should list only those, so that limit and offset count
	// them alone (the document model does); the model actor drops any
	// other document from the reply all the same.
	Owned *Ownership
	// MaxReplySize is the largest reply message, in bytes of its BERT
	// encoding in the BERT-JS profile (without the version byte), that
	// can reach the caller: the message limit less the reply's envelope
	// (and Ref) and, for a change, less the push's. A reply over it is
	// answered {sync, error, {too_large, …}} instead. The model actor
	// sets it on every request; zero, in a Request made by hand, and a
	// negative value mean no limit. The document model trims collection
	// reads to it and refuses writes whose document would not fit.
	MaxReplySize int
}

// Ownership names the documents of one owner: those whose attribute Field
// holds Subject.
type Ownership struct {
	Field, Subject string
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

// Stager is a [Handler] whose changes run in a transaction of the
// [EventLog], as the document model's do: the model actor then commits a
// change and its event together, so that neither is ever without the
// other, and commits the changes waiting for the type in one transaction
// (group commit). A Handler that is not a Stager has its events appended
// after its Sync returns.
type Stager interface {
	Handler
	// Stage returns the change that req makes, with ok true, for the
	// methods that change the model (create, update, patch, delete);
	// for the others ok is false and the request goes to Sync. An error
	// answers req without running anything.
	Stage(ctx context.Context, req Request) (change Change, ok bool, err error)
}

// Change is a staged change: it runs in tx, which it may be given more
// than once (see [Write]), and returns the reply.
type Change func(tx Tx) (reply any, err error)

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

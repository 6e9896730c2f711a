package models

import "context"

// DocumentStore is what the document model, the actors and the gateway
// need of a store: the streams ([EventLog]) and the documents, committed
// together. Its implementations are [Store], the embedded bbolt file of
// one node, and [PGStore], a PostgreSQL database that many nodes share;
// one conformance suite runs against both. Its unexported methods are
// those of the document model, so that only this package implements it.
type DocumentStore interface {
	EventLog
	// Get returns the attributes of document id of model, or an error
	// wrapping [ErrNotFound].
	Get(ctx context.Context, model, id string) (Props, error)
	// List returns up to limit documents of model in the order they were
	// created, skipping the first offset.
	List(ctx context.Context, model string, offset, limit int) ([]Doc, error)
	// Count returns the number of documents of model.
	Count(ctx context.Context, model string) (int, error)
	// Types returns the names of the model types the store holds, sorted
	// bytewise: those with a document, or that had one or an event.
	Types(ctx context.Context) ([]string, error)
	// Walk calls fn with every document of every model type, the types in
	// name order and each type's documents in id order, from one
	// consistent snapshot, until fn returns an error, which Walk returns,
	// or ctx ends. fn must not write to the store.
	Walk(ctx context.Context, fn func(model string, d Doc) error) error
	// Ready reports whether the store is reachable and usable: nil, or
	// an error wrapping [ErrUnavailable] (a readiness probe).
	Ready(ctx context.Context) error
	// Close releases the store; operations after Close fail with
	// [ErrUnavailable].
	Close() error

	// each calls fn with the documents of model in creation order, after
	// skipping the first offset, until fn returns false or an error, or
	// the documents end. fn must not write to the store.
	each(ctx context.Context, model string, offset int, fn func(Doc) (bool, error)) error
}

// docTx is a transaction of a DocumentStore: the stream appends of [Tx]
// and the document model's changes, which commit together. Each change
// follows the method of [Store] of the same name; maxTypes bounds the
// model types a change may make (not positive: no bound), check vets the
// final document before it is written.
type docTx interface {
	Tx
	// store is the store the transaction belongs to.
	store() DocumentStore
	insert(model, id string, attrs Props, maxTypes int, check docCheck) (string, error)
	replace(model, id string, attrs Props, maxTypes int, check docCheck) (created bool, err error)
	merge(model, id string, attrs Props, check docCheck) (Props, error)
	remove(model, id string) (Props, error)
}

var (
	_ DocumentStore = (*Store)(nil)
	_ DocumentStore = (*PGStore)(nil)
)

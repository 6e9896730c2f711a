// Package models is the API Go users register model types with, the
// generic document model that serves every other type, and its store.
//
// # Basics
//
// A model type is the Go counterpart of an Erlang module with a
// sync(Method, Props) function: a [Handler] gets each create, read,
// update, patch and delete of its type as a [Request] and returns the reply
// message or an error whose [Code] the client sees.
//
//	registry := models.NewRegistry()
//	err := registry.Register("character", characters) // a models.Handler
//
// The actor layer turns each {sync, Method, Model, Props} message into a
// Request with [ParseProps] and [NewRequest]: the props term becomes
// [Props], a list of key/value pairs whose keys are text (an atom, a
// binary and a BERT-JS string with the same text are the same key), and
// the "id" property becomes [Request.ID]. A handler reads single values
// with [Props.Get] and [Props.Text], or all of them into its own struct
// with [Props.Bind], which follows the struct's `bert:"name"` tags.
//
// A handler replies with the model's attributes: a struct (through its
// bert tags), a map, or Props; a collection read replies with a slice of
// them. [FromValue] turns any of these into Props and [ReplyTerm] turns
// Props into the proplist with atom keys that goes on the wire.
//
// Errors choose the reply's code: wrap a sentinel such as [ErrNotFound]
// (fmt.Errorf("character %q: %w", id, models.ErrNotFound)) or build one
// with [Errorf]. [CodeOf] and [MessageOf] give the {Code, Message} of a
// reply; an error with no *Error in its chain is CodeInternal and its text
// is not sent, since it may hold file names or other server details.
//
// Example_handler shows a handler in a few lines. A complete model type
// written in Go, served beside the document model by
// gateway.ListenAndServe, is in the repository's examples/character, and
// docs/models.md walks through it.
//
// # The document model
//
// A model type with no Go handler is served by [Documents], a collection
// of documents per type in a [Store], a single bbolt file:
//
//	store, err := models.OpenStore(filepath.Join(dataDir, "bertsync.db"))
//	docs := models.NewDocuments(store, nil) // nil: serve every type
//	h, ok := docs.Handler("character")
//
// create makes an unguessable, time-ordered id when the client gives none;
// read without an id lists the collection in creation order, paged with
// limit and offset; update replaces the attributes and creates a missing
// document (Backbone sends update for any model with an id); patch merges;
// delete returns what it removed. Ids always come back as binaries. The
// [Documents] comment has the details and [Store] the file layout.
//
// Many nodes share a [PGStore] instead ([OpenPostgres]): the same
// documents and streams in a PostgreSQL database (pgx), where each type's
// Seq is taken in the write's transaction, so that commit order is Seq
// order on every node, and [PGStore.Tail] brings each node the events
// the others committed. Both are a [DocumentStore], and [Documents]
// serves from either; [PGFiles] keeps the uploaded files beside them.
//
// Every write is committed and synced to disk before it returns, so a
// reply that reports a change reports a durable one. The Store is also
// the [EventLog] of the model types' streams (DESIGN §5): a change and
// its event commit in one transaction, and the writes queued while a
// commit is on disk share the next one (group commit, commit.go).
//
// # Concurrency
//
// [Registry], [Store] and [Documents] are safe for concurrent use. A
// registered Handler is called by one model actor, never concurrently for
// the same type, and so may keep state without locks. Props are plain
// slices: their methods return new Props and never change their receiver.
//
// # Caveats
//
//   - One process at a time on a [Store]: bbolt locks the store file, and
//     [OpenStore] fails after [LockTimeout] if another bertsync holds it.
//     Many processes share a [PGStore].
//   - Writes go through one committer, which commits what has queued up
//     in one bbolt transaction: many writers share a sync to disk, and a
//     lone one commits at once (see the benchmarks).
//   - The document model makes at most [DocumentsConfig.MaxTypes] model
//     types in its store ([DefaultMaxTypes]; the types in the file count):
//     a create into one more is [ErrForbidden]. Reads never make a type.
//   - A document is at most [MaxDocumentSize] bytes encoded, and no more
//     than a reply carries ([Request.MaxReplySize]); a collection read
//     returns at most [MaxListLimit] documents and no more than fit in a
//     reply, and paging with offset costs time in proportion to the
//     offset.
//   - A client's props are bounded ([ParseProps]): keys of at most
//     [MaxKeySize] bytes that replies can carry as atoms, integers of at
//     most [MaxBignumBytes], values nested at most [MaxValueDepth] deep.
//   - Text values keep their form: a string that came as a BERT-JS byte
//     list is stored and returned as a byte list, a binary as a binary.
//     Only ids are normalized (to binaries). A byte list longer than 65535
//     bytes has no STRING_EXT form and reads back as a list of integers.
//   - Props do not hold the same key twice: [ParseProps] rejects such
//     lists rather than guess which value is meant.
package models

// Package actors runs bertsync's sessions and model types as actors on
// protoactor-go: one session actor per client connection, one model actor
// per model type.
//
// # The actor tree
//
//	a guardian per model type           guardian (stop)
//	(restart, limited)
//	├── model/character$1                ├── session/$2
//	├── model/todo$3                     ├── session/$4
//	└── …  one per model type in use     └── …  one per connection
//
// A model actor is spawned on the first request for its type, with a
// handler found in [Config.Registry] or else in [Config.Documents]; a
// type with neither is unknown, its requests get {sync, error,
// {not_found, …}} and nothing is spawned. The system's own map of model
// types is the one registry (protoactor's names are not used to find
// them). Its supervisor restarts it when it fails, up to
// [Config.MaxModelRestarts] times within [Config.ModelRestartWindow]: a
// handler that panics answers its request {sync, error, {internal, …}},
// the actor is restarted, the requests behind it in its mailbox are
// served, and no connection notices more than that one error.
// Subscribers and the event counter survive the restart. One failure past
// the limit stops the type's handler for one window: its requests get
// {sync, error, {unavailable, …}}, and the first after the window is
// served again.
//
// A model actor with no request for [Config.ModelIdleTimeout] and no
// subscriber is passivated: stopped and removed from the map (its stream
// is in the event log); the next request for its type spawns another. At
// [Config.MaxModels] live actors a new type passivates the least recently
// used idle one, and is refused (that one request) only if none is idle.
// A request already on its way to a passivated actor is served all the
// same (passivation.go says how).
//
// A session actor that fails (a bug of this package) is stopped, not
// restarted, and its connection closed with [InternalError]: its state,
// the order of pending replies, cannot be rebuilt.
//
// # Message flow
//
// The gateway creates a [Session] per connection with [System.NewSession],
// giving it the connection's outbound side as a [Transport], and hands it
// each inbound frame with [Session.Deliver]. The session actor decodes
// the frame, checks the request (docs/protocol.md) and sends it to the model
// actor with a Request; the model actor calls [models.Handler].Sync, one
// request at a time, and responds to the session. A create, update,
// patch, delete or broadcast is an event of the type's stream
// ([Config.Log], DESIGN §5): the model actor stages it and commits what
// is staged in one transaction of the log (batch.go), where the event
// gets its Seq, then pushes {sync, Event, Model, Props, Seq} to every
// session subscribed to the type and answers. subscribe, unsubscribe and
// broadcast are served by the model actor itself: subscribe and
// unsubscribe reply with the stream's position [{seq, Top}, {epoch,
// Epoch}], a subscribe with since also recovers (stream.go); broadcast
// pushes to every subscriber but the sender and replies {sync, ok, Seq}.
// Subscribing twice is one subscription; a stopped session is dropped.
//
// [System.Call] sends a request to the model actor from outside any actor
// (REST, upload); its changes are pushed like any other.
//
// # Ordering and limits
//
// A session answers requests in the order its frames were delivered,
// whatever model types they went to: it keeps a queue, and a reply that
// arrives early waits for the ones before it. A reply goes in the frame
// type (text or binary) of its request and carries the request's Ref as
// its last element when the request had one; pushes go as they arrive,
// between replies, in the latest inbound frame type (text until the
// client has sent binary). Pushes of one model type reach every
// subscriber in Seq order.
//
// Each delivered frame is answered exactly once, bad input included, and
// the frames a session sends in answer have [Frame].Reply set (pushes do
// not), so a transport can match the n-th answer to the n-th frame it
// delivered. A frame that is not BERT,
// has the wrong shape, an unknown method or bad props gets
// {sync, error, {bad_request, …}} (with the Ref if one could be read), a
// message over [Config.MaxMessageSize] {too_large, …}, a request without a
// reply within [Config.RequestTimeout] {unavailable, …}, and a frame
// beyond [Config.MaxPendingRequests] unanswered ones {rate_limited, …},
// without its Ref since it is not decoded. A frame the transport could
// not read carries the reason in [Frame].Err and is answered with it, in
// its place. The session goes on in every case.
//
// The session actor is the only producer of its connection's replies. It
// hands frames to [Transport.Send], which must not block; when Send fails
// (the transport's bounded queue is full, or the connection is gone) the
// session stops and closes the transport with [SlowConsumer] or
// [TransportError]. Nobody else waits for a slow client: a model actor's
// push is one mailbox message per subscriber, encoded once for all, and
// every subscriber's transport gets the same bytes. The session's mailbox
// queues a push on a [PushSender] transport itself, on the model actor's
// goroutine, while the session has no request in flight and no earlier
// push waiting, which keeps the order of what the connection hears
// (sessionpush.go).
//
// A session with no frame and no [Session.Touch] for
// [Config.SessionIdleTimeout] stops with [IdleTimeout]. Pending requests
// count as activity; replies and pushes do not.
//
// # Shutdown
//
// [System.Shutdown] stops accepting sessions and calls, lets each session
// answer what it received and stop with [ServerShutdown], then lets each
// model actor finish its mailbox and stop. The store can be closed after
// it returns.
//
// # Concurrency
//
// [System] and [Session] methods are safe for concurrent use and, but for
// Call and Shutdown, never block. [Transport] methods are called by the
// session actor only, never concurrently with each other. Handlers are
// called by their model actor only, one request at a time, so a handler
// may keep state without locks.
//
// # protoactor-go
//
// Its logs go to [Config.Logger] with lib=protoactor, one level lower
// (its Info is our Debug); its Prometheus metrics are off, so it binds no
// port. Three things of this version are avoided on purpose, each checked
// with the race detector:
//
//   - SetReceiveTimeout: its timer goroutine writes the actor's context
//     while the actor runs (asynkron/protoactor-go#1139). Sessions keep
//     their own idle timer, which only sends a message.
//   - RequestFuture: a reply that arrives as the future times out writes
//     the result while Result reads it (asynkron/protoactor-go#1145).
//     [System.Call] waits on a channel of its own.
//   - The default dispatcher starts a goroutine per mailbox run, whose
//     small stack then grows by copying on nearly every request (about a quarter
//     of the CPU time of a round trip). The actors here run on parked
//     workers that keep their stacks (see BenchmarkRoundTrip).
//
// Dead letters (replies and pushes to a session that just stopped) are
// routine and not logged.
package actors

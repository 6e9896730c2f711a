// Package gateway is bertsync's HTTP front: the Bullet endpoint, where
// browsers running bullet.js and BERT-JS (or bertsync.js, our client)
// reach their session actors, and the REST, upload and static handlers
// beside it. [ListenAndServe] runs a whole server (store, actors, gateway,
// graceful shutdown), as bertsync serve and examples/character do; [New]
// returns just the [Server], an [http.Handler] to mount beside other
// routes.
//
// # The Bullet endpoint
//
// One URL, [Config.Path] (default /bullet), serves every transport; the
// request chooses, as Bullet's Cowboy handler does (docs/bullet.md):
//
//	Upgrade: websocket                    WebSocket
//	GET, Accept: text/event-stream        EventSource
//	any other GET (bullet.js adds ?_=ms)  long-poll
//	POST                                  one message from the client
//	anything else                         405, Allow: GET, POST
//
// Browser requests (those with an Origin header) must come from the
// server's own origin or one of [Config.AllowedOrigins]; others get 403
// with the reason. Once shutdown has begun, requests get 503, but for the
// polls and streams of sessions that still have messages for their
// clients.
//
// # Admission
//
// Every request, on every route, must name a host the server serves
// ([Config.AllowedHosts]: by default the loopback names; [ListenAndServe]
// derives them from its listen address), or it gets 421 Misdirected
// Request. This defeats DNS rebinding, where a page of evil.example makes
// its name resolve to this server: the browser still sends Host:
// evil.example and, the Origin matching that Host, would pass the
// same-origin check. A page's own origin is therefore the Host it asked
// for only once that Host is one of the allowed.
//
// Connections that stay open (WebSockets, EventSource streams,
// long-polls) are bounded in all by [Config.MaxConns] and per client
// address (an IPv4 address, an IPv6 /64) by [Config.MaxConnsPerAddr];
// polling sessions by [Config.MaxPollSessions] and the same per-address
// bound. Past a bound a request gets 503 (the server is full) or 429 (this
// address holds its share), with the reason, before any upgrade, so one
// client cannot starve the others. [ListenAndServe] also closes, as soon
// as they are accepted, TCP connections of an address that already has
// twice MaxConnsPerAddr open, so that connections sending no request, or
// idle between requests, cannot take every file descriptor either.
//
// Each WebSocket and each polling session has a token bucket of
// [Config.MaxMessageBurst] messages refilled at [Config.MaxMessageRate] a
// second (by default 100 a second, bursts of 200); a message that finds
// it empty is not processed but answered {sync, error, {rate_limited, …}}
// in its place among the replies.
//
// # Messages
//
// A message is one BERT term. On a WebSocket it travels in a binary frame
// as raw bytes, or in a text frame as a BERT-JS "binary string": each
// byte is the character of that value, sent as UTF-8, so a text frame
// carrying BERT starts with U+0083 (the magic byte 131). The text frame
// "ping" is answered "pong"; any other text is answered with
// {sync, error, {bad_request, …}}. A reply goes back in the frame type of
// its request; pushes go in the type of the client's latest message, text
// before the first.
//
// POST bodies and long-poll responses carry one message each, a binary
// string (text/plain; charset=utf-8) for BERT-JS text messages, raw BERT
// (application/octet-stream) otherwise. A POST body is never form-parsed,
// whatever its Content-Type: it is BERT-JS text when it starts with the
// UTF-8 bytes C2 83, raw BERT when it starts with the byte 131.
//
// EventSource cannot carry the byte CR, and its lines end at LF. Events
// are therefore encoded in one of two ways:
//
//   - base64, for clients that ask with the query parameter bertsync=1
//     (bertsync.js does): each message is one "data:" line holding the
//     standard base64 of its bytes; atob(event.data) gives the binary
//     string BERT-JS decodes.
//   - stock, for bullet.js: the binary string, split at each LF into
//     "data:" lines, which the browser joins with LF again. A message
//     holding a CR byte cannot be sent so: the stream ends before it,
//     the message stays buffered, and the session refuses stock
//     EventSource requests from then on with 406. bullet.js reconnects,
//     sees the refusal before the stream opens and falls back to
//     long-polling, which delivers the message. Nothing is corrupted and
//     nothing is lost.
//
// Every malformed message gets an error reply and the connection lives
// on: a message over the actors' MaxMessageSize gets {sync, error,
// {too_large, …}} (the rest of it is read and discarded, up to 16 times
// the limit, beyond which a WebSocket is closed with 1009), a text frame
// or body that is not a binary string {bad_request, …}, and whatever the
// session cannot decode its own error. These replies keep their place
// among the other replies, so a client matching replies by order stays in
// step.
//
// # Sessions
//
// Each WebSocket connection has its own session ([actors.Session]),
// which ends when the socket closes. The HTTP transports are many
// requests for one client: a session cookie (bertsync_session, HttpOnly,
// SameSite=Lax, Path=[Config.Path]) ties its polls, EventSource streams
// and POSTs to one session, created by the first request without a valid
// cookie. Tabs share cookies, so a client may add ?channel=<id> (1 to 64
// characters of A-Z a-z 0-9 - _) to give each page its own session under
// the browser's cookie; bertsync.js does, stock bullet.js does not and
// gets one session per browser, as in Bullet. A cookie is only ever
// kept when the server issued it and it still has a live session. The
// session keeps what arrives between polls in its outbound queue, so the
// fallback loses nothing that Bullet would lose; a message leaves the
// queue only to be written, and one whose write fails goes back for the
// next poll. The reply to a POST is that POST's response (or, if that
// cannot be written, the next poll's); pushes go to the polls and
// streams. A session without requests for the
// actors' SessionIdleTimeout ends, and its cookie then starts a new one.
//
// # Limits and slow clients
//
// Every read and write has a deadline ([Config.WriteTimeout],
// [Config.PongTimeout]). The server pings WebSocket clients and sends
// EventSource comments every [Config.PingInterval], so idle connections
// stay up behind proxies. Outbound messages wait in one queue per client,
// the same type for every transport (internal/outqueue), bounded by
// [Config.MaxQueue] messages and [Config.MaxQueueSize] bytes; a client
// whose queue would pass either is a slow consumer and its session is
// closed (WebSocket close 1008, the reason logged), so that it slows
// nobody else down. A push is converted to a text frame's form once for
// all its subscribers.
//
// # REST, uploads and browser files
//
// Beside the Bullet endpoint, for stock Backbone.ajaxSync and other JSON
// clients (docs/rest.md is the reference):
//
//	GET    /api/<model>          read the collection (limit, offset, other query parameters as props)
//	POST   /api/<model>          create: 201 and the model
//	GET    /api/<model>/<id>     read
//	PUT    /api/<model>/<id>     update; with a multipart body holding a "file" part: upload
//	PATCH  /api/<model>/<id>     patch
//	DELETE /api/<model>/<id>     delete
//	GET    /files/<m>/<id>/<sha> the uploaded file document id holds, if the caller may read it
//	GET    /bertsync.js, /       the browser client and the demo app, embedded ([WebFS])
//
// The same model actors serve REST and Bullet requests, so REST changes are
// pushed to subscribers. Backbone.emulateHTTP (X-HTTP-Method-Override, a
// _method form field) and Backbone.emulateJSON (the JSON in a "model" form
// field) are honoured; the id in the path wins over one in the body.
// Errors are the HTTP status of their code (bad_request 400, not_found 404,
// conflict 409, unauthorized 401, forbidden 403, too_large 413,
// rate_limited 429, unavailable 503, internal 500) with the body
// {"error": {"code": Code, "message": Message}}. Bodies are JSON mapped to
// terms as [jsonterm.Parse] says, replies terms mapped to JSON as
// [jsonterm.Append] says. Uploads are streamed to [Config.DataDir] and
// stored under their SHA-256, at most [Config.MaxUploadSize] bytes; the
// model's file attribute is set with a patch, so subscribers hear of it.
//
// # Caveats
//
// Browsers share cookies between tabs: two tabs using the HTTP fallbacks
// of stock bullet.js on one origin share one session, and each message
// reaches only one of them. WebSocket clients are unaffected.
//
// A long-poll response that the network loses after the server wrote it
// loses its message, as with Bullet. An EventSource batch whose write
// fails is put back for the session's next request, and may arrive twice
// if part of it got through. A WebSocket's queue dies with its
// connection, as does its session.
//
// # Concurrency
//
// [Server] methods are safe for concurrent use. [Server.Shutdown] refuses
// new sessions and messages, then waits for the connections to end, which
// they do as [actors.System.Shutdown] drains their sessions (call both)
// and as polling clients fetch what their sessions kept for them.
package gateway

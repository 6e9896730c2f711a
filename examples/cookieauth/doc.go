// Command cookieauth is a bertsync server that authenticates its clients
// its own way, with no JWT: a sign-in form at /login sets a session
// cookie the program signs itself (HMAC-SHA256 over the user name and the
// expiry), and a gateway.Authenticator reads that cookie on every request
// of the gateway, WebSocket handshakes and REST calls alike. The access
// rules then keep each user's documents apart ("owner" rules): a user
// reads, changes and hears of their own documents only.
//
//	go run ./examples/cookieauth --addr 127.0.0.1:8083 --data ./data
//
// Open http://127.0.0.1:8083/login, sign in, and the demo app at / is
// yours alone: sign in as someone else in another browser profile and
// the two lists stay apart. Without signing in the demo app is refused
// (unauthorized).
//
// It is an example: the sign-in form takes any user name, with no
// password and no user store, and the signing key is made afresh at
// every start, so that sessions end with the server. A real program
// checks a password (or asks an identity provider) before it sets the
// cookie, and keeps its key.
//
// Because the routes of the program sit beside the gateway's, it builds
// the parts gateway.ListenAndServe would build by hand: the store, the
// document model, the actor system, the gateway, a mux and an
// http.Server, and shuts them down in the same order. docs/security.md
// says what is checked where, and what a cookie means for cross-site
// requests.
package main

// Command guarded is a bertsync server whose Go model handler decides who
// may do what: the character type of a game table, where anyone may look,
// players who signed in keep characters and hear the table live, each
// changes only their own, and the game master (a token whose "role"
// claim is "gm") changes anyone's and alone may broadcast to the table. The handler is a
// models.Guard, so it is asked about every request, subscribe and
// broadcast included, with the caller's identity (the token's sub and
// claims); and it stamps each character with who made it.
//
// Callers authenticate with JWTs (HS256, checked by auth.JWT). So that
// the example runs on its own, it also serves a stand-in for an identity
// provider on a second address: it signs a token for any user name it is
// given, with no password. A real deployment has a real identity provider
// sign the tokens and gives bertsync only the key to check them with.
//
//	go run ./examples/guarded --addr 127.0.0.1:8081 --issuer-addr 127.0.0.1:8082
//
// Then open http://127.0.0.1:8082/, sign in as anyone, as a player or the
// game master, and land on the demo app (served by bertsync at
// http://127.0.0.1:8081/) with a token good for 15 minutes; sign in again
// after that. Sign in as someone else in a private window to watch the
// refusals: the demo app's activity log shows them. Opened without a
// token, the demo app is anonymous and may only read.
//
// From a shell, the issuer's /token gives the bare token:
//
//	token=$(curl -s '127.0.0.1:8082/token?user=gm&role=gm')
//	go run ./cmd/bertsync call "ws://127.0.0.1:8081/bullet?token=$token" \
//	    '{sync, broadcast, character, [{text, <<"Roll for initiative">>}]}'
//
// The characters live in memory; the signing key is made afresh at every
// start (or read from --jwt-secret-file), so tokens do not outlive the
// server. docs/security.md says what is checked where.
package main

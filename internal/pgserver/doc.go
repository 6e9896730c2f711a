// Package pgserver starts a throwaway PostgreSQL server: for tests
// (through internal/pgtest) and for the load tool (`bertsync bench
// --phases cluster`), which both need a real server and not a mock.
//
// [Start] runs initdb into a new temporary directory and a postmaster on a
// free port of 127.0.0.1, with no unix socket and fsync on, so that what
// a caller measures or tests as durable is durable. initdb and postgres
// refuse to run as root, so when this process is root (as in CI
// containers) they run as the user "nobody". [Server.Stop] ends the
// server and removes its directory.
//
// The binaries are looked up in /usr/lib/postgresql/*/bin (Debian's
// packages, newest version first), then on PATH; without them Start
// fails with an error wrapping [ErrNotInstalled].
//
// A Server is not safe for concurrent use: one goroutine drives it.
package pgserver

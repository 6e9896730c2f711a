// Package pgtest starts a real PostgreSQL server for tests and benchmarks.
//
// It is internal/pgserver behind testing.TB: [Start] runs initdb into a
// new temporary directory and a postmaster on a free port of 127.0.0.1,
// with fsync on, so that what a test calls durable is durable. When the
// test runs as root (as in CI containers), initdb and postgres, which
// refuse root, run as the user "nobody". The server is stopped and its
// directory removed by the test's cleanup; on failure the server's log is
// written to the test log.
//
// The binaries are looked up in /usr/lib/postgresql/*/bin (Debian's
// packages, newest version first), then on PATH. A missing PostgreSQL
// fails the test: scripts/setup.sh installs it.
//
// A Server's methods may be called from the test goroutine only.
package pgtest

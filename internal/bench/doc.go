// Package bench measures a bertsync server against baselines started in
// the same process, for `bertsync bench`.
//
// [Run] loads the server under test over loopback in up to six phases,
// always in this order, and prints each phase's figures beside the same
// figures for a baseline:
//
//	idle     memory per idle WebSocket connection: live heap and goroutine
//	         stacks (runtime.MemStats after GC) and RSS, against a TCP-only
//	         floor and a gorilla echo server
//	rt       round trips per second, {sync, read | create, ...} against an
//	         echo of the same bytes, and per CPU second of the process
//	fanout   latency from one update to its push at every subscriber,
//	         against a naive gorilla broadcast hub
//	commit   creates, each a committed write, from one client, from
//	         --clients on one model type and from --clients spread over
//	         --types types, against the echo of the same bytes and the
//	         one-client run, with one client's latency p50/p99 against
//	         another server's (--compare-url, the previous release)
//	auth     read round trips on connections opened with a JWT against
//	         anonymous ones, on a server of its own that authenticates
//	         (--jwt-secret-file)
//	cluster  several `serve` processes on one PostgreSQL database:
//	         cross-node push latency against one node alone, durable
//	         creates per second against pgbench on the same server
//
// Each bertsync run of the round-trip phase is compared with the echo runs
// on either side of it, so that a change in the machine's load moves both
// sides of a ratio.
//
// # Where the server runs
//
// With an empty [Config.URL] the server runs in this process through
// [Config.Serve], which is what makes its heap measurable. With a URL the
// bench loads a running server; [Config.PID] then names its process for
// RSS and CPU time.
//
// # Portability
//
// The bench builds for every GOOS. Some figures need the operating system:
//
//   - CPU time of this process (trips/CPU-s) comes from getrusage(2) and
//     exists on unix systems only; elsewhere the columns show "-" and the
//     report says why.
//   - RSS and the CPU time of another process (--pid) come from /proc and
//     exist on Linux only; elsewhere they show "-" with a note.
//   - The open-file soft limit is raised to the hard limit on unix
//     systems, where every connection costs descriptors under
//     RLIMIT_NOFILE; other systems have no such limit to raise and it is
//     left as is.
//
// # Bounds
//
// Every phase is bounded in count and in time ([Config.Validate] bounds
// the sizes, and every single wait of a reply, push or dial ends after
// fifteen seconds), so that a run stops by itself even against a stuck
// server.
package bench

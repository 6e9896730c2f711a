// Command bench compares bertsync's fan-out with a server built on the
// centrifuge library, over loopback, in one run, so that the figures are
// ratios to a peer measured on the same machine under the same load.
//
// It is a module of its own (github.com/bertsync/bertsync/bench) so that
// bertsync's module never depends on the peer; it reuses the measuring
// helpers of bertsync's internal/bench.
//
// # What it measures
//
// For each subscriber count (-subscribers, 1,000 and 5,000 by default) it
// runs the two servers in turn, centrifuge then bertsync, -repeat times
// (A B A B …). Each run starts the server as a child process (this same
// binary with -serve), so that the server's RSS is its own, then:
//
//   - opens the subscribers and subscribes each to one channel (a
//     centrifuge channel, a bertsync model type), then measures the
//     server's RSS growth per connection, after a forced collection in
//     the child, while the connections are idle;
//   - sends -rounds messages from one more connection, one at a time,
//     each as a publication to every subscriber (centrifuge's client
//     publish, bertsync's {sync, broadcast, …}), and measures the time
//     from sending to each subscriber's receipt; a message that does not
//     reach a subscriber within the round's timeout is lost.
//
// Both servers are loaded by the same client code: one load client with a
// small protocol adapter per server (the handshake, the subscribe, the
// publish and where the round number sits in a push). The push that
// reaches a subscriber has the same size for both (-size bytes of
// WebSocket payload), and both servers are configured alike where they
// have the same knob: a pooled write buffer and a read buffer of 128
// bytes per connection.
//
// The report prints each run and then the ratios bertsync/centrifuge of
// the medians: p50 and p99 push latency and memory per idle connection.
// It exits with status 1 when a message was lost or a run failed.
//
// # Bounds
//
// Every wait (a dial, a reply, a round, the child's start and end) is
// bounded, so the command stops by itself against a stuck server; the
// servers listen on 127.0.0.1 only.
package main

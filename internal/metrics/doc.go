// Package metrics holds bertsync's Prometheus collectors: one [Metrics]
// per server, with a registry of its own (no global one), served by
// [Metrics.Handler] on a listener apart from the clients' (bertsync serve
// --metrics-addr). docs/operations.md lists every metric.
//
// The package is a leaf: it imports no bertsync package, and the packages
// it instruments (gateway, actors, models) call its methods with plain
// values. Every method is safe for concurrent use and does nothing on a
// nil *Metrics, which is what a server without metrics holds, so a call
// site needs no check of its own.
//
// Label values are bounded, since each one is a time series kept for the
// life of the process: transports, close reasons, request methods and
// reply codes are fixed vocabularies of their callers, and a model type
// gets a label of its own only when it was named when the Metrics was
// made ([Options.Models]); every other type counts as "other".
package metrics

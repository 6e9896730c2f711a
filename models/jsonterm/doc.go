// Package jsonterm maps JSON to terms of package bert and back, the
// mapping of the REST API (docs/rest.md): [Parse] reads a JSON value into
// the term model (objects become proplists with atom keys, integers stay
// exact), and [Append] writes a term, or a Go value a handler replies
// with such as [models.Props], as JSON. Canonical JSON comes back through
// the two byte for byte; Parse documents the exceptions.
//
// Input is treated as hostile: Parse bounds nesting and atom length and
// fails with a *[ParseError], which says what and where, for the caller to
// map to its own error (the REST API answers bad_request). Append refuses
// what JSON cannot hold (NaN, infinities) and prints integers a double
// would round as strings, since JavaScript is the usual reader.
//
// The functions keep no state and are safe to call from many goroutines
// at once.
package jsonterm

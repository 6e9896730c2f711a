// Package erltext reads and writes Erlang term text, the notation of
// Erlang's shell and io_lib:format("~w"), for the terms of package bert.
//
// [Format] writes a term so that Erlang's erl_scan:string and
// erl_parse:parse_term read back the identical term, [FormatPretty] breaks
// it over lines the way ~p does, and [Parse] reads what parse_term reads.
// Parse returns the Go forms that bert's decoder gives for Erlang's
// term_to_binary of the same term, so text and bytes compare equal with
// [bert.Equal]. Its errors are [*ParseError], with the line and column of
// the fault.
//
// Both sides treat their input as hostile: nesting, integer literals and
// the binaries of one text are bounded (see [Parse] and [Format]), so no
// text or value exhausts the stack or memory.
//
// The functions keep no state and are safe to call from many goroutines
// at once.
package erltext

// Package bert encodes and decodes BERT (Binary ERlang Term): Erlang's
// external term format, as used by BERT-JS front ends and Erlang nodes.
// Its API follows encoding/json.
//
// # Basics
//
// [Marshal] turns a Go value into an external term (the version byte 131
// followed by the term) and [Unmarshal] does the reverse; [Append] encodes
// into a caller's buffer. [NewEncoder] and [NewDecoder] read and write a
// stream of terms that follow each other with no other framing.
//
// Decoding into an interface value gives the term model described in
// term.go: [Atom], int64 or *big.Int, float64, [Tuple], [List],
// [ImproperList], [ByteList], []byte, [BitBinary], [Map], and for the BERT
// complex types nil, bool, [Dict], time.Time and [Regex]. Decoding into
// structs, maps, slices and scalars goes straight from the bytes to the
// value, with struct tags such as `bert:"name,omitempty"`; see [Unmarshal]
// and [Marshal] for the mapping. [AsString] reads the text of a term that
// may come as an atom, a binary or a byte list; [Equal] compares terms,
// taking a map's associations in any order.
//
// Package bert/erltext reads and writes the terms as Erlang text.
//
// Go's bool and nil encode as the BERT complex types {bert, true},
// {bert, false} and {bert, nil} in both profiles, and those decode back to
// bool and nil. The bare atoms true, false and nil stay atoms. This keeps
// decode → encode lossless: every decoded term encodes back to the same
// term.
//
// # Profiles
//
// Where the external format has several forms for one value, a [Profile]
// chooses. [BERTJS], the default of [Marshal] and [NewEncoder], writes
// what BERT-JS and every Erlang release read: atoms as ATOM_EXT (Latin-1
// only; an atom with characters above U+00FF is an error), floats as the
// 31-byte "%.20e" FLOAT_EXT, [Map] as a proplist. [Erlang] writes what
// term_to_binary writes on OTP 26 and later: UTF-8 atoms, NEW_FLOAT_EXT,
// STRING_EXT for Go slices of integers 0..255, MAP_EXT for [Map]. Both
// use the smallest integer form and encode Go structs and maps as
// proplists with atom keys. In both, a term-model [List] is a LIST_EXT and
// a [ByteList] a STRING_EXT: Erlang reads them as the same term, but
// BERT-JS reads one as an array and the other as a string, so the codec
// keeps them apart.
//
// Decoding accepts everything either profile writes and what Erlang/OTP
// and BERT-JS write: every tag listed in wire.go, zlib-compressed terms,
// and BERT-JS's quirks (non-canonical SMALL_BIG_EXT for small numbers,
// STRING_EXT of length 0, short toExponential() float strings). Pids,
// ports, references and funs are refused with an [UnsupportedTagError].
//
// Decoding a term that term_to_binary wrote (minor_version 2) and encoding
// it again in the Erlang profile gives back the same bytes, with two
// exceptions: compressed input is written uncompressed, and a map is
// written in the order it was decoded in (so the same bytes again), while
// a [Map] built in Go is written in the order it holds, not in Erlang's
// key order.
//
// # Limits
//
// Input is treated as hostile. [Unmarshal] and [Decoder] check the whole
// term before writing anything: every length prefix against the bytes
// that remain (a list cannot claim more elements than there are bytes
// left), nesting against [Limits].MaxDepth, the term's length against
// MaxSize and a compressed term's size against MaxDecompressed. Errors are
// typed and carry the offset: [*SyntaxError], [*UnsupportedTagError],
// [*LimitError] (wrapping [ErrTooDeep] or [ErrTooLarge]) and
// [*UnmarshalTypeError]. No input makes the decoder panic, and none makes
// it allocate more than a small multiple of the input's size: a term
// decoded into an interface takes at most about 20 bytes of memory per
// input byte, and a compressed term only what it really inflates to.
//
// [UnmarshalOptions] with ZeroCopy, and [Decoder.SetZeroCopy], decode
// binaries as sub-slices of the input, so large binaries cost no copy;
// the results then alias the input.
//
// A [Decoder] reading a term that arrives in many small reads, as a large
// one does from a socket, takes time linear in the term's size: after
// each read it goes on checking from where it stopped. It stops reading
// once it has the bytes the term needs, so a peer that waits for an
// answer before it sends more is never waited for.
//
// # The purego build tag
//
// To decode into the term model with few allocations, the package builds
// interface values itself, relying on the runtime's layout of interfaces
// through package unsafe. Built with the tag purego (go build -tags
// purego), it uses plain interface conversions instead and imports no
// unsafe, for platforms and checkers that do not allow it: decoding gives
// the same values, with an allocation more for each tuple, list and
// number outside 0..255 and two more for each small binary (26 instead
// of 4 for the seed's sync request).
//
// # Caveats
//
// A struct's fields are matched to proplist keys exactly, case included;
// unknown keys are ignored and a repeated key takes its last value (as
// maps:from_list, not proplists:get_value, would have it). Small binaries,
// and in the term model the elements of tuples and lists and the boxes
// of numbers and slices, are carved from allocations shared by the
// values of one call, so keeping one of them alive can keep a few
// kilobytes alive (at most 2 KiB of binaries and numbers, 6 KiB of
// boxes and 4 KiB of elements; with the purego tag, only the elements).
// time.Time is carried to the microsecond, as the BERT time tuple is.
// Atoms longer than 255 characters are decoded but cannot be encoded,
// because Erlang refuses them. A [Marshaler]'s output is embedded as it
// is, whatever the profile.
//
// Marshal, Unmarshal, Append and AsString are safe to call from many
// goroutines at once. An Encoder or Decoder must be used by one goroutine
// at a time.
package bert

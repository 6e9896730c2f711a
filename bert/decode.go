package bert

import (
	"math"
	"reflect"
	"sync"
)

// Unmarshal decodes the external term in data (version byte 131, then
// one term, possibly compressed) and stores the result in the value
// pointed to by v. It is [UnmarshalOptions.Unmarshal] with default limits
// and copying.
//
// Unmarshal checks the whole term before it writes anything, so a
// malformed term leaves v untouched and returns a *SyntaxError,
// *UnsupportedTagError or *LimitError. A term that is valid but does not
// fit v's type is stored as far as it fits: Unmarshal skips the parts
// that do not fit, goes on, and returns the first *UnmarshalTypeError.
//
// Terms map to Go values as follows; anything else is a type error.
//
//   - any (an empty interface): the term model described in term.go.
//   - bool: {bert, true}, {bert, false}, and the atoms true and false.
//   - int, int8 … int64, uint … uint64, uintptr: integers that fit, else
//     an *UnmarshalTypeError.
//   - float32, float64: floats and integers.
//   - big.Int: any integer.
//   - string: binaries, byte lists (STRING_EXT), atoms, [] and proper lists
//     of integers 0..255 (the "same text" rule of [AsString]).
//   - []byte: binaries, byte lists, [] and lists of integers 0..255.
//   - time.Time: {bert, time, Mega, Sec, Micro}.
//   - slices and arrays: lists, byte lists and tuples, element by element.
//     Extra elements of an array's source are dropped, missing ones zeroed.
//   - structs: proplists [{Key, Value}] whose keys are atoms, binaries or
//     byte lists (a bare atom in the list counts as {Atom, true}, as in
//     Erlang's proplists), {bert, dict, Proplist} and maps, matched
//     exactly to field names (see [Marshal] for tags); unknown keys,
//     including keys that are not text, are ignored, and a key that
//     appears twice takes the last value, as maps:from_list does.
//   - maps: the same sources as structs; keys go through the key type's
//     own rules (string keys accept atoms, binaries and byte lists).
//   - pointers: {bert, nil} sets the pointer to nil; anything else
//     allocates the pointer if it is nil and decodes into its target.
//   - {bert, nil} into any other kind leaves the value unchanged, as json's
//     null does.
//   - [Unmarshaler] and [RawTerm] receive the term's bytes.
func Unmarshal(data []byte, v any) error {
	return UnmarshalOptions{}.Unmarshal(data, v)
}

// UnmarshalOptions configures one Unmarshal call. The zero value has the
// default limits and copies every binary.
type UnmarshalOptions struct {
	// Limits bounds the input; zero fields take their defaults.
	Limits Limits

	// ZeroCopy makes binaries and byte lists decoded into []byte, any or
	// ByteList sub-slices of data instead of copies, so a large
	// binary decodes at memory speed. The results alias data: the caller
	// must not modify data while they are in use, and a change to one
	// shows in the other. Strings and atoms are always copied. (Compressed
	// input is inflated into a private buffer which the results alias.)
	ZeroCopy bool
}

// Unmarshal is like the package-level [Unmarshal] but uses o's settings.
func (o UnmarshalOptions) Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{reflect.TypeOf(v)}
	}
	lim := o.Limits.withDefaults()
	if p, ok := v.(*any); ok && len(data) <= lim.MaxSize && len(data) > 1 &&
		data[0] == versionMagic && data[1] != tagCompressed {
		// Decoding into an interface checks the input as it goes, which
		// saves the scanning pass; only a failure runs the scanner, to
		// describe the error.
		d := decodeStatePool.Get().(*decodeState)
		d.init(data, o.ZeroCopy)
		d.maxDepth = lim.MaxDepth
		d.startTerm(len(data))
		t := d.term()
		good := !d.bad && d.off == len(data)
		if good {
			d.endTerm(len(data))
		}
		d.release()
		if good {
			*p = t
			return nil
		}
	}
	data, err := checkTerm(data, lim)
	if err != nil {
		return err
	}
	return o.unmarshalChecked(data, v)
}

// unmarshalChecked decodes data, which checkTerm has accepted, into v,
// a non-nil pointer.
func (o UnmarshalOptions) unmarshalChecked(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{reflect.TypeOf(v)}
	}
	d := decodeStatePool.Get().(*decodeState)
	d.init(data, o.ZeroCopy)
	if p, ok := v.(*any); ok {
		*p = d.term()
	} else {
		d.value(rv)
	}
	err := d.savedError
	d.release()
	return err
}

// checkTerm validates a whole input: the version byte, one term (inflated
// if compressed) and nothing after it. It returns the bytes to decode,
// which start with the version byte.
func checkTerm(data []byte, lim Limits) ([]byte, error) {
	if len(data) > lim.MaxSize {
		return nil, &LimitError{Err: ErrTooLarge, Limit: lim.MaxSize, Offset: int64(lim.MaxSize)}
	}
	end, inner, err := scanTerm(data, lim, true)
	if err != nil {
		return nil, err
	}
	if end != len(data) {
		return nil, &SyntaxError{msg: "trailing data after term", Offset: int64(end), Err: ErrTrailingData}
	}
	if inner != nil {
		return inner, nil
	}
	return data, nil
}

// scanTerm validates the term at the start of data and returns where it
// ends in data. For a compressed term it also returns the inflated term
// (with its own version byte), which is what must be decoded.
//
// final says that data is the whole input, not a stream's buffer that
// may grow.
func scanTerm(data []byte, lim Limits, final bool) (end int, inner []byte, err error) {
	if len(data) == 0 {
		return 0, nil, shortErr(0, 1, "")
	}
	if data[0] != versionMagic {
		return 0, nil, syntaxErr(0, "term does not start with version byte 131")
	}
	if len(data) > 1 && data[1] == tagCompressed {
		inner, end, err = inflate(data, 1, lim.MaxDecompressed)
		if err != nil {
			return 0, nil, err
		}
		if err := scanInflated(inner, lim); err != nil {
			return 0, nil, err
		}
		return end, inner, nil
	}
	s := scanner{data: data, maxDepth: lim.MaxDepth, final: final}
	end, err = s.scan(1, 0)
	return end, nil, err
}

// scanInflated validates the inflated inner term of a compressed term,
// version byte included.
func scanInflated(inner []byte, lim Limits) error {
	s := scanner{data: inner, maxDepth: lim.MaxDepth, final: true}
	e, err := s.scan(1, 0)
	if err != nil {
		if se, ok := err.(*SyntaxError); ok && se.Err != nil {
			// Inside complete zlib data, running out is not
			// something more input can fix.
			se.need = 0
		}
		return err
	}
	if e != len(inner) {
		return &SyntaxError{msg: "trailing data inside compressed term", Offset: int64(e), Err: ErrTrailingData}
	}
	return nil
}

// decodeState is the state of one decode.
type decodeState struct {
	data       []byte
	off        int
	zeroCopy   bool
	savedError error
	field      []string // struct field path, for error messages
	keyStart   int      // offset of the key pairs last looked at
	depth      int      // nesting of the term being decoded
	maxDepth   int      // limit on depth for unchecked input
	bad        bool     // term found the input malformed
	pending    int      // terms that open containers still owe (see claim)

	// Chunk sizing (see decode_term.go): need is what the hint says the
	// rest of the term takes from new chunks, used what it has taken so
	// far, and hint what the last term took, kept across decodes.
	need, used termNeeds
	hint       needsHint

	// Allocation chunks for the term tree of one decode. Tuple and list
	// elements are carved from shared chunks (with their capacity cut to
	// their length, so appending to one cannot touch another), and so
	// are the boxed slice headers, numbers and small binaries (see
	// box.go). The chunks belong to the decoded values: init drops them,
	// it never reuses them. Each has the index of its first free slot,
	// so that carving writes no pointer (which would cost a write
	// barrier while the collector is marking).
	elemArena []any
	hdrSlab   [][]any  // slice headers of Tuple, List, Map, []byte, ByteList
	raw       []uint64 // int64, float64 and small binaries
	elemNext  int
	hdrNext   int
	rawNext   int

	// scratch holds text that the value decoders assemble (a Latin-1
	// atom as UTF-8, a list of bytes) before they copy it into a
	// string, and pair the {Atom, true} that a bare atom in a proplist
	// stands for (see onAtomTrue). Both are kept across decodes.
	scratch []byte
	pair    []byte

	// atoms caches boxed atoms across decodes by this (pooled) state, so
	// that the atoms every message repeats cost no allocation. Atoms are
	// immutable, so sharing them is safe. It is direct-mapped: a slot
	// holds the last atom that hashed to it.
	atoms [256]atomSlot
}

const (
	maxCachedAtomLen = 64
	smallBinary      = 256 // binaries up to this size share a chunk
)

var decodeStatePool = sync.Pool{New: func() any { return new(decodeState) }}

func (d *decodeState) init(data []byte, zeroCopy bool) {
	d.data = data
	d.off = 1
	d.zeroCopy = zeroCopy
	d.savedError = nil
	d.field = d.field[:0]
	d.dropArenas()
	d.depth = 0
	d.maxDepth = math.MaxInt
	d.bad = false
	d.pending = 0
	d.need, d.used = termNeeds{}, termNeeds{}
}

// maxKeptScratch bounds the scratch buffers a pooled state keeps.
const maxKeptScratch = 64 << 10

func (d *decodeState) release() {
	d.data = nil
	d.savedError = nil
	d.dropArenas()
	if cap(d.scratch) > maxKeptScratch {
		d.scratch = nil
	}
	if cap(d.pair) > maxKeptScratch {
		d.pair = nil
	}
	decodeStatePool.Put(d)
}

// dropArenas forgets the arenas and slabs, which now belong to the values
// decoded from them.
func (d *decodeState) dropArenas() {
	d.elemArena, d.hdrSlab, d.raw = nil, nil, nil
	d.elemNext, d.hdrNext, d.rawNext = 0, 0, 0
}

// saveError keeps the first error, as json's decoder does.
func (d *decodeState) saveError(err error) {
	if d.savedError == nil {
		d.savedError = err
	}
}

// skip moves past the term at d.off.
func (d *decodeState) skip() {
	s := scanner{data: d.data, maxDepth: 1 << 30, final: true}
	end, err := s.scan(d.off, 0)
	if err != nil {
		panic("bert: internal error: skip over unscanned term")
	}
	d.off = end
}

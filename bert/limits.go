package bert

import (
	"math"

	"github.com/bertsync/bertsync/internal/limits"
)

// Default limits, used for every zero field of [Limits].
const (
	DefaultMaxDepth        = 1000
	DefaultMaxSize         = 16 << 20
	DefaultMaxDecompressed = 16 << 20
)

// Limits bounds what decoding accepts, so that hostile input is refused
// before it costs memory or stack. Like every limit of bertsync
// (docs/limits.md), a zero field means its default and a negative one no
// limit. Without MaxSize the input's length bounds the rest; without
// MaxDepth only the size and the goroutine's stack bound the nesting.
//
// Independently of these limits, every length prefix is checked against
// the bytes that remain before anything is allocated.
type Limits struct {
	// MaxDepth bounds the nesting of tuples, lists and maps (the tail of
	// a list does not count as nesting). Default DefaultMaxDepth. Encoders
	// use it too, so that a cyclic Go value fails instead of recursing
	// forever.
	MaxDepth int

	// MaxSize bounds the length in bytes of one encoded term, including
	// the version byte. Default DefaultMaxSize.
	MaxSize int

	// MaxDecompressed bounds the size a compressed term (tag 80) may
	// declare and inflate to. Default DefaultMaxDecompressed.
	MaxDecompressed int
}

// withDefaults returns l with each zero field replaced by its default and
// each negative one by math.MaxInt, which no term reaches.
func (l Limits) withDefaults() Limits {
	l.MaxDepth = resolve(l.MaxDepth, DefaultMaxDepth)
	l.MaxSize = resolve(l.MaxSize, DefaultMaxSize)
	l.MaxDecompressed = resolve(l.MaxDecompressed, DefaultMaxDecompressed)
	return l
}

func resolve(v, def int) int {
	v = limits.Resolve(v, def)
	if !limits.Set(v) {
		return math.MaxInt
	}
	return v
}

package bert

// Default limits, used for every zero field of [Limits].
const (
	DefaultMaxDepth        = 1000
	DefaultMaxSize         = 16 << 20
	DefaultMaxDecompressed = 16 << 20
)

// Limits bounds what decoding accepts, so that hostile input is refused
// before it costs memory or stack. A zero field means its default; there
// is no "unlimited" setting, use a large number instead.
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

// withDefaults returns l with each zero or negative field replaced by its
// default.
func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = DefaultMaxDecompressed
	}
	return l
}

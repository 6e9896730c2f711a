//go:build purego

package bert

// This file is box.go for builds with the purego tag: each decoded value
// is converted to an interface the ordinary way, which allocates a copy
// of every slice header and of every number outside 0..255, and each
// small binary gets an allocation of its own. Decoding gives the same
// values as with box.go, only with more allocations.

func (d *decodeState) boxTuple(t Tuple) any { return t }

func (d *decodeState) boxList(l List) any { return l }

func (d *decodeState) boxMap(m Map) any { return m }

// mapPairs returns n zeroed pairs for a map.
func (d *decodeState) mapPairs(n int) Map { return make(Map, n) }

func (d *decodeState) boxBinary(b []byte) any { return b }

func (d *decodeState) boxByteList(b []byte) any { return ByteList(b) }

func (d *decodeState) boxInt(i int64) any {
	if i >= 0 && i < 256 {
		return smallIntBoxes[i]
	}
	return i
}

func (d *decodeState) boxFloat(f float64) any { return f }

// rawBytes returns n fresh bytes (0 < n <= smallBinary).
func (d *decodeState) rawBytes(n int) []byte { return make([]byte, n) }

package bert

import "fmt"

// A Profile selects how values are encoded where Erlang's external format
// allows more than one form. Decoding accepts both profiles' output.
type Profile uint8

const (
	// BERTJS encodes what BERT-JS and every Erlang release decode: atoms
	// as ATOM_EXT (Latin-1 only), floats as 31-byte FLOAT_EXT strings,
	// Map as a proplist of {Key, Value} tuples. It is the zero value and
	// the default for replies to front ends.
	BERTJS Profile = iota

	// Erlang encodes what term_to_binary produces on OTP 26 and later
	// (minor_version 2): UTF-8 atoms, NEW_FLOAT_EXT, STRING_EXT for lists
	// of small integers, MAP_EXT for Map.
	Erlang
)

// String returns the profile's name as ParseProfile accepts it.
func (p Profile) String() string {
	switch p {
	case BERTJS:
		return "bertjs"
	case Erlang:
		return "erlang"
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// ParseProfile returns the profile named "bertjs" or "erlang".
func ParseProfile(name string) (Profile, error) {
	switch name {
	case "bertjs", "BERTJS", "bert-js":
		return BERTJS, nil
	case "erlang", "Erlang":
		return Erlang, nil
	}
	return 0, fmt.Errorf("bert: unknown profile %q (want bertjs or erlang)", name)
}

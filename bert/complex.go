package bert

// ComplexValue returns the Go value that stands for t when t is one of the
// BERT complex types, the value decoding gives for it: nil for {bert, nil},
// true and false for {bert, true} and {bert, false}, and a [Dict], a
// time.Time (UTC) or a [Regex] for a {bert, dict, ...}, {bert, time, ...} or
// {bert, regex, ...} tuple of the right shape. For any other tuple ok is
// false: the tuple stands for itself. Code that builds terms from another
// notation, such as package erltext's Parse, calls it to give the Go forms
// that decoding the same term gives.
func ComplexValue(t Tuple) (v any, ok bool) {
	if len(t) < 2 || len(t) > 5 || t[0] != Atom("bert") {
		return nil, false
	}
	return complexTerm(t)
}

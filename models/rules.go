package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Access is what an access rule lets through (DESIGN §6).
type Access string

// The access values of a rules file.
const (
	// Public lets anyone through, anonymous callers included.
	Public Access = "public"
	// Authenticated lets through any caller with an identity.
	Authenticated Access = "authenticated"
	// Owner lets through a caller with an identity, on their own
	// documents only: the server stamps the caller's subject into the
	// type's owner field at create, and the model actor limits every
	// other method to the documents that carry it.
	Owner Access = "owner"
	// None lets no client through. Go code that calls a model directly,
	// without a client request, is not subject to rules.
	None Access = "none"
)

// DefaultOwnerField is the attribute that holds a document's owner when a
// rules file names no "owner_field".
const DefaultOwnerField = "owner"

// MaxOwnerFieldSize is the longest owner field name, in bytes: attribute
// names go on the wire as atoms, and this is the longest Erlang atom.
const MaxOwnerFieldSize = 255

// numRuleMethods is how many methods a rules file can name.
const numRuleMethods = 7

// ruleIndex returns the slot of m in a typeRules, or -1 if a rules file
// cannot name m. Unsubscribe is not among them: it is always allowed.
func ruleIndex(m Method) int {
	switch m {
	case Create:
		return 0
	case Read:
		return 1
	case Update:
		return 2
	case Patch:
		return 3
	case Delete:
		return 4
	case Subscribe:
		return 5
	case Broadcast:
		return 6
	}
	return -1
}

// typeRules is one entry of a rules file.
type typeRules struct {
	access     [numRuleMethods]Access // "" where the entry names no rule
	ownerField string                 // "" where the entry names none
}

// Rules are the access rules of every model type: what a rules file says
// ([ParseRules]) or the rules in force without one ([DefaultRules]).
//
// A method a type's entry does not name takes the "*" entry's rule, and a
// method named by neither is [None]. Unsubscribe is always allowed, so
// that a client can always stop listening. The owner field of a type is
// its entry's "owner_field", else the "*" entry's, else
// [DefaultOwnerField].
//
// Rules are immutable and safe for concurrent use. A nil *Rules is not
// valid: a server without a rules file uses [DefaultRules].
type Rules struct {
	types    map[string]*typeRules
	fallback typeRules // the "*" entry; zero when there is none
}

// DefaultRules returns the rules in force without a rules file: every
// method of every type is [Authenticated] when authentication is on (a
// key is configured), and [Public] when it is off, so that a server with
// no setup lets every client do everything.
func DefaultRules(authOn bool) *Rules {
	a := Public
	if authOn {
		a = Authenticated
	}
	r := &Rules{types: map[string]*typeRules{}}
	for i := range r.fallback.access {
		r.fallback.access[i] = a
	}
	return r
}

// Access returns the rule for method of model: the type's own, else the
// "*" entry's, else [None]. It is [Public] for [Unsubscribe], and [None]
// for any method a rules file cannot name.
func (r *Rules) Access(model string, method Method) Access {
	if method == Unsubscribe {
		return Public
	}
	i := ruleIndex(method)
	if i < 0 {
		return None
	}
	return r.access(model, i)
}

func (r *Rules) access(model string, i int) Access {
	if t, ok := r.types[model]; ok && t.access[i] != "" {
		return t.access[i]
	}
	if a := r.fallback.access[i]; a != "" {
		return a
	}
	return None
}

// OwnerField returns the attribute that holds the owner of model's
// documents: the type's "owner_field", else the "*" entry's, else
// [DefaultOwnerField]. It matters only when [Rules.UsesOwner] does.
func (r *Rules) OwnerField(model string) string {
	if t, ok := r.types[model]; ok && t.ownerField != "" {
		return t.ownerField
	}
	if r.fallback.ownerField != "" {
		return r.fallback.ownerField
	}
	return DefaultOwnerField
}

// UsesOwner reports whether any method of model is [Owner], after the "*"
// fallback. The server then stamps the caller's subject into
// [Rules.OwnerField] at every create of model, whatever the create rule,
// and keeps clients from setting or changing it.
func (r *Rules) UsesOwner(model string) bool {
	for i := range numRuleMethods {
		if r.access(model, i) == Owner {
			return true
		}
	}
	return false
}

// Types returns the model types the rules name, in sorted order, without
// "*".
func (r *Rules) Types() []string {
	return slices.Sorted(maps.Keys(r.types))
}

// Check decides a client's request of method on model by its caller c.
// It returns nil when the rule lets c through, an *Error with
// [CodeUnauthorized] when the rule needs an identity and c is anonymous,
// and an *Error with [CodeForbidden] when the rule is [None].
//
// For [Owner], nil only means that c may go on: the request must still be
// limited to c's own documents, which is the caller's part (the model
// actor's, through [Rules.OwnerField]).
//
// Check decides by the Caller it is given. Without a key, the server
// knows no identities and every client is anonymous, so only [Public]
// passes; a Go program that authenticates its clients its own way passes
// their identities in and gets the rules applied to them.
//
// Check is for client requests: Go code that calls a model itself does
// not go through it.
func (r *Rules) Check(model string, method Method, c Caller) error {
	switch r.Access(model, method) {
	case Public:
		return nil
	case Authenticated, Owner:
		if c.Anonymous() {
			return Errorf(CodeUnauthorized, "%s of %q needs an authenticated caller", method, model)
		}
		return nil
	}
	return Errorf(CodeForbidden, "%s of %q is not allowed", method, model)
}

// ParseRules reads a rules file: a JSON object whose keys are model type
// names or "*" (every type not named), and whose values are objects that
// map methods (create, read, update, patch, delete, subscribe, broadcast)
// to an access ("public", "authenticated", "owner" or "none"), plus an
// optional "owner_field" (see [Rules.OwnerField]):
//
//	{
//	  "*":       {"read": "public"},
//	  "message": {"create": "authenticated", "update": "owner",
//	              "delete": "owner", "subscribe": "public"},
//	  "note":    {"create": "owner", "read": "owner", "owner_field": "author"}
//	}
//
// ParseRules refuses, with an error naming the line and the entry, a file
// that is not such an object: an unknown method or access value, a value
// of the wrong JSON type, an empty model name or one longer than
// [MaxModelNameSize], an owner field that is empty, longer than
// [MaxOwnerFieldSize] or "id", and a key given twice (which plain JSON
// decoding would let the last one win silently). It also refuses a rule
// for unsubscribe, which is always allowed, rather than ignore a rule
// that promises what it cannot keep.
func ParseRules(data []byte) (*Rules, error) {
	if len(bytes.Trim(data, " \t\r\n")) == 0 {
		return nil, errors.New("models: rules: empty file, want a JSON object of model types")
	}
	p := &rulesParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	r, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("models: rules: %w", err)
	}
	return r, nil
}

// rulesParser walks a rules file token by token, because encoding/json's
// Unmarshal keeps the last of duplicate keys without a word, and a rule
// silently overridden is a hole in access control.
type rulesParser struct {
	data []byte
	dec  *json.Decoder
}

// token returns the next token and the line it ends on.
func (p *rulesParser) token() (json.Token, int, error) {
	tok, err := p.dec.Token()
	// The decoder's offset is where it stopped: just after a token, or
	// at the byte it could not read. A SyntaxError's own Offset counts
	// from the start of the current top-level value, not of the file.
	line := p.line()
	switch {
	case err == io.EOF:
		return nil, line, fmt.Errorf("line %d: invalid JSON: unexpected end of file", line)
	case err != nil:
		return nil, line, fmt.Errorf("line %d: invalid JSON: %w", line, err)
	}
	return tok, line, nil
}

func (p *rulesParser) parse() (*Rules, error) {
	tok, line, err := p.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("line %d: want a JSON object of model types, got %s", line, kindOfToken(tok))
	}
	r := &Rules{types: map[string]*typeRules{}}
	seen := map[string]int{}
	for p.dec.More() {
		tok, line, err := p.token()
		if err != nil {
			return nil, err
		}
		model := tok.(string) // the decoder returns only strings as object keys
		if first, dup := seen[model]; dup {
			return nil, fmt.Errorf("line %d: %q is named twice (first on line %d)", line, model, first)
		}
		seen[model] = line
		switch {
		case model == "":
			return nil, fmt.Errorf("line %d: empty model name", line)
		case len(model) > MaxModelNameSize:
			return nil, fmt.Errorf("line %d: model name of %d bytes, the limit is %d", line, len(model), MaxModelNameSize)
		}
		t, err := p.entry(model)
		if err != nil {
			return nil, err
		}
		if model == "*" {
			r.fallback = *t
		} else {
			r.types[model] = t
		}
	}
	if _, _, err := p.token(); err != nil { // the closing brace
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return r, nil
}

// end checks that nothing but white space follows the rules object.
func (p *rulesParser) end() error {
	if _, err := p.dec.Token(); err == io.EOF {
		return nil
	}
	return fmt.Errorf("line %d: data after the rules object", p.line())
}

// line returns the line the decoder stopped on.
func (p *rulesParser) line() int {
	return 1 + bytes.Count(p.data[:p.dec.InputOffset()], []byte("\n"))
}

// entry reads the value of model's entry: an object of rules.
func (p *rulesParser) entry(model string) (*typeRules, error) {
	tok, line, err := p.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("line %d: %q: want an object of method rules, got %s", line, model, kindOfToken(tok))
	}
	t := &typeRules{}
	seen := map[string]int{}
	for p.dec.More() {
		tok, line, err := p.token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // the decoder returns only strings as object keys
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: %q: %q is named twice (first on line %d)", line, model, key, first)
		}
		seen[key] = line
		i := ruleIndex(Method(key))
		switch {
		case key == "owner_field":
		case key == string(Unsubscribe):
			return nil, fmt.Errorf("line %d: %q.%q: unsubscribe is always allowed and takes no rule", line, model, key)
		case i < 0:
			return nil, fmt.Errorf("line %d: %q.%q: unknown method, want create, read, update, patch, delete, subscribe, broadcast or owner_field", line, model, key)
		}
		tok, line, err = p.token()
		if err != nil {
			return nil, err
		}
		s, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("line %d: %q.%q: want a string, got %s", line, model, key, kindOfToken(tok))
		}
		if key == "owner_field" {
			if err := checkOwnerField(s); err != nil {
				return nil, fmt.Errorf("line %d: %q.%q: %w", line, model, key, err)
			}
			t.ownerField = s
			continue
		}
		switch a := Access(s); a {
		case Public, Authenticated, Owner, None:
			t.access[i] = a
		default:
			return nil, fmt.Errorf("line %d: %q.%q: unknown access %q, want public, authenticated, owner or none", line, model, key, s)
		}
	}
	if _, _, err := p.token(); err != nil { // the closing brace
		return nil, err
	}
	return t, nil
}

func checkOwnerField(name string) error {
	switch {
	case name == "":
		return errors.New("empty owner field")
	case len(name) > MaxOwnerFieldSize:
		return fmt.Errorf("owner field of %d bytes, the limit is %d", len(name), MaxOwnerFieldSize)
	case name == "id":
		return errors.New(`"id" cannot be the owner field: it is the document's id`)
	}
	return nil
}

// kindOfToken describes a JSON token for an error message.
func kindOfToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

package models

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// ruleMethodsForTest are the methods a rules file names.
var ruleMethodsForTest = []Method{Create, Read, Update, Patch, Delete, Subscribe, Broadcast}

func TestParseRulesErrors(t *testing.T) {
	long := strings.Repeat("m", MaxModelNameSize+1)
	longField := strings.Repeat("f", MaxOwnerFieldSize+1)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty file, want a JSON object of model types"},
		{"white space", " \n\t\r\n", "empty file, want a JSON object of model types"},
		{"truncated", `{"character":`, "line 1: invalid JSON: unexpected end of file"},
		{"truncated entry", "{\n\"character\": {\"read\": \"public\"", "line 2: invalid JSON: unexpected end of file"},
		{"trailing comma", "{\n  \"character\": {\"read\": \"public\",}\n}",
			"line 2: invalid JSON: invalid character '}' looking for beginning of object key string"},
		{"missing colon", `{"character" {}}`, "line 1: invalid JSON: invalid character '{' after object key"},
		{"comment", "{\n// no comments in JSON\n}", "line 2: invalid JSON: invalid character '/'"},
		{"array", `[{"read": "public"}]`, "line 1: want a JSON object of model types, got an array"},
		{"null", `null`, "line 1: want a JSON object of model types, got null"},
		{"string", `"public"`, "line 1: want a JSON object of model types, got a string"},
		{"number", `1`, "line 1: want a JSON object of model types, got a number"},
		{"trailing object", "{}\n{}", "line 2: data after the rules object"},
		{"trailing garbage", "{}\n\n x", "line 3: data after the rules object"},
		{"trailing brace", "{}}", "line 1: data after the rules object"},
		{"entry string", `{"character": "public"}`, `line 1: "character": want an object of method rules, got a string`},
		{"entry array", `{"character": ["read"]}`, `line 1: "character": want an object of method rules, got an array`},
		{"entry null", `{"*": null}`, `line 1: "*": want an object of method rules, got null`},
		{"entry boolean", `{"character": true}`, `line 1: "character": want an object of method rules, got a boolean`},
		{"empty model name", `{"": {"read": "public"}}`, "line 1: empty model name"},
		{"long model name", `{"` + long + `": {}}`, "line 1: model name of 256 bytes, the limit is 255"},
		{"duplicate model", "{\n  \"character\": {\"read\": \"none\"},\n  \"character\": {\"read\": \"public\"}\n}",
			`line 3: "character" is named twice (first on line 2)`},
		{"duplicate model escaped", `{"character": {}, "\u0063haracter": {}}`, `line 1: "character" is named twice (first on line 1)`},
		{"duplicate star", "{\"*\": {},\n\"*\": {}}", `line 2: "*" is named twice (first on line 1)`},
		{"duplicate method", "{\"character\": {\n  \"delete\": \"none\",\n  \"delete\": \"public\"\n}}",
			`line 3: "character": "delete" is named twice (first on line 2)`},
		{"duplicate owner field", `{"character": {"owner_field": "a", "owner_field": "b"}}`,
			`line 1: "character": "owner_field" is named twice (first on line 1)`},
		{"unknown method", `{"character": {"raed": "public"}}`,
			`line 1: "character"."raed": unknown method, want create, read, update, patch, delete, subscribe, broadcast or owner_field`},
		{"method case", `{"character": {"Read": "public"}}`,
			`line 1: "character"."Read": unknown method, want create, read, update, patch, delete, subscribe, broadcast or owner_field`},
		{"unsubscribe", `{"*": {"unsubscribe": "none"}}`, `line 1: "*"."unsubscribe": unsubscribe is always allowed and takes no rule`},
		{"unknown access", `{"character": {"read": "admin"}}`,
			`line 1: "character"."read": unknown access "admin", want public, authenticated, owner or none`},
		{"access case", `{"character": {"read": "Public"}}`,
			`line 1: "character"."read": unknown access "Public", want public, authenticated, owner or none`},
		{"empty access", `{"character": {"read": ""}}`,
			`line 1: "character"."read": unknown access "", want public, authenticated, owner or none`},
		{"access number", `{"character": {"read": 1}}`, `line 1: "character"."read": want a string, got a number`},
		{"access boolean", `{"character": {"read": true}}`, `line 1: "character"."read": want a string, got a boolean`},
		{"access null", `{"character": {"read": null}}`, `line 1: "character"."read": want a string, got null`},
		{"access object", `{"character": {"read": {"owner": true}}}`, `line 1: "character"."read": want a string, got an object`},
		{"access array", `{"character": {"read": ["public"]}}`, `line 1: "character"."read": want a string, got an array`},
		{"owner field number", `{"character": {"owner_field": 7}}`, `line 1: "character"."owner_field": want a string, got a number`},
		{"owner field empty", `{"character": {"owner_field": ""}}`, `line 1: "character"."owner_field": empty owner field`},
		{"owner field long", `{"character": {"owner_field": "` + longField + `"}}`,
			`line 1: "character"."owner_field": owner field of 256 bytes, the limit is 255`},
		{"owner field id", `{"*": {"owner_field": "id"}}`,
			`line 1: "*"."owner_field": "id" cannot be the owner field: it is the document's id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRules([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseRules(%q) = %v, want error %q", tt.in, r, tt.want)
			}
			if want := "models: rules: " + tt.want; err.Error() != want {
				t.Errorf("ParseRules(%q) error\n got %q\nwant %q", tt.in, err, want)
			}
			if r != nil {
				t.Errorf("ParseRules(%q) returned rules with its error", tt.in)
			}
		})
	}
}

func TestParseRulesAccepts(t *testing.T) {
	for _, in := range []string{
		`{}`,
		" {\r\n} \n",
		`{"character": {}}`,
		`{"*": {"owner_field": "owner"}}`,
		`{"` + strings.Repeat("m", MaxModelNameSize) + `": {"owner_field": "` + strings.Repeat("f", MaxOwnerFieldSize) + `"}}`,
		`{"character": {"create": "public", "read": "authenticated", "update": "owner", "patch": "none",
			"delete": "none", "subscribe": "public", "broadcast": "owner", "owner_field": "by"}}`,
		// The same method in two entries, and the same name as a model and
		// as a method, are no duplicates.
		`{"read": {"read": "public"}, "*": {"read": "none"}}`,
	} {
		if _, err := ParseRules([]byte(in)); err != nil {
			t.Errorf("ParseRules(%q): %v", in, err)
		}
	}
}

func mustParseRules(t *testing.T, in string) *Rules {
	t.Helper()
	r, err := ParseRules([]byte(in))
	if err != nil {
		t.Fatalf("ParseRules(%q): %v", in, err)
	}
	return r
}

func TestRulesAccess(t *testing.T) {
	r := mustParseRules(t, `{
		"*":         {"read": "public", "subscribe": "authenticated", "delete": "none"},
		"character": {"create": "authenticated", "update": "owner", "read": "authenticated", "delete": "owner"},
		"locked":    {}
	}`)
	tests := []struct {
		model  string
		method Method
		want   Access
	}{
		// The type's own rules win over "*".
		{"character", Create, Authenticated},
		{"character", Read, Authenticated},
		{"character", Update, Owner},
		{"character", Delete, Owner},
		// A method the type does not name takes "*"'s.
		{"character", Subscribe, Authenticated},
		// A method named by neither is none.
		{"character", Patch, None},
		{"character", Broadcast, None},
		// An empty entry is all "*".
		{"locked", Read, Public},
		{"locked", Subscribe, Authenticated},
		{"locked", Delete, None},
		{"locked", Create, None},
		// A type the file does not name is all "*".
		{"other", Read, Public},
		{"other", Create, None},
		{"*", Read, Public},
		// Unsubscribe is always allowed; a method no file can name never.
		{"character", Unsubscribe, Public},
		{"other", Unsubscribe, Public},
		{"character", Method("sync"), None},
		{"character", Method(""), None},
	}
	for _, tt := range tests {
		if got := r.Access(tt.model, tt.method); got != tt.want {
			t.Errorf("Access(%q, %q) = %q, want %q", tt.model, tt.method, got, tt.want)
		}
	}
}

func TestRulesWithoutStar(t *testing.T) {
	r := mustParseRules(t, `{"character": {"read": "public"}}`)
	for _, m := range ruleMethodsForTest {
		want := None
		if m == Read {
			want = Public
		}
		if got := r.Access("character", m); got != want {
			t.Errorf("Access(character, %s) = %q, want %q", m, got, want)
		}
		if got := r.Access("other", m); got != None {
			t.Errorf("Access(other, %s) = %q, want none", m, got)
		}
	}
	if err := r.Check("other", Unsubscribe, Caller{}); err != nil {
		t.Errorf("Check(other, unsubscribe) = %v, want nil", err)
	}
}

func TestDefaultRules(t *testing.T) {
	for _, tt := range []struct {
		authOn bool
		want   Access
	}{{false, Public}, {true, Authenticated}} {
		r := DefaultRules(tt.authOn)
		for _, model := range []string{"character", "*", "x"} {
			for _, m := range ruleMethodsForTest {
				if got := r.Access(model, m); got != tt.want {
					t.Errorf("DefaultRules(%t).Access(%q, %s) = %q, want %q", tt.authOn, model, m, got, tt.want)
				}
				err := r.Check(model, m, Caller{})
				if tt.authOn && !errors.Is(err, ErrUnauthorized) {
					t.Errorf("DefaultRules(true).Check(%q, %s, anonymous) = %v, want unauthorized", model, m, err)
				}
				if !tt.authOn && err != nil {
					t.Errorf("DefaultRules(false).Check(%q, %s, anonymous) = %v, want nil", model, m, err)
				}
				if err := r.Check(model, m, Caller{Subject: "ann"}); err != nil {
					t.Errorf("DefaultRules(%t).Check(%q, %s, ann) = %v, want nil", tt.authOn, model, m, err)
				}
			}
			if r.UsesOwner(model) {
				t.Errorf("DefaultRules(%t).UsesOwner(%q) = true", tt.authOn, model)
			}
			if got := r.OwnerField(model); got != DefaultOwnerField {
				t.Errorf("DefaultRules(%t).OwnerField(%q) = %q, want %q", tt.authOn, model, got, DefaultOwnerField)
			}
		}
		if got := r.Types(); len(got) != 0 {
			t.Errorf("DefaultRules(%t).Types() = %q, want none", tt.authOn, got)
		}
	}
}

func TestRulesCheck(t *testing.T) {
	r := mustParseRules(t, `{"character": {
		"create": "public", "read": "authenticated", "update": "owner", "delete": "none"}}`)
	anonymous := Caller{}
	ann := Caller{Subject: "ann", Claims: map[string]any{"sub": "ann"}}
	tests := []struct {
		method   Method
		caller   Caller
		wantCode Code // "" for allowed
		wantMsg  string
	}{
		{Create, anonymous, "", ""},
		{Create, ann, "", ""},
		{Read, anonymous, CodeUnauthorized, `read of "character" needs an authenticated caller`},
		{Read, ann, "", ""},
		{Update, anonymous, CodeUnauthorized, `update of "character" needs an authenticated caller`},
		{Update, ann, "", ""},
		{Delete, anonymous, CodeForbidden, `delete of "character" is not allowed`},
		{Delete, ann, CodeForbidden, `delete of "character" is not allowed`},
		// Not named, no "*": none.
		{Patch, anonymous, CodeForbidden, `patch of "character" is not allowed`},
		{Patch, ann, CodeForbidden, `patch of "character" is not allowed`},
		{Method("sync"), ann, CodeForbidden, `sync of "character" is not allowed`},
		{Unsubscribe, anonymous, "", ""},
		{Unsubscribe, ann, "", ""},
	}
	for _, tt := range tests {
		err := r.Check("character", tt.method, tt.caller)
		if tt.wantCode == "" {
			if err != nil {
				t.Errorf("Check(%s, %q) = %v, want nil", tt.method, tt.caller.Subject, err)
			}
			continue
		}
		if _, ok := errors.AsType[*Error](err); !ok {
			t.Errorf("Check(%s, %q) = %#v, want an *Error", tt.method, tt.caller.Subject, err)
			continue
		}
		if code := CodeOf(err); code != tt.wantCode {
			t.Errorf("Check(%s, %q) code %q, want %q", tt.method, tt.caller.Subject, code, tt.wantCode)
		}
		if msg := MessageOf(err); msg != tt.wantMsg {
			t.Errorf("Check(%s, %q) message %q, want %q", tt.method, tt.caller.Subject, msg, tt.wantMsg)
		}
	}
}

// TestRulesUnsubscribe checks that no rules can keep a client from
// unsubscribing, whatever they say of subscribe.
func TestRulesUnsubscribe(t *testing.T) {
	for _, r := range []*Rules{
		mustParseRules(t, `{}`),
		mustParseRules(t, `{"*": {"subscribe": "none"}, "character": {"subscribe": "owner"}}`),
		DefaultRules(true),
		DefaultRules(false),
	} {
		for _, c := range []Caller{{}, {Subject: "ann"}} {
			if err := r.Check("character", Unsubscribe, c); err != nil {
				t.Errorf("Check(character, unsubscribe, %q) = %v, want nil", c.Subject, err)
			}
		}
	}
}

func TestRulesOwner(t *testing.T) {
	r := mustParseRules(t, `{
		"note":    {"create": "authenticated", "read": "owner", "owner_field": "author"},
		"message": {"update": "owner"},
		"plain":   {"read": "public", "owner_field": "by"},
		"open":    {"read": "public", "update": "public", "delete": "public", "patch": "public", "broadcast": "public", "subscribe": "public"}
	}`)
	star := mustParseRules(t, `{"*": {"delete": "owner", "owner_field": "uid"}, "note": {"owner_field": "author"}, "open": {"delete": "public"}}`)
	tests := []struct {
		r         *Rules
		model     string
		wantUses  bool
		wantField string
	}{
		{r, "note", true, "author"},
		{r, "message", true, DefaultOwnerField},
		// An owner field without an owner rule is harmless.
		{r, "plain", false, "by"},
		{r, "open", false, DefaultOwnerField},
		{r, "other", false, DefaultOwnerField},
		// "*"'s owner rule and owner field reach every type that does
		// not override them.
		{star, "note", true, "author"},
		{star, "other", true, "uid"},
		{star, "open", false, "uid"},
	}
	for _, tt := range tests {
		if got := tt.r.UsesOwner(tt.model); got != tt.wantUses {
			t.Errorf("UsesOwner(%q) = %t, want %t", tt.model, got, tt.wantUses)
		}
		if got := tt.r.OwnerField(tt.model); got != tt.wantField {
			t.Errorf("OwnerField(%q) = %q, want %q", tt.model, got, tt.wantField)
		}
	}
}

func TestRulesTypes(t *testing.T) {
	r := mustParseRules(t, `{"note": {}, "*": {"read": "public"}, "character": {"read": "none"}}`)
	want := []string{"character", "note"}
	got := r.Types()
	if !slices.Equal(got, want) {
		t.Fatalf("Types() = %q, want %q", got, want)
	}
	got[0] = "changed"
	if again := r.Types(); !slices.Equal(again, want) {
		t.Errorf("Types() after changing its result = %q, want %q", again, want)
	}
}

// TestRulesConcurrent reads one Rules from many goroutines; run with
// -race it shows that reading needs no lock.
func TestRulesConcurrent(t *testing.T) {
	r := mustParseRules(t, `{"*": {"read": "public"}, "note": {"read": "owner", "create": "authenticated"}}`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			c := Caller{}
			if i%2 == 0 {
				c.Subject = "ann"
			}
			for range 200 {
				for _, m := range ruleMethodsForTest {
					err := r.Check("note", m, c)
					if m == Create && c.Anonymous() && !errors.Is(err, ErrUnauthorized) {
						errs <- err
						return
					}
				}
				_ = r.UsesOwner("note")
				_ = r.OwnerField("note")
				_ = r.Types()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Check(note, create, anonymous) = %v, want unauthorized", err)
	}
}

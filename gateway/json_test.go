package gateway

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/models"
)

func TestJSONParseProps(t *testing.T) {
	t.Parallel()
	p, err := parseJSONProps([]byte(`{"name":"Ann","n":3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := models.Props{{Key: "name", Value: []byte("Ann")}, {Key: "n", Value: int64(3)}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("props = %#v, want %#v", p, want)
	}
	if p, err := parseJSONProps([]byte("  ")); err != nil || len(p) != 0 {
		t.Errorf("empty body: %v, %v", p, err)
	}
	for _, tt := range []struct{ in, msg string }{
		{`[1]`, "bad JSON: the body is an array"},
		{`[[1,2]]`, "bad JSON: the body is an array"},
		{`"x"`, "bad JSON: the body is a string"},
		{`3`, "bad JSON: the body is a number"},
		{`null`, "bad JSON: the body is null"},
		{`{"a":1,"a":2}`, `props: key "a" appears twice`},
		{`{"a":1,}`, "bad JSON at offset 7: invalid character '}'"},
		{`{"a":`, "bad JSON at offset 5: unexpected EOF"},
	} {
		_, err := parseJSONProps([]byte(tt.in))
		if !errors.Is(err, models.ErrBadRequest) || !strings.HasPrefix(errorMessage(err), tt.msg) {
			t.Errorf("parseJSONProps(%s) = %v (message %q), want bad_request %q", tt.in, err, errorMessage(err), tt.msg)
		}
	}
}

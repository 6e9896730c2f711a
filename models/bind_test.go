package models

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

type bindChar struct {
	ID    string   `bert:"id"`
	Name  string   `bert:"name"`
	Level int      `bert:"level,omitempty"`
	Tags  []string `bert:"tags,omitempty"`
}

func TestPropsBind(t *testing.T) {
	tests := []struct {
		name    string
		props   Props
		want    bindChar
		wantErr string
	}{
		{
			name:  "byte lists and binaries",
			props: Props{{"id", bert.ByteList("7")}, {"name", []byte("Ann")}, {"level", int64(3)}, {"tags", bert.List{bert.ByteList("a"), []byte("b")}}},
			want:  bindChar{ID: "7", Name: "Ann", Level: 3, Tags: []string{"a", "b"}},
		},
		{
			name:  "unknown keys ignored",
			props: Props{{"name", bert.Atom("Bo")}, {"colour", []byte("red")}},
			want:  bindChar{Name: "Bo"},
		},
		{name: "empty", props: Props{}, want: bindChar{}},
		{name: "wrong type", props: Props{{"level", []byte("high")}}, wantErr: "level"},
		{name: "list for text", props: Props{{"name", bert.List{bert.Tuple{}}}}, wantErr: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bindChar
			err := tt.props.Bind(&got)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Bind error = %v, want a bad request mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Bind = %+v, want %+v", got, tt.want)
			}
		})
	}
	// Bind keeps fields the props do not name, which is how a handler
	// applies a patch to a struct.
	c := bindChar{ID: "1", Name: "Ann", Level: 2}
	if err := (Props{{"level", int64(5)}}).Bind(&c); err != nil || !reflect.DeepEqual(c, bindChar{ID: "1", Name: "Ann", Level: 5}) {
		t.Errorf("Bind onto a value = %+v, %v", c, err)
	}
	var m map[string]any
	if err := (Props{{"a", int64(1)}}).Bind(&m); err != nil || m["a"] != int64(1) {
		t.Errorf("Bind into a map = %v, %v", m, err)
	}
}

func TestFromValue(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want Props
	}{
		{"nil", nil, Props{}},
		{"props", Props{{"a", int64(1)}}, Props{{"a", int64(1)}}},
		{"proplist", bert.List{bert.Tuple{bert.Atom("a"), bert.ByteList("x")}}, Props{{"a", bert.ByteList("x")}}},
		{"map term", bert.Map{{Key: []byte("k"), Value: int64(2)}}, Props{{"k", int64(2)}}},
		{"struct", bindChar{ID: "1", Name: "A"}, Props{{"id", []byte("1")}, {"name", []byte("A")}}},
		{"pointer to struct", &bindChar{ID: "1", Level: 4}, Props{{"id", []byte("1")}, {"name", []byte{}}, {"level", int64(4)}}},
		{"go map", map[string]any{"b": int64(1), "a": bert.ByteList("x")}, Props{{"a", bert.ByteList("x")}, {"b", int64(1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromValue(tt.v)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FromValue = %#v, %v, want %#v", got, err, tt.want)
			}
		})
	}
	for _, v := range []any{int64(3), []byte("x"), bert.List{bert.Atom("x")}, make(chan int)} {
		got, err := FromValue(v)
		if err == nil {
			t.Errorf("FromValue(%T) = %v, want an error", v, got)
			continue
		}
		if CodeOf(err) != CodeInternal {
			t.Errorf("FromValue(%T) error %v has code %s, want internal: the handler is at fault", v, err, CodeOf(err))
		}
	}
}

func TestReplyTerm(t *testing.T) {
	p := Props{{"id", []byte("1")}}
	if got := ReplyTerm(p); !reflect.DeepEqual(got, p.Term()) {
		t.Errorf("ReplyTerm(Props) = %#v", got)
	}
	want := bert.List{p.Term(), bert.List{}}
	if got := ReplyTerm([]Props{p, {}}); !reflect.DeepEqual(got, want) {
		t.Errorf("ReplyTerm([]Props) = %#v, want %#v", got, want)
	}
	if got := ReplyTerm([]Props{}); !reflect.DeepEqual(got, bert.List{}) {
		t.Errorf("ReplyTerm of no documents = %#v, want []", got)
	}
	c := bindChar{ID: "x"}
	if got := ReplyTerm(c); !reflect.DeepEqual(got, c) {
		t.Errorf("ReplyTerm(struct) = %#v, want it unchanged", got)
	}
	// What the client receives for a document reply.
	data, err := bert.Marshal(ReplyTerm(p))
	if err != nil {
		t.Fatal(err)
	}
	var back any
	if err := bert.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, p.Term()) {
		t.Errorf("reply decodes to %#v, %v", back, err)
	}
}

func TestPropsMarshalBERT(t *testing.T) {
	p := Props{{"id", []byte("1")}, {"tags", bert.List{int64(1)}}}
	type reply struct {
		Doc  Props   `bert:"doc"`
		Docs []Props `bert:"docs"`
	}
	data, err := bert.Marshal(reply{Doc: p, Docs: []Props{p}})
	if err != nil {
		t.Fatal(err)
	}
	var back any
	if err := bert.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want := bert.List{
		bert.Tuple{bert.Atom("doc"), p.Term()},
		bert.Tuple{bert.Atom("docs"), bert.List{p.Term()}},
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("marshalled Props decode to %#v, want %#v", back, want)
	}

	var got Props
	if err := bert.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Get("doc"); !reflect.DeepEqual(v, p.Term()) {
		t.Errorf("UnmarshalBERT: doc = %#v", v)
	}
	bad, _ := bert.Marshal(bert.Atom("x"))
	if err := bert.Unmarshal(bad, &got); !errors.Is(err, ErrBadRequest) {
		t.Errorf("UnmarshalBERT of an atom: %v, want bad request", err)
	}
}

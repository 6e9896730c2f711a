package models

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

func TestParseProps(t *testing.T) {
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	tests := []struct {
		name    string
		term    any
		want    Props
		wantErr string // substring of the error; "" means no error
	}{
		{name: "nil", term: nil, want: Props{}},
		{name: "empty list", term: bert.List{}, want: Props{}},
		{name: "empty string", term: bert.ByteList{}, want: Props{}},
		{name: "go slice", term: []any{bert.Tuple{bert.Atom("a"), int64(1)}}, want: Props{{"a", int64(1)}}},
		{name: "string", term: bert.ByteList("ab"), wantErr: "got a string"},
		{name: "empty dict", term: bert.Dict{}, want: Props{}},
		{name: "empty map", term: bert.Map{}, want: Props{}},
		{
			name: "atom keys",
			term: bert.List{bert.Tuple{bert.Atom("name"), []byte("Ann")}, bert.Tuple{bert.Atom("level"), int64(3)}},
			want: Props{{"name", []byte("Ann")}, {"level", int64(3)}},
		},
		{
			name: "every key form is the same text",
			term: bert.List{
				bert.Tuple{[]byte("a"), int64(1)},
				bert.Tuple{bert.ByteList("b"), int64(2)},
				bert.Tuple{"c", int64(3)},
				bert.Tuple{bert.List{int64('d'), int64('e')}, int64(4)},
			},
			want: Props{{"a", int64(1)}, {"b", int64(2)}, {"c", int64(3)}, {"de", int64(4)}},
		},
		{
			name: "values kept as they came",
			term: bert.List{
				bert.Tuple{bert.Atom("s"), bert.ByteList("x")},
				bert.Tuple{bert.Atom("n"), nil},
				bert.Tuple{bert.Atom("b"), big1},
				bert.Tuple{bert.Atom("l"), bert.List{}},
			},
			want: Props{{"s", bert.ByteList("x")}, {"n", nil}, {"b", big1}, {"l", bert.List{}}},
		},
		{
			name: "dict",
			term: bert.Dict{{Key: bert.Atom("x"), Value: 1.5}, {Key: []byte("y"), Value: true}},
			want: Props{{"x", 1.5}, {"y", true}},
		},
		{
			name: "map",
			term: bert.Map{{Key: bert.ByteList("k"), Value: []byte("v")}},
			want: Props{{"k", []byte("v")}},
		},
		{name: "props", term: Props{{"a", int64(1)}}, want: Props{{"a", int64(1)}}},
		{name: "atom", term: bert.Atom("x"), wantErr: "got an atom"},
		{name: "binary", term: []byte("x"), wantErr: "got a binary"},
		{name: "tuple", term: bert.Tuple{bert.Atom("a"), int64(1)}, wantErr: "got a tuple of 2 elements"},
		{name: "integer", term: int64(1), wantErr: "got an integer"},
		{name: "improper", term: bert.ImproperList{Elems: []any{int64(1)}, Tail: int64(2)}, wantErr: "improper list"},
		{name: "bare atom element", term: bert.List{bert.Atom("flag")}, wantErr: "element 0 is an atom"},
		{name: "3-tuple element", term: bert.List{bert.Tuple{bert.Atom("a"), int64(1), int64(2)}}, wantErr: "element 0 is a tuple of 3 elements"},
		{name: "integer key", term: bert.List{bert.Tuple{int64(1), int64(1)}}, wantErr: "key 0 is an integer"},
		{name: "tuple key", term: bert.List{bert.Tuple{bert.Atom("a"), int64(1)}, bert.Tuple{bert.Tuple{}, int64(1)}}, wantErr: "key 1 is a tuple"},
		{name: "list of big ints is no key", term: bert.List{bert.Tuple{bert.List{int64(300)}, int64(1)}}, wantErr: "key 0 is a list"},
		{name: "empty key", term: bert.List{bert.Tuple{[]byte(""), int64(1)}}, wantErr: "key 0 is empty"},
		{name: "duplicate key", term: bert.List{bert.Tuple{bert.Atom("a"), int64(1)}, bert.Tuple{[]byte("a"), int64(2)}}, wantErr: `key "a" appears twice`},
		{name: "duplicate dict key", term: bert.Dict{{Key: bert.Atom("a"), Value: nil}, {Key: bert.ByteList("a"), Value: nil}}, wantErr: "appears twice"},
		{name: "map integer key", term: bert.Map{{Key: int64(1), Value: nil}}, wantErr: "key 0 is an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProps(tt.term)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseProps = %v, want error %q", got, tt.wantErr)
				}
				if !errors.Is(err, ErrBadRequest) || CodeOf(err) != CodeBadRequest {
					t.Errorf("error %v is not a bad request", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProps: %v", err)
			}
			if got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProps = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParsePropsDuplicateInLongList(t *testing.T) {
	var l bert.List
	for i := range 40 {
		l = append(l, bert.Tuple{[]byte{'k', byte('A' + i)}, int64(i)})
	}
	if _, err := ParseProps(l); err != nil {
		t.Fatalf("ParseProps of 40 distinct keys: %v", err)
	}
	l = append(l, bert.Tuple{bert.Atom("kB"), int64(0)})
	if _, err := ParseProps(l); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("ParseProps with a duplicate at 41: %v, want bad request", err)
	}
}

func TestPropsGetSetDelete(t *testing.T) {
	p := Props{{"a", int64(1)}, {"b", []byte("x")}}
	if v, ok := p.Get("b"); !ok || string(v.([]byte)) != "x" {
		t.Errorf("Get(b) = %v, %v", v, ok)
	}
	if _, ok := p.Get("c"); ok {
		t.Error("Get(c) found a missing key")
	}
	if s, ok := p.Text("b"); !ok || s != "x" {
		t.Errorf("Text(b) = %q, %v", s, ok)
	}
	if _, ok := p.Text("a"); ok {
		t.Error("Text(a) of an integer reported text")
	}

	q := p.Set("a", int64(2))
	if !reflect.DeepEqual(q, Props{{"a", int64(2)}, {"b", []byte("x")}}) {
		t.Errorf("Set replace = %v", q)
	}
	if v, _ := p.Get("a"); v != int64(1) {
		t.Errorf("Set changed its receiver: a = %v", v)
	}
	r := p.Set("c", nil)
	if len(r) != 3 || r[2].Key != "c" || len(p) != 2 {
		t.Errorf("Set append = %v (receiver %v)", r, p)
	}

	d := p.Delete("a")
	if !reflect.DeepEqual(d, Props{{"b", []byte("x")}}) || len(p) != 2 {
		t.Errorf("Delete = %v (receiver %v)", d, p)
	}
	if got := p.Delete("zz"); !reflect.DeepEqual(got, p) {
		t.Errorf("Delete of a missing key = %v", got)
	}

	m := p.Merge(Props{{"b", int64(9)}, {"c", int64(3)}})
	if !reflect.DeepEqual(m, Props{{"a", int64(1)}, {"b", int64(9)}, {"c", int64(3)}}) {
		t.Errorf("Merge = %v", m)
	}
	if v, _ := p.Get("b"); string(v.([]byte)) != "x" {
		t.Error("Merge changed its receiver")
	}
}

func TestPropsTerm(t *testing.T) {
	p := Props{{"id", []byte("1")}, {"name", bert.ByteList("Ann")}}
	want := bert.List{bert.Tuple{bert.Atom("id"), []byte("1")}, bert.Tuple{bert.Atom("name"), bert.ByteList("Ann")}}
	if got := p.Term(); !reflect.DeepEqual(got, want) {
		t.Errorf("Term = %#v, want %#v", got, want)
	}
	if got := (Props{}).Term(); got == nil || len(got) != 0 {
		t.Errorf("Term of no props = %#v, want an empty non-nil list", got)
	}
	back, err := ParseProps(p.Term())
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("ParseProps(Term) = %v, %v", back, err)
	}
}

package models

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

// call runs one request through h the way the model actor does: props
// parsed from a term, then NewRequest.
func call(t testing.TB, h Handler, method Method, props bert.List) (any, error) {
	t.Helper()
	p, err := ParseProps(props)
	if err != nil {
		return nil, err
	}
	req, err := NewRequest(method, "character", p)
	if err != nil {
		return nil, err
	}
	return h.Sync(context.Background(), req)
}

func kv(key string, v any) bert.Tuple { return bert.Tuple{bert.Atom(key), v} }

func TestDocumentsHandler(t *testing.T) {
	s := openTestStore(t)
	all := NewDocuments(s, nil)
	for _, name := range []string{"character", "x", strings.Repeat("m", MaxModelNameSize)} {
		if _, ok := all.Handler(name); !ok {
			t.Errorf("Handler(%.10q) = false with no allow list", name)
		}
	}
	for _, name := range []string{"", strings.Repeat("m", MaxModelNameSize+1)} {
		if _, ok := all.Handler(name); ok {
			t.Errorf("Handler(%.10q) = true for an invalid name", name)
		}
	}
	some := NewDocuments(s, []string{"character", "arena"})
	if _, ok := some.Handler("arena"); !ok {
		t.Error("Handler(arena) = false, it is allowed")
	}
	if _, ok := some.Handler("secret"); ok {
		t.Error("Handler(secret) = true, it is not allowed")
	}
	if all.defaultList != DefaultListLimit || all.maxList != MaxListLimit {
		t.Errorf("NewDocuments list limits %d, %d, want %d, %d", all.defaultList, all.maxList, DefaultListLimit, MaxListLimit)
	}
	var none *Documents
	if _, ok := none.Handler("x"); ok {
		t.Error("a nil Documents serves x")
	}
}

func TestDocumentsCRUD(t *testing.T) {
	h, _ := NewDocuments(openTestStore(t), nil).Handler("character")

	// create without id: a generated id, back as a binary.
	got, err := call(t, h, Create, bert.List{kv("name", bert.ByteList("Ann")), kv("level", int64(1))})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	created, ok := got.(Props)
	if !ok || len(created) == 0 {
		t.Fatalf("create = %#v, want props", got)
	}
	idv, _ := created[0].Value.([]byte)
	id := string(idv)
	if created[0].Key != "id" || !isDocumentID(id) {
		t.Fatalf("create = %#v, want a generated id first", got)
	}
	want := Props{{"id", []byte(id)}, {"name", bert.ByteList("Ann")}, {"level", int64(1)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("create = %#v, want %#v", got, want)
	}

	// read with the id as BERT-JS sends it back: a byte list.
	got, err = call(t, h, Read, bert.List{kv("id", bert.ByteList(id))})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read = %#v, %v", got, err)
	}

	// create with a client id, as a byte list; an integer id is its text.
	got, err = call(t, h, Create, bert.List{kv("id", bert.ByteList("bo")), kv("name", []byte("Bo"))})
	if err != nil || !reflect.DeepEqual(got, Props{{"id", []byte("bo")}, {"name", []byte("Bo")}}) {
		t.Fatalf("create with id = %#v, %v", got, err)
	}
	if _, err := call(t, h, Create, bert.List{kv("id", []byte("bo"))}); !errors.Is(err, ErrConflict) {
		t.Errorf("create of an existing id: %v, want conflict", err)
	}
	if _, err := call(t, h, Create, bert.List{kv("id", int64(77))}); err != nil {
		t.Fatal(err)
	}
	if got, err := call(t, h, Read, bert.List{kv("id", []byte("77"))}); err != nil || !reflect.DeepEqual(got, Props{{"id", []byte("77")}}) {
		t.Errorf("read 77 = %#v, %v", got, err)
	}

	// update replaces every attribute.
	got, err = call(t, h, Update, bert.List{kv("id", []byte(id)), kv("level", int64(5))})
	if err != nil || !reflect.DeepEqual(got, Props{{"id", []byte(id)}, {"level", int64(5)}}) {
		t.Fatalf("update = %#v, %v", got, err)
	}
	if got, _ := call(t, h, Read, bert.List{kv("id", []byte(id))}); !reflect.DeepEqual(got, Props{{"id", []byte(id)}, {"level", int64(5)}}) {
		t.Errorf("read after update = %#v", got)
	}
	// update of a missing id creates it.
	got, err = call(t, h, Update, bert.List{kv("id", []byte("new")), kv("name", []byte("N"))})
	if err != nil || !reflect.DeepEqual(got, Props{{"id", []byte("new")}, {"name", []byte("N")}}) {
		t.Fatalf("upsert = %#v, %v", got, err)
	}

	// patch merges.
	got, err = call(t, h, Patch, bert.List{kv("id", []byte(id)), kv("name", []byte("Ann")), kv("level", int64(6))})
	if err != nil || !reflect.DeepEqual(got, Props{{"id", []byte(id)}, {"level", int64(6)}, {"name", []byte("Ann")}}) {
		t.Fatalf("patch = %#v, %v", got, err)
	}
	if _, err := call(t, h, Patch, bert.List{kv("id", []byte("zz")), kv("a", int64(1))}); !errors.Is(err, ErrNotFound) {
		t.Errorf("patch of a missing id: %v, want not found", err)
	}

	// read without id: the collection in creation order.
	got, err = call(t, h, Read, bert.List{})
	if err != nil {
		t.Fatal(err)
	}
	if ids := replyIDs(t, got); !reflect.DeepEqual(ids, []string{id, "bo", "77", "new"}) {
		t.Errorf("collection ids = %v", ids)
	}

	// delete returns the last attributes.
	got, err = call(t, h, Delete, bert.List{kv("id", bert.ByteList("bo"))})
	if err != nil || !reflect.DeepEqual(got, Props{{"id", []byte("bo")}, {"name", []byte("Bo")}}) {
		t.Fatalf("delete = %#v, %v", got, err)
	}
	if _, err := call(t, h, Delete, bert.List{kv("id", []byte("bo"))}); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want not found", err)
	}
	if _, err := call(t, h, Read, bert.List{kv("id", []byte("bo"))}); !errors.Is(err, ErrNotFound) {
		t.Errorf("read after delete: %v, want not found", err)
	}
}

func replyIDs(t testing.TB, reply any) []string {
	t.Helper()
	list, ok := reply.([]Props)
	if !ok {
		t.Fatalf("collection reply is %T, want []Props", reply)
	}
	ids := make([]string, len(list))
	for i, p := range list {
		if p[0].Key != "id" {
			t.Errorf("document %d does not start with id: %v", i, p)
		}
		ids[i], _ = p.Text("id")
	}
	return ids
}

func TestDocumentsBadRequests(t *testing.T) {
	h, _ := NewDocuments(openTestStore(t), nil).Handler("character")
	tests := []struct {
		name   string
		method Method
		props  bert.List
		code   Code
		msg    string
	}{
		{"update without id", Update, bert.List{kv("a", int64(1))}, CodeBadRequest, "update of character needs an id"},
		{"patch without id", Patch, bert.List{}, CodeBadRequest, "patch of character needs an id"},
		{"delete without id", Delete, bert.List{}, CodeBadRequest, "delete of character needs an id"},
		{"read missing", Read, bert.List{kv("id", []byte("9"))}, CodeNotFound, `character "9" not found`},
		{"delete missing", Delete, bert.List{kv("id", []byte("9"))}, CodeNotFound, "not found"},
		{"float id", Read, bert.List{kv("id", 2.5)}, CodeBadRequest, "id is a float"},
		{"negative limit", Read, bert.List{kv("limit", int64(-1))}, CodeBadRequest, "limit is an integer, want a non-negative integer"},
		{"float limit", Read, bert.List{kv("limit", 1.5)}, CodeBadRequest, "limit is a float"},
		{"negative float offset", Read, bert.List{kv("offset", -1.0)}, CodeBadRequest, "offset is a float"},
		{"text limit", Read, bert.List{kv("limit", []byte("ten"))}, CodeBadRequest, `limit is "ten"`},
		{"negative text offset", Read, bert.List{kv("offset", bert.ByteList("-2"))}, CodeBadRequest, `offset is "-2"`},
		{"atom offset", Read, bert.List{kv("offset", bert.Atom("x"))}, CodeBadRequest, `offset is "x"`},
		{"tuple offset", Read, bert.List{kv("offset", bert.Tuple{})}, CodeBadRequest, "offset is a tuple"},
		{"too large", Create, bert.List{kv("blob", make([]byte, MaxDocumentSize+1))}, CodeTooLarge, "document of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := call(t, h, tt.method, tt.props)
			if err == nil {
				t.Fatalf("reply %#v, want a %s error", got, tt.code)
			}
			if CodeOf(err) != tt.code || !strings.Contains(MessageOf(err), tt.msg) {
				t.Errorf("error %q (%s), want %s saying %q", MessageOf(err), CodeOf(err), tt.code, tt.msg)
			}
		})
	}
	// A handler given a method NewRequest would refuse still answers.
	if _, err := h.Sync(context.Background(), Request{Method: "subscribe", Model: "character"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Sync(subscribe): %v", err)
	}
}

func TestDocumentsLimitOffset(t *testing.T) {
	if DefaultListLimit <= 0 || MaxListLimit < DefaultListLimit {
		t.Fatalf("DefaultListLimit %d, MaxListLimit %d", DefaultListLimit, MaxListLimit)
	}
	// Small limits keep the test quick: every create is one synced commit.
	const defaultList, maxList = 8, 12
	d := NewDocuments(openTestStore(t), nil)
	d.defaultList, d.maxList = defaultList, maxList
	h, _ := d.Handler("character")
	// made holds the generated ids in creation order, which reads keep.
	var made []string
	for i := range maxList + 5 {
		got, err := call(t, h, Create, bert.List{kv("i", int64(i))})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := got.(Props).Text("id")
		made = append(made, id)
	}
	tests := []struct {
		props bert.List
		first int // index in made of the first document read
		n     int
		desc  string
	}{
		{bert.List{}, 0, defaultList, "default limit"},
		{bert.List{kv("limit", int64(3))}, 0, 3, "limit"},
		{bert.List{kv("limit", int64(3)), kv("offset", int64(10))}, 10, 3, "limit and offset"},
		{bert.List{kv("limit", bert.ByteList("2")), kv("offset", []byte("4"))}, 4, 2, "as text"},
		{bert.List{kv("limit", int64(1)<<40)}, 0, maxList, "limit capped"},
		{bert.List{kv("limit", []byte("99999999999999999999999"))}, 0, maxList, "huge text limit capped"},
		{bert.List{kv("offset", int64(maxList))}, maxList, 5, "last page"},
		{bert.List{kv("offset", int64(1)<<50)}, 0, 0, "offset past the end"},
		{bert.List{kv("limit", int64(0))}, 0, 0, "limit 0"},
		{bert.List{kv("limit", 2.0), kv("offset", 1.0)}, 1, 2, "whole floats from JSON"},
		{bert.List{kv("limit", nil), kv("offset", nil)}, 0, defaultList, "nil means default"},
	}
	for _, tt := range tests {
		got, err := call(t, h, Read, tt.props)
		if err != nil {
			t.Errorf("%s: %v", tt.desc, err)
			continue
		}
		ids := replyIDs(t, got)
		if len(ids) != tt.n {
			t.Errorf("%s: %d documents, want %d", tt.desc, len(ids), tt.n)
			continue
		}
		if want := made[tt.first : tt.first+tt.n]; tt.n > 0 && !reflect.DeepEqual(ids, want) {
			t.Errorf("%s: ids %v, want %v", tt.desc, ids, want)
		}
	}
	// An empty collection is an empty list, not nil.
	h2, _ := NewDocuments(openTestStore(t), nil).Handler("empty")
	got, err := h2.Sync(context.Background(), Request{Method: Read, Model: "empty"})
	if l, ok := got.([]Props); err != nil || !ok || l == nil || len(l) != 0 {
		t.Errorf("read of an empty collection = %#v, %v", got, err)
	}
}

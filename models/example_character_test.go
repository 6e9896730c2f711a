package models_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// Character is a model's attributes as a Go struct. Its bert tags name the
// properties a front end sends and receives.
type Character struct {
	ID    string `bert:"id"`
	Name  string `bert:"name"`
	Class string `bert:"class,omitempty"`
	Level int    `bert:"level,omitempty"`
}

// Characters is the handler of the character model type: the Go version
// of an Erlang module's sync(Method, Props). It keeps characters in
// memory; the registry runs it as one actor, so Sync is never called
// concurrently and needs no lock.
type Characters struct {
	last int
	byID map[string]Character
}

func NewCharacters() *Characters {
	return &Characters{byID: make(map[string]Character)}
}

func (c *Characters) Sync(ctx context.Context, req models.Request) (any, error) {
	switch req.Method {
	case models.Create:
		var ch Character
		if err := req.Props.Bind(&ch); err != nil {
			return nil, err
		}
		if ch.Name == "" {
			return nil, models.Errorf(models.CodeBadRequest, "a character needs a name")
		}
		c.last++
		ch.ID = strconv.Itoa(c.last)
		c.byID[ch.ID] = ch
		return ch, nil
	case models.Read:
		if req.ID == "" {
			list := make([]Character, 0, len(c.byID))
			for _, ch := range c.byID {
				list = append(list, ch)
			}
			slices.SortFunc(list, func(a, b Character) int { return cmpIDs(a.ID, b.ID) })
			return list, nil
		}
		ch, ok := c.byID[req.ID]
		if !ok {
			return nil, fmt.Errorf("character %q: %w", req.ID, models.ErrNotFound)
		}
		return ch, nil
	case models.Update, models.Patch:
		ch, ok := c.byID[req.ID]
		if !ok {
			return nil, fmt.Errorf("character %q: %w", req.ID, models.ErrNotFound)
		}
		if req.Method == models.Update {
			ch = Character{}
		}
		// Bind sets the fields the props name and leaves the others.
		if err := req.Props.Bind(&ch); err != nil {
			return nil, err
		}
		ch.ID = req.ID
		c.byID[ch.ID] = ch
		return ch, nil
	case models.Delete:
		ch, ok := c.byID[req.ID]
		if !ok {
			return nil, fmt.Errorf("character %q: %w", req.ID, models.ErrNotFound)
		}
		delete(c.byID, req.ID)
		return ch, nil
	}
	return nil, models.Errorf(models.CodeBadRequest, "character does not %s", req.Method)
}

func cmpIDs(a, b string) int {
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	return x - y
}

// handle does what the model actor does with {sync, Method, character, Props}
// from a client: parse the props, check the request and call the handler.
func handle(h models.Handler, method models.Method, props any) (any, error) {
	p, err := models.ParseProps(props)
	if err != nil {
		return nil, err
	}
	req, err := models.NewRequest(method, "character", p)
	if err != nil {
		return nil, err
	}
	return h.Sync(context.Background(), req)
}

// Example_character registers the character model and runs a create and a
// read through its handler, with props as BERT-JS sends them: atom keys
// and every string a byte list, the id it got back included.
func Example_character() {
	registry := models.NewRegistry()
	if err := registry.Register("character", NewCharacters()); err != nil {
		fmt.Println(err)
		return
	}
	h, _ := registry.Lookup("character")

	created, err := handle(h, models.Create, bert.List{
		bert.Tuple{bert.Atom("name"), bert.ByteList("Ann")},
		bert.Tuple{bert.Atom("class"), bert.ByteList("bard")},
		bert.Tuple{bert.Atom("level"), int64(3)},
	})
	fmt.Printf("create: %+v %v\n", created, err)

	read, err := handle(h, models.Read, bert.List{
		bert.Tuple{bert.Atom("id"), bert.ByteList("1")},
	})
	fmt.Printf("read:   %+v %v\n", read, err)

	// The reply's properties, as the client receives them.
	props, _ := models.FromValue(read)
	for _, p := range props {
		fmt.Printf("  %s = %#v\n", p.Key, p.Value)
	}
	fmt.Println(registry.Names())
	// Output:
	// create: {ID:1 Name:Ann Class:bard Level:3} <nil>
	// read:   {ID:1 Name:Ann Class:bard Level:3} <nil>
	//   id = []byte{0x31}
	//   name = []byte{0x41, 0x6e, 0x6e}
	//   class = []byte{0x62, 0x61, 0x72, 0x64}
	//   level = 3
	// [character]
}

// Example_errors shows how a handler's errors become the code and message
// of a {sync, error, {Code, Message}} reply.
func Example_errors() {
	h := NewCharacters()
	for _, call := range []struct {
		method models.Method
		props  any
	}{
		{models.Read, bert.List{bert.Tuple{bert.Atom("id"), []byte("42")}}},
		{models.Read, bert.List{bert.Tuple{bert.Atom("id"), bert.Tuple{}}}},
		{models.Read, bert.Atom("oops")},
		{models.Create, bert.List{bert.Tuple{bert.Atom("name"), bert.ByteList("")}}},
		{models.Method("subscribe"), bert.List{}},
	} {
		_, err := handle(h, call.method, call.props)
		fmt.Printf("%s: %s\n", models.CodeOf(err), models.MessageOf(err))
	}
	// A handler's own failure, an error with no code, is internal, and its
	// text is not sent to clients.
	err := fmt.Errorf("open /var/lib/secret: permission denied")
	fmt.Printf("%s: %s\n", models.CodeOf(err), models.MessageOf(err))
	// Output:
	// not_found: character "42": not found
	// bad_request: id is a tuple of 0 elements, want a binary, a string or an integer
	// bad_request: props: got an atom, want a proplist, a {bert, dict, ...} or a map
	// bad_request: a character needs a name
	// bad_request: unknown method "subscribe", want create, read, update, patch or delete
	// internal: internal error
}

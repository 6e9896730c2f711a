package models_test

import (
	"context"
	"fmt"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// Greeting is a model's attributes as a Go struct. Its bert tags name the
// properties a front end sends and receives.
type Greeting struct {
	ID   string `bert:"id"`
	Name string `bert:"name"`
	Text string `bert:"text,omitempty"`
}

// greetings is the handler of the greeting model type, a switch on the
// method as in an Erlang module's sync(Method, Props). It keeps nothing:
// create answers with a greeting, read finds none, and the other methods
// are refused. examples/character in the repository is a complete model
// type that stores what it is given, served.
var greetings = models.HandlerFunc(func(ctx context.Context, req models.Request) (any, error) {
	switch req.Method {
	case models.Create:
		var g Greeting
		if err := req.Props.Bind(&g); err != nil {
			return nil, err
		}
		if g.Name == "" {
			return nil, models.Errorf(models.CodeBadRequest, "a greeting needs a name")
		}
		g.ID, g.Text = "1", "Hello, "+g.Name+"!"
		return g, nil
	case models.Read:
		return nil, fmt.Errorf("greeting %q: %w", req.ID, models.ErrNotFound)
	}
	return nil, models.Errorf(models.CodeBadRequest, "greeting does not %s", req.Method)
})

// handle does what the model actor does with {sync, Method, greeting, Props}
// from a client: parse the props, check the request and call the handler.
func handle(h models.Handler, method models.Method, props any) (any, error) {
	p, err := models.ParseProps(props)
	if err != nil {
		return nil, err
	}
	req, err := models.NewRequest(method, "greeting", p)
	if err != nil {
		return nil, err
	}
	return h.Sync(context.Background(), req)
}

// Example_handler registers the greeting model type and runs a create
// through its handler, with props as BERT-JS sends them: atom keys and
// every string a byte list.
func Example_handler() {
	registry := models.NewRegistry()
	if err := registry.Register("greeting", greetings); err != nil {
		fmt.Println(err)
		return
	}
	h, _ := registry.Lookup("greeting")

	created, err := handle(h, models.Create, bert.List{
		bert.Tuple{bert.Atom("name"), bert.ByteList("Ann")},
	})
	fmt.Printf("create: %+v %v\n", created, err)

	// The reply's properties, as the client receives them.
	props, _ := models.FromValue(created)
	for _, p := range props {
		fmt.Printf("  %s = %#v\n", p.Key, p.Value)
	}
	fmt.Println(registry.Names())
	// Output:
	// create: {ID:1 Name:Ann Text:Hello, Ann!} <nil>
	//   id = []byte{0x31}
	//   name = []byte{0x41, 0x6e, 0x6e}
	//   text = []byte{0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x41, 0x6e, 0x6e, 0x21}
	// [greeting]
}

// Example_errors shows how a handler's errors become the code and message
// of a {sync, error, {Code, Message}} reply.
func Example_errors() {
	for _, call := range []struct {
		method models.Method
		props  any
	}{
		{models.Read, bert.List{bert.Tuple{bert.Atom("id"), []byte("42")}}},
		{models.Read, bert.List{bert.Tuple{bert.Atom("id"), bert.Tuple{}}}},
		{models.Read, bert.Atom("oops")},
		{models.Create, bert.List{bert.Tuple{bert.Atom("name"), bert.ByteList("")}}},
		{models.Delete, bert.List{bert.Tuple{bert.Atom("id"), int64(1)}}},
		{models.Method("subscribe"), bert.List{}},
	} {
		_, err := handle(greetings, call.method, call.props)
		fmt.Printf("%s: %s\n", models.CodeOf(err), models.MessageOf(err))
	}
	// A handler's own failure, an error with no code, is internal, and its
	// text is not sent to clients.
	err := fmt.Errorf("open /var/lib/secret: permission denied")
	fmt.Printf("%s: %s\n", models.CodeOf(err), models.MessageOf(err))
	// Output:
	// not_found: greeting "42": not found
	// bad_request: id is a tuple of 0 elements, want a binary, a string or an integer
	// bad_request: props: got an atom, want a proplist, a {bert, dict, ...} or a map
	// bad_request: a greeting needs a name
	// bad_request: greeting does not delete
	// bad_request: unknown method "subscribe", want create, read, update, patch or delete
	// internal: internal error
}

package bert_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

func ExampleMarshal() {
	type Character struct {
		ID    string  `bert:"id"`
		Name  string  `bert:"name"`
		Level int     `bert:"level,omitempty"`
		HP    float64 `bert:"hp"`
		Alive bool    `bert:"alive"`
		Notes string  `bert:"-"`
	}
	b, err := bert.Marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("ok"), Character{ID: "c1", Name: "Frodo", HP: 12.5, Alive: true}})
	if err != nil {
		log.Fatal(err)
	}
	var term any
	if err := bert.Unmarshal(b, &term); err != nil {
		log.Fatal(err)
	}
	text, _ := erltext.Format(term)
	fmt.Printf("%d bytes: %s\n", len(b), text)
	// Output:
	// 119 bytes: {sync,ok,[{id,<<"c1">>},{name,<<"Frodo">>},{hp,12.5},{alive,{bert,true}}]}
}

func ExampleUnmarshal() {
	// {sync, create, character, [{name, "Sam"}, {level, 3}]} as BERT-JS
	// sends it: the text as a byte list (STRING_EXT).
	b, err := bert.Append(nil, bert.Tuple{
		bert.Atom("sync"), bert.Atom("create"), bert.Atom("character"),
		bert.List{
			bert.Tuple{bert.Atom("name"), bert.ByteList("Sam")},
			bert.Tuple{bert.Atom("level"), 3},
		},
	}, bert.BERTJS)
	if err != nil {
		log.Fatal(err)
	}
	var req bert.Tuple
	if err := bert.Unmarshal(b, &req); err != nil {
		log.Fatal(err)
	}
	method, _ := bert.AsString(req[1])
	fmt.Println("method:", method)

	// Props go into a struct: text fields accept byte lists, binaries and
	// atoms alike.
	var props struct {
		Name  string `bert:"name"`
		Level int    `bert:"level"`
	}
	raw, _ := bert.Append(nil, req[3], bert.Erlang)
	if err := bert.Unmarshal(raw, &props); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", props)
	// Output:
	// method: create
	// {Name:Sam Level:3}
}

func ExampleAppend() {
	// The two profiles write the same term differently.
	t := bert.Tuple{bert.Atom("ok"), 1.5}
	js, _ := bert.Append(nil, t, bert.BERTJS)
	erl, _ := bert.Append(nil, t, bert.Erlang)
	fmt.Printf("bertjs: % x\n", js[:8])
	fmt.Printf("erlang: % x\n", erl)
	// Output:
	// bertjs: 83 68 02 64 00 02 6f 6b
	// erlang: 83 68 02 77 02 6f 6b 46 3f f8 00 00 00 00 00 00
}

func ExampleAsString() {
	for _, t := range []any{bert.Atom("character"), []byte("character"), bert.ByteList("character"), bert.List{}, 42} {
		s, ok := bert.AsString(t)
		fmt.Printf("%q %v\n", s, ok)
	}
	// Output:
	// "character" true
	// "character" true
	// "character" true
	// "" true
	// "" false
}

func ExampleDecoder() {
	var stream bytes.Buffer
	enc := bert.NewEncoder(&stream)
	enc.SetProfile(bert.Erlang)
	enc.Encode(bert.Atom("first"))
	enc.Encode(bert.Dict{{Key: bert.Atom("k"), Value: time.Unix(0, 0).UTC()}})

	dec := bert.NewDecoder(&stream)
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%T %v\n", v, v)
	}
	// Output:
	// bert.Atom first
	// bert.Dict [{k 1970-01-01 00:00:00 +0000 UTC}]
}

func ExampleUnmarshalOptions() {
	b, _ := bert.Marshal([]byte("a large payload"))
	var payload []byte
	// ZeroCopy: payload is a slice of b, not a copy.
	if err := (bert.UnmarshalOptions{ZeroCopy: true}).Unmarshal(b, &payload); err != nil {
		log.Fatal(err)
	}
	b[len(b)-1] = 'D'
	fmt.Println(string(payload))
	// Output:
	// a large payloaD
}

func ExampleRawTerm() {
	// Decode the envelope now and the payload later.
	b, _ := bert.Marshal(bert.List{bert.Tuple{bert.Atom("type"), bert.Atom("move")}, bert.Tuple{bert.Atom("payload"), bert.Tuple{1, 2}}})
	var msg struct {
		Type    string       `bert:"type"`
		Payload bert.RawTerm `bert:"payload"`
	}
	if err := bert.Unmarshal(b, &msg); err != nil {
		log.Fatal(err)
	}
	var xy [2]int
	if err := bert.Unmarshal(msg.Payload, &xy); err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.Type, xy)
	// Output:
	// move [1 2]
}

package main

import (
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
)

// bertsyncProtocol speaks bertsync's application protocol in binary
// frames: subscribers send {sync, subscribe, Model, []}, the publisher
// {sync, broadcast, Model, [{p, Payload}]}, which the model actor pushes
// to every subscriber but the sender as {sync, broadcast, Model, Props,
// Seq} and stores nowhere, as a centrifuge publication without history.
type bertsyncProtocol struct{}

// bertsyncModel is the model type the bench subscribes to.
const bertsyncModel = bert.Atom("bench_fan")

func (bertsyncProtocol) path() string { return "/bullet" }

func (bertsyncProtocol) subscribe(c *websocket.Conn) error {
	return bertsyncCall(c, bert.Tuple{bert.Atom("sync"), bert.Atom("subscribe"), bertsyncModel, bert.List{}})
}

func (bertsyncProtocol) join(*websocket.Conn) error { return nil }

func (bertsyncProtocol) publish(c *websocket.Conn, _ int, payload []byte) error {
	return bertsyncCall(c, bert.Tuple{bert.Atom("sync"), bert.Atom("broadcast"), bertsyncModel,
		bert.List{bert.Tuple{bert.Atom("p"), payload}}})
}

func (bertsyncProtocol) answer([]byte) []byte { return nil }

func (bertsyncProtocol) overhead() int {
	// A Seq past 255 takes INTEGER_EXT, the form of all but a run's
	// first pushes.
	push, err := bert.Marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("broadcast"), bertsyncModel,
		bert.List{bert.Tuple{bert.Atom("p"), []byte{}}}, int64(1000)})
	if err != nil {
		panic(err) // a constant term
	}
	return len(push)
}

// bertsyncCall sends term and requires the reply {sync, ok, _}.
func bertsyncCall(c *websocket.Conn, term any) error {
	msg, err := bert.Marshal(term)
	if err != nil {
		return err
	}
	c.SetWriteDeadline(time.Now().Add(dialTimeout))
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(dialTimeout))
	_, reply, err := c.ReadMessage()
	if err != nil {
		return err
	}
	c.SetReadDeadline(time.Time{})
	var got any
	if err := bert.Unmarshal(reply, &got); err != nil {
		return fmt.Errorf("reply % x: %w", reply, err)
	}
	if t, ok := got.(bert.Tuple); !ok || len(t) != 3 || t[1] != bert.Atom("ok") {
		return fmt.Errorf("reply %v, want {sync, ok, _}", got)
	}
	return nil
}

package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/gorilla/websocket"
)

// call sends one binary message and returns the reply's length and what
// it says ([describe]).
func call(c *websocket.Conn, msg []byte) (int, string, error) {
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return 0, "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	_, r, err := c.ReadMessage()
	if err != nil {
		return 0, "", err
	}
	return len(r), describe(r), nil
}

// describe says what a reply is: "ok", or "error" with the code and the
// start of the message. A large reply is only looked at, not decoded.
func describe(r []byte) string {
	if len(r) > 64<<10 {
		return head(r)
	}
	var t any
	if err := bert.Unmarshal(r, &t); err != nil {
		return "undecodable: " + err.Error()
	}
	tup, ok := t.(bert.Tuple)
	if !ok || len(tup) < 3 {
		return fmt.Sprintf("%.60v", t)
	}
	switch tup[1] {
	case bert.Atom("ok"):
		return "ok"
	case bert.Atom("error"):
		if e, ok := tup[2].(bert.Tuple); ok && len(e) == 2 {
			msg, _ := bert.AsString(e[1])
			return fmt.Sprintf("error %v: %s", e[0], truncate(msg, 70))
		}
	}
	return fmt.Sprintf("%.60v", t)
}

// head describes a reply by its first bytes: ok or error and the
// error's text.
func head(r []byte) string {
	switch {
	case bytes.Contains(r[:min(len(r), 32)], []byte("error")):
		text := bytes.Map(func(r rune) rune {
			if r < ' ' || r > '~' {
				return -1
			}
			return r
		}, r[min(len(r), 20):min(len(r), 160)])
		return "error: " + string(text)
	case bytes.Contains(r[:min(len(r), 32)], []byte("ok")):
		return "ok"
	}
	return "?"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Wire pieces of the requests.
func atom(s string) []byte { return append([]byte{100, 0, byte(len(s))}, s...) }

func request(method, model string, props []byte) []byte {
	b := []byte{131, 104, 4}
	b = append(b, atom("sync")...)
	b = append(b, atom(method)...)
	b = append(b, atom(model)...)
	return append(b, props...)
}

// prop is [{Key, Value}] with value's wire bytes.
func prop(key string, value []byte) []byte { return pair(atom(key), value) }

// pair is [{Key, Value}] with the wire bytes of both.
func pair(key, value []byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{108}, 1)
	b = append(b, 104, 2)
	b = append(b, key...)
	b = append(b, value...)
	return append(b, 106)
}

func binaryOf(n int) []byte {
	b := binary.BigEndian.AppendUint32([]byte{109}, uint32(n))
	return append(b, bytes.Repeat([]byte("x"), n)...)
}

func bignumOf(n int) []byte {
	b := binary.BigEndian.AppendUint32([]byte{111}, uint32(n))
	b = append(b, 0)
	return append(b, bytes.Repeat([]byte{0x7f}, n)...)
}

// bomb is a compressed term inflating to {sync, method, m, [{a, L}]} with
// L a list of n [].
func bomb(method string, n int) []byte {
	list := binary.BigEndian.AppendUint32([]byte{108}, uint32(n))
	list = append(list, bytes.Repeat([]byte{106}, n)...)
	list = append(list, 106)
	inner := request(method, "m", prop("a", list))[1:]
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(inner)
	w.Close()
	b := binary.BigEndian.AppendUint32([]byte{131, 80}, uint32(len(inner)))
	return append(b, z.Bytes()...)
}

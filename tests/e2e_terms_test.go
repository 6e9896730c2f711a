package tests

// Term helpers of the end-to-end tests: building requests, sending them over
// the tests' own WebSocket client as binary or BERT-JS text frames, and
// taking replies and pushes apart.

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// e2eTimeout bounds every wait for a reply or push.
const e2eTimeout = 10 * time.Second

type (
	e2eA = bert.Atom
	e2eT = bert.Tuple
	e2eL = bert.List
)

// e2eProps builds a proplist with atom keys from key, value pairs.
func e2eProps(kv ...any) e2eL {
	l := e2eL{}
	for i := 0; i+1 < len(kv); i += 2 {
		l = append(l, e2eT{e2eA(kv[i].(string)), kv[i+1]})
	}
	return l
}

// e2eGet returns the value of key in a proplist (keys compared as text).
func e2eGet(props any, key string) (any, bool) {
	switch p := props.(type) {
	case bert.List:
		for _, e := range p {
			if kv, ok := e.(bert.Tuple); ok && len(kv) == 2 {
				if k, ok := bert.AsString(kv[0]); ok && k == key {
					return kv[1], true
				}
			}
		}
	case bert.Map:
		for _, kv := range p {
			if k, ok := bert.AsString(kv.Key); ok && k == key {
				return kv.Value, true
			}
		}
	case bert.Dict:
		for _, kv := range p {
			if k, ok := bert.AsString(kv.Key); ok && k == key {
				return kv.Value, true
			}
		}
	}
	return nil, false
}

// e2eText is the text of a term (binary, atom, byte list, string).
func e2eText(v any) string {
	s, ok := bert.AsString(v)
	if !ok {
		return fmt.Sprintf("<not text: %s>", e2eFmt(v))
	}
	return s
}

// e2eInt is an integer term as int64.
func e2eInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case *big.Int:
		if n.IsInt64() {
			return n.Int64(), true
		}
	}
	return 0, false
}

func e2eFmt(v any) string {
	s, err := erltext.Format(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return s
}

// e2eConn is a WebSocket connection speaking BERT in one frame type.
type e2eConn struct {
	t    testing.TB
	ws   *e2eWS
	Text bool // send BERT-JS text frames instead of binary frames
}

// e2eDial connects a new WebSocket to the server's Bullet endpoint.
func e2eDial(t testing.TB, addr string, text bool) *e2eConn {
	t.Helper()
	ws, err := e2eDialWS(addr, "/bullet", nil)
	if err != nil {
		t.Fatalf("dial ws://%s/bullet: %v", addr, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &e2eConn{t: t, ws: ws, Text: text}
}

// SendRaw sends already-encoded bytes in the connection's frame type.
func (c *e2eConn) SendRaw(b []byte) {
	c.t.Helper()
	var err error
	if c.Text {
		err = c.ws.WriteMessage(wsText, []byte(e2eBytesToChars(b)))
	} else {
		err = c.ws.WriteMessage(wsBinary, b)
	}
	if err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// Send encodes term as BERT and sends it.
func (c *e2eConn) Send(term any) {
	c.t.Helper()
	b, err := bert.Marshal(term)
	if err != nil {
		c.t.Fatalf("marshal %#v: %v", term, err)
	}
	c.SendRaw(b)
}

// Recv reads the next message and decodes it; it checks that the frame
// type is the one this connection sends.
func (c *e2eConn) Recv() any {
	c.t.Helper()
	op, data, err := c.ws.ReadMessage(e2eTimeout)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	term, err := e2eDecodeFrame(op, data)
	if err != nil {
		c.t.Fatal(err)
	}
	if want := byte(wsBinary); c.Text {
		want = wsText
		if op != want {
			c.t.Fatalf("got frame opcode %#x, want text: %s", op, e2eFmt(term))
		}
	} else if op != want {
		c.t.Fatalf("got frame opcode %#x, want binary: %s", op, e2eFmt(term))
	}
	return term
}

// e2eDecodeFrame decodes a BERT message from a binary frame or a BERT-JS
// text frame.
func e2eDecodeFrame(op byte, data []byte) (any, error) {
	if op == wsText {
		b, err := e2eCharsToBytes(string(data))
		if err != nil {
			return nil, fmt.Errorf("text frame %q: %w", data, err)
		}
		data = b
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		return nil, fmt.Errorf("decode reply % x: %w", data, err)
	}
	return term, nil
}

// Call sends term and returns the next message, which must be a reply.
func (c *e2eConn) Call(term any) e2eReply {
	c.t.Helper()
	c.Send(term)
	return c.Reply()
}

// Reply reads the next message and requires it to be a reply.
func (c *e2eConn) Reply() e2eReply {
	c.t.Helper()
	m := c.Recv()
	r, ok := e2eParseReply(m)
	if !ok {
		c.t.Fatalf("want a reply {sync, ok|error, …}, got %s", e2eFmt(m))
	}
	return r
}

// OK sends term and requires {sync, ok, Msg}; it returns Msg.
func (c *e2eConn) OK(term any) any {
	c.t.Helper()
	r := c.Call(term)
	if !r.OK {
		c.t.Fatalf("%s: got %s, want {sync, ok, …}", e2eFmt(term), e2eFmt(r.Term))
	}
	return r.Msg
}

// Err sends term and requires {sync, error, {Code, Msg}}; it returns Code.
func (c *e2eConn) Err(term any) string {
	c.t.Helper()
	r := c.Call(term)
	if r.OK {
		c.t.Fatalf("%s: got %s, want {sync, error, …}", e2eFmt(term), e2eFmt(r.Term))
	}
	return r.Code
}

// Push reads the next message and requires it to be a push.
func (c *e2eConn) Push() e2ePush {
	c.t.Helper()
	m := c.Recv()
	p, ok := e2eParsePush(m)
	if !ok {
		c.t.Fatalf("want a push {sync, Event, Model, Props, Seq}, got %s", e2eFmt(m))
	}
	return p
}

// Quiet proves that nothing is queued for this connection: it sends the
// text control message "ping" and requires the very next message to be
// "pong".
func (c *e2eConn) Quiet() {
	c.t.Helper()
	if err := c.ws.WriteMessage(wsText, []byte("ping")); err != nil {
		c.t.Fatal(err)
	}
	op, data, err := c.ws.ReadMessage(e2eTimeout)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if op != wsText || string(data) != "pong" {
		term, _ := e2eDecodeFrame(op, data)
		c.t.Fatalf("want pong, got opcode %#x %q (%s)", op, data, e2eFmt(term))
	}
}

// e2eReply is a decoded reply.
type e2eReply struct {
	Term   any
	OK     bool
	Msg    any    // Msg of an ok reply, Reason of an error reply
	Code   string // the error code
	Reason string // the error message text
	Ref    any
	HasRef bool
}

func e2eParseReply(m any) (e2eReply, bool) {
	t, ok := m.(bert.Tuple)
	if !ok || (len(t) != 3 && len(t) != 4) || t[0] != e2eA("sync") {
		return e2eReply{}, false
	}
	r := e2eReply{Term: m, Msg: t[2]}
	if len(t) == 4 {
		r.Ref, r.HasRef = t[3], true
	}
	switch t[1] {
	case e2eA("ok"):
		r.OK = true
	case e2eA("error"):
		reason, ok := t[2].(bert.Tuple)
		if !ok || len(reason) != 2 {
			return e2eReply{}, false
		}
		code, ok := reason[0].(bert.Atom)
		if !ok {
			return e2eReply{}, false
		}
		if _, ok := reason[1].([]byte); !ok {
			return e2eReply{}, false
		}
		r.Code, r.Reason = string(code), string(reason[1].([]byte))
	default:
		return e2eReply{}, false
	}
	return r, true
}

// e2ePush is a decoded push.
type e2ePush struct {
	Term  any
	Event string
	Model string
	Props any
	Seq   int64
}

func e2eParsePush(m any) (e2ePush, bool) {
	t, ok := m.(bert.Tuple)
	if !ok || len(t) != 5 || t[0] != e2eA("sync") {
		return e2ePush{}, false
	}
	ev, ok := t[1].(bert.Atom)
	if !ok {
		return e2ePush{}, false
	}
	switch ev {
	case "created", "updated", "deleted", "broadcast":
	default:
		return e2ePush{}, false
	}
	seq, ok := e2eInt(t[4])
	if !ok {
		return e2ePush{}, false
	}
	model, ok := bert.AsString(t[2])
	if !ok {
		return e2ePush{}, false
	}
	return e2ePush{Term: m, Event: string(ev), Model: model, Props: t[3], Seq: seq}, true
}

// Change sends a change on a connection that is subscribed to its model:
// it reads the reply and the connection's own push, in either order, and
// requires the reply to be ok.
func (c *e2eConn) Change(term any) (e2eReply, e2ePush) {
	c.t.Helper()
	c.Send(term)
	var r e2eReply
	var p e2ePush
	var gotR, gotP bool
	for !gotR || !gotP {
		m := c.Recv()
		if rr, ok := e2eParseReply(m); ok && !gotR {
			r, gotR = rr, true
		} else if pp, ok := e2eParsePush(m); ok && !gotP {
			p, gotP = pp, true
		} else {
			c.t.Fatalf("%s: unexpected %s", e2eFmt(term), e2eFmt(m))
		}
	}
	if !r.OK {
		c.t.Fatalf("%s: %s", e2eFmt(term), e2eFmt(r.Term))
	}
	return r, p
}

// e2eBytes is a binary term's bytes, nil for any other term.
func e2eBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// e2eList is a list term, nil for any other term.
func e2eList(v any) e2eL {
	l, _ := v.(e2eL)
	return l
}

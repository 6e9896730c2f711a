package tests

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

// e2eCRUD runs create, read (one and collection), update, patch and delete
// of one model over c and checks every reply.
func e2eCRUD(t *testing.T, c *e2eConn, model string) {
	t.Helper()
	m := e2eA(model)

	created := c.OK(e2eT{e2eA("sync"), e2eA("create"), m, e2eProps("name", []byte("Frodo"), "level", int64(3))})
	idTerm, ok := e2eGet(created, "id")
	if !ok {
		t.Fatalf("create reply has no id: %s", e2eFmt(created))
	}
	id := e2eText(idTerm)
	if id == "" {
		t.Fatalf("create reply has an empty id: %s", e2eFmt(created))
	}
	if v, _ := e2eGet(created, "name"); e2eText(v) != "Frodo" {
		t.Fatalf("create reply name = %s", e2eFmt(v))
	}

	// A second one with an id of the client's choosing.
	c.OK(e2eT{e2eA("sync"), e2eA("create"), m, e2eProps("id", []byte("sam"), "name", []byte("Sam"))})

	got := c.OK(e2eT{e2eA("sync"), e2eA("read"), m, e2eProps("id", []byte(id))})
	if v, _ := e2eGet(got, "name"); e2eText(v) != "Frodo" {
		t.Fatalf("read name = %s, reply %s", e2eFmt(v), e2eFmt(got))
	}
	if v, _ := e2eGet(got, "level"); v != int64(3) {
		t.Fatalf("read level = %s, want 3", e2eFmt(v))
	}
	if v, _ := e2eGet(got, "id"); e2eText(v) != id {
		t.Fatalf("read id = %s, want %q", e2eFmt(v), id)
	}

	// The same id as a STRING_EXT byte list, the way BERT-JS sends it.
	got = c.OK(e2eT{e2eA("sync"), e2eA("read"), m, e2eL{e2eT{bert.ByteList("id"), bert.ByteList("sam")}}})
	if v, _ := e2eGet(got, "name"); e2eText(v) != "Sam" {
		t.Fatalf("read by byte-list id: %s", e2eFmt(got))
	}

	all := c.OK(e2eT{e2eA("sync"), e2eA("read"), m, e2eL{}})
	list, ok := all.(bert.List)
	if !ok || len(list) != 2 {
		t.Fatalf("collection read = %s, want a list of 2", e2eFmt(all))
	}

	// update replaces, patch merges.
	up := c.OK(e2eT{e2eA("sync"), e2eA("update"), m, e2eProps("id", []byte(id), "name", []byte("Frodo Baggins"))})
	if _, has := e2eGet(up, "level"); has {
		t.Fatalf("update should replace the attributes, got %s", e2eFmt(up))
	}
	pa := c.OK(e2eT{e2eA("sync"), e2eA("patch"), m, e2eProps("id", []byte(id), "ring", e2eA("true"))})
	if v, _ := e2eGet(pa, "name"); e2eText(v) != "Frodo Baggins" {
		t.Fatalf("patch lost name: %s", e2eFmt(pa))
	}
	got = c.OK(e2eT{e2eA("sync"), e2eA("read"), m, e2eProps("id", []byte(id))})
	if v, _ := e2eGet(got, "ring"); v != e2eA("true") {
		t.Fatalf("after patch, ring = %s in %s", e2eFmt(v), e2eFmt(got))
	}

	c.OK(e2eT{e2eA("sync"), e2eA("delete"), m, e2eProps("id", []byte(id))})
	if code := c.Err(e2eT{e2eA("sync"), e2eA("read"), m, e2eProps("id", []byte(id))}); code != "not_found" {
		t.Fatalf("read after delete: code %s, want not_found", code)
	}
	all = c.OK(e2eT{e2eA("sync"), e2eA("read"), m, e2eL{}})
	if list, ok := all.(bert.List); !ok || len(list) != 1 {
		t.Fatalf("collection after delete = %s, want 1 element", e2eFmt(all))
	}
}

func TestE2EWebSocketBinaryCRUD(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	c := e2eDial(t, s.Addr, false)
	e2eCRUD(t, c, "character")
}

func TestE2EWebSocketTextCRUD(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	c := e2eDial(t, s.Addr, true)
	e2eCRUD(t, c, "character")

	// Bytes above 127 travel as two-byte UTF-8 code points: a binary with
	// every byte value must come back unchanged.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got := c.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("blob"), e2eProps("data", all)})
	if v, _ := e2eGet(got, "data"); !bytes.Equal(e2eBytes(v), all) {
		t.Fatalf("binary with all byte values came back as %s", e2eFmt(v))
	}
}

// TestE2EWebSocketFragmented sends a request split over several frames,
// with a ping control frame between the fragments, in both frame types.
func TestE2EWebSocketFragmented(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	for _, text := range []bool{false, true} {
		c := e2eDial(t, s.Addr, text)
		req, err := bert.Marshal(e2eT{e2eA("sync"), e2eA("create"), e2eA("frag"), e2eProps("id", []byte(fmt.Sprint(text)), "pad", bytes.Repeat([]byte("x"), 300))})
		if err != nil {
			t.Fatal(err)
		}
		op, payload := byte(wsBinary), req
		if text {
			op, payload = wsText, []byte(e2eBytesToChars(req))
		}
		if err := c.ws.WriteFragmented(op, payload, 4, true); err != nil {
			t.Fatal(err)
		}
		r := c.Reply()
		if !r.OK {
			t.Fatalf("fragmented request (text=%v): %s", text, e2eFmt(r.Term))
		}
		select {
		case p := <-c.ws.Pongs:
			if string(p) != "mid" {
				t.Fatalf("pong payload %q, want %q", p, "mid")
			}
		default:
			t.Fatalf("no pong for the ping between fragments (text=%v)", text)
		}
	}
}

// TestE2EPingPong checks both pings: the text control message "ping"
// (bullet.js's heartbeat) and the WebSocket ping control frame.
func TestE2EPingPong(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	c := e2eDial(t, s.Addr, true)
	c.Quiet()
	if err := c.ws.WriteMessage(wsPing, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.Quiet() // the pong control frame is consumed on the way
	select {
	case p := <-c.ws.Pongs:
		if string(p) != "hello" {
			t.Fatalf("pong payload %q", p)
		}
	default:
		t.Fatal("no pong control frame for a ping control frame")
	}
}

// TestE2EFrameTypeFollowsRequest checks that replies go back in the frame
// type of the request and pushes in the connection's latest frame type.
func TestE2EFrameTypeFollowsRequest(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	model := e2eA("ftype")
	sub := e2eDial(t, s.Addr, true)
	sub.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	other := e2eDial(t, s.Addr, false)

	other.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("a"))})
	if p := sub.Push(); p.Event != "created" { // Recv checks: a text frame
		t.Fatalf("push %s", e2eFmt(p.Term))
	}
	// The subscriber switches to binary: its reply and later pushes are binary.
	sub.Text = false
	sub.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eL{}})
	other.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("b"))})
	if p := sub.Push(); p.Event != "created" {
		t.Fatalf("push %s", e2eFmt(p.Term))
	}
}

func TestE2ERefAndNestedForm(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	for _, text := range []bool{false, true} {
		c := e2eDial(t, s.Addr, text)
		model := e2eA(fmt.Sprintf("refs_%v", text))

		// Pipelined requests with refs of several kinds: replies in order,
		// each with its own ref back unchanged.
		refs := []any{int64(1), e2eA("two"), []byte("three"), e2eT{e2eA("ref"), int64(4), e2eL{int64(5)}}, int64(1) << 40}
		for i, ref := range refs {
			c.Send(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(fmt.Sprint(i))), ref})
		}
		c.Send(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte("nope")), e2eA("missing")})
		for i, ref := range refs {
			r := c.Reply()
			if !r.OK || !r.HasRef {
				t.Fatalf("reply %d = %s, want {sync, ok, _, Ref}", i, e2eFmt(r.Term))
			}
			if e2eFmt(r.Ref) != e2eFmt(ref) {
				t.Fatalf("reply %d ref = %s, want %s", i, e2eFmt(r.Ref), e2eFmt(ref))
			}
			if v, _ := e2eGet(r.Msg, "id"); e2eText(v) != fmt.Sprint(i) {
				t.Fatalf("reply %d answers id %s: out of order", i, e2eFmt(v))
			}
		}
		r := c.Reply()
		if r.OK || r.Code != "not_found" || r.Ref != e2eA("missing") {
			t.Fatalf("error reply with ref = %s, want {sync, error, {not_found, _}, missing}", e2eFmt(r.Term))
		}

		// The second seed's nested form {sync, {Method, Model, Props}}.
		got := c.OK(e2eT{e2eA("sync"), e2eT{e2eA("read"), model, e2eProps("id", []byte("0"))}})
		if v, _ := e2eGet(got, "id"); e2eText(v) != "0" {
			t.Fatalf("nested read = %s", e2eFmt(got))
		}
		got = c.OK(e2eT{e2eA("sync"), e2eT{e2eA("create"), model, e2eProps("name", []byte("nested"))}})
		if v, _ := e2eGet(got, "name"); e2eText(v) != "nested" {
			t.Fatalf("nested create = %s", e2eFmt(got))
		}
		// Model name as a binary, props as a dict and as a map.
		got = c.OK(e2eT{e2eA("sync"), e2eA("read"), []byte(model), bert.Dict{{Key: e2eA("id"), Value: []byte("1")}}})
		if v, _ := e2eGet(got, "id"); e2eText(v) != "1" {
			t.Fatalf("dict read = %s", e2eFmt(got))
		}
		// Maps are outside the BERT-JS profile: encode with Erlang's.
		mapReq, err := bert.Append(nil, e2eT{e2eA("sync"), e2eA("read"), model, bert.Map{{Key: []byte("id"), Value: []byte("2")}}}, bert.Erlang)
		if err != nil {
			t.Fatal(err)
		}
		c.SendRaw(mapReq)
		if r := c.Reply(); !r.OK {
			t.Fatalf("map read = %s", e2eFmt(r.Term))
		} else {
			got = r.Msg
		}
		if v, _ := e2eGet(got, "id"); e2eText(v) != "2" {
			t.Fatalf("map read = %s", e2eFmt(got))
		}
	}
}

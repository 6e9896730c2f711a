package main

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 20 * time.Second

// startServer runs serve on a free loopback port with its own data
// directory and returns the address. The server is stopped, and must
// have stopped cleanly, when the test ends.
func startServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, "127.0.0.1:0", t.TempDir(), func(a net.Addr) { addrc <- a.String() })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("serve did not stop")
		}
	})
	select {
	case addr := <-addrc:
		return addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("serve did not start")
	}
	return ""
}

// client is a WebSocket connection to the Bullet endpoint that sends
// terms in binary frames, written and read as Erlang text.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/bullet", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

// send sends the term written in Erlang text.
func (c *client) send(text string) {
	c.t.Helper()
	term, err := erltext.Parse(text)
	if err != nil {
		c.t.Fatalf("parse %s: %v", text, err)
	}
	data, err := bert.Marshal(term)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next reply or push and returns it in Erlang text.
func (c *client) next() string {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(waitLimit))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatal(err)
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		c.t.Fatal(err)
	}
	text, err := erltext.Format(term)
	if err != nil {
		c.t.Fatal(err)
	}
	return text
}

// check sends each request in turn and compares its reply.
func (c *client) check(calls [][2]string) {
	c.t.Helper()
	for _, call := range calls {
		c.send(call[0])
		if got := epochAsE(c.next()); got != call[1] {
			c.t.Errorf("%s\n got %s\nwant %s", call[0], got, call[1])
		}
	}
}

func TestCharacterSync(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t))
	c.check([][2]string{
		{`{sync, create, character, [{name, <<"Ann">>}, {class, <<"bard">>}, {level, 3}]}`,
			`{sync,ok,[{id,<<"1">>},{name,<<"Ann">>},{class,<<"bard">>},{level,3}]}`},
		// As BERT-JS sends it: every string a byte list, the id included.
		{`{sync, create, character, [{name, "Bo"}]}`,
			`{sync,ok,[{id,<<"2">>},{name,<<"Bo">>}]}`},
		{`{sync, read, character, [{id, "1"}], 7}`,
			`{sync,ok,[{id,<<"1">>},{name,<<"Ann">>},{class,<<"bard">>},{level,3}],7}`},
		{`{sync, read, character, []}`,
			`{sync,ok,[[{id,<<"1">>},{name,<<"Ann">>},{class,<<"bard">>},{level,3}],[{id,<<"2">>},{name,<<"Bo">>}]]}`},
		// update replaces the attributes, patch merges.
		{`{sync, update, character, [{id, <<"1">>}, {name, <<"Ann">>}, {class, <<"sage">>}]}`,
			`{sync,ok,[{id,<<"1">>},{name,<<"Ann">>},{class,<<"sage">>}]}`},
		{`{sync, patch, character, [{id, <<"1">>}, {level, 4}]}`,
			`{sync,ok,[{id,<<"1">>},{name,<<"Ann">>},{class,<<"sage">>},{level,4}]}`},
		{`{sync, delete, character, [{id, <<"2">>}]}`,
			`{sync,ok,[{id,<<"2">>},{name,<<"Bo">>}]}`},
		{`{sync, read, character, [{id, <<"2">>}]}`,
			`{sync,error,{not_found,<<"character \"2\": not found">>}}`},
		{`{sync, read, character, []}`,
			`{sync,ok,[[{id,<<"1">>},{name,<<"Ann">>},{class,<<"sage">>},{level,4}]]}`},
	})
}

func TestCharacterValidation(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t))
	c.check([][2]string{
		{`{sync, create, character, [{class, <<"bard">>}]}`,
			`{sync,error,{bad_request,<<"a character needs a name">>}}`},
		{`{sync, create, character, [{name, <<"Ann">>}, {level, -1}], ref}`,
			`{sync,error,{bad_request,<<"level -1: want 0 or more">>},ref}`},
		{`{sync, create, character, [{name, <<"Ann">>}]}`,
			`{sync,ok,[{id,<<"1">>},{name,<<"Ann">>}]}`},
		{`{sync, patch, character, [{id, <<"1">>}, {name, <<>>}]}`,
			`{sync,error,{bad_request,<<"a character needs a name">>}}`},
		// Nothing was changed by the refused patch.
		{`{sync, read, character, [{id, <<"1">>}]}`,
			`{sync,ok,[{id,<<"1">>},{name,<<"Ann">>}]}`},
	})
	// A value of the wrong type is refused by Bind.
	c.send(`{sync, create, character, [{name, <<"Cy">>}, {level, <<"high">>}]}`)
	if got := c.next(); !strings.HasPrefix(got, `{sync,error,{bad_request,<<"`) || !strings.Contains(got, "level") {
		t.Errorf("level <<\"high\">>: got %s", got)
	}
}

func TestCharacterPush(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	sub, c := dial(t, addr), dial(t, addr)
	sub.check([][2]string{{`{sync, subscribe, character, []}`, `{sync,ok,[{seq,0},{epoch,E}]}`}})
	c.check([][2]string{
		{`{sync, create, character, [{name, <<"Cy">>}]}`, `{sync,ok,[{id,<<"1">>},{name,<<"Cy">>}]}`},
		{`{sync, patch, character, [{id, <<"1">>}, {level, 2}]}`, `{sync,ok,[{id,<<"1">>},{name,<<"Cy">>},{level,2}]}`},
		{`{sync, delete, character, [{id, <<"1">>}]}`, `{sync,ok,[{id,<<"1">>},{name,<<"Cy">>},{level,2}]}`},
		// A refused request changes nothing and pushes nothing.
		{`{sync, delete, character, [{id, <<"1">>}]}`, `{sync,error,{not_found,<<"character \"1\": not found">>}}`},
	})
	for _, want := range []string{
		`{sync,created,character,[{id,<<"1">>},{name,<<"Cy">>}],1}`,
		`{sync,updated,character,[{id,<<"1">>},{name,<<"Cy">>},{level,2}],2}`,
		`{sync,deleted,character,[{id,<<"1">>},{name,<<"Cy">>},{level,2}],3}`,
	} {
		if got := sub.next(); got != want {
			t.Errorf("push\n got %s\nwant %s", got, want)
		}
	}
	// The subscriber's next message is the reply to its own request, not
	// a fourth push.
	sub.check([][2]string{{`{sync, unsubscribe, character, []}`, `{sync,ok,[{seq,3},{epoch,E}]}`}})
}

// The document model serves the types that have no Go handler, beside
// the character model and apart from it.
func TestDocumentsBeside(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t))
	// The document model gives the note an id of its own making (DESIGN
	// §6); the rows below name it ID1.
	c.send(`{sync, create, note, [{text, <<"buy milk">>}]}`)
	got := c.next()
	m := generatedID.FindStringSubmatch(got)
	if m == nil || got != `{sync,ok,[{id,<<"`+m[1]+`">>},{text,<<"buy milk">>}]}` {
		t.Fatalf("create note: got %s, want the note with a generated id", got)
	}
	id1 := strings.NewReplacer("ID1", `<<"`+m[1]+`">>`)
	calls := [][2]string{
		{`{sync, create, character, [{name, <<"Di">>}]}`, `{sync,ok,[{id,<<"1">>},{name,<<"Di">>}]}`},
		{`{sync, patch, note, [{id, ID1}, {done, true}]}`,
			`{sync,ok,[{id,ID1},{text,<<"buy milk">>},{done,true}]}`},
		{`{sync, read, note, []}`, `{sync,ok,[[{id,ID1},{text,<<"buy milk">>},{done,true}]]}`},
		{`{sync, read, character, []}`, `{sync,ok,[[{id,<<"1">>},{name,<<"Di">>}]]}`},
	}
	for i := range calls {
		calls[i] = [2]string{id1.Replace(calls[i][0]), id1.Replace(calls[i][1])}
	}
	c.check(calls)
}

// generatedID is an id the document model makes, in a formatted term: 29
// characters of lowercase base32hex.
var generatedID = regexp.MustCompile(`\{id,<<"([0-9a-v]{29})">>\}`)

// epochPattern is a stream's epoch in a subscribe reply, random per
// store; epochAsE writes it as E, so that replies compare as text.
var epochPattern = regexp.MustCompile(`\{epoch,<<"[^"]*">>\}`)

func epochAsE(reply string) string { return epochPattern.ReplaceAllString(reply, "{epoch,E}") }

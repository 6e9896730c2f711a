package actors

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// rulesSystem serves the document model on a fresh store under rules.
func rulesSystem(t *testing.T, rules string) *System {
	t.Helper()
	r, err := models.ParseRules([]byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	store, err := models.OpenStore(filepath.Join(t.TempDir(), "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return newTestSystem(t, Config{Documents: models.NewDocuments(store, nil), Rules: r}, nil)
}

// user is one connection of a caller.
type user struct {
	s  *Session
	tr *fakeTransport
}

func connect(sys *System, subject string) user {
	tr := newFakeTransport(64)
	var opts []SessionOption
	if subject != "" {
		opts = append(opts, WithCaller(models.Caller{Subject: subject}, time.Time{}))
	}
	return user{sys.NewSession(tr, opts...), tr}
}

// do sends a request and returns the reply.
func (u user) do(t *testing.T, method string, props bert.List) bert.Tuple {
	t.Helper()
	send(t, u.s, request(method, "note", props))
	reply, fr := u.tr.next(t)
	if !fr.Reply {
		t.Fatalf("got push %s before the reply", format(reply))
	}
	return reply
}

func TestRulesRefuseByMethodAndCaller(t *testing.T) {
	t.Parallel()
	sys := rulesSystem(t, `{"note": {"read": "public", "create": "authenticated", "delete": "none"}}`)
	anon, ann := connect(sys, ""), connect(sys, "ann")

	wantError(t, anon.do(t, "create", kv("text", []byte("x"))), models.CodeUnauthorized)
	doc := wantOK(t, ann.do(t, "create", kv("text", []byte("x"))))
	id := prop(t, doc, "id")
	wantOK(t, anon.do(t, "read", kv("id", id)))
	wantError(t, ann.do(t, "delete", kv("id", id)), models.CodeForbidden)
	// Named by neither the type nor "*": none.
	wantError(t, ann.do(t, "update", kv("id", id, "text", []byte("y"))), models.CodeForbidden)
	wantError(t, anon.do(t, "subscribe", nil), models.CodeForbidden)
	wantOK(t, anon.do(t, "unsubscribe", nil))

	// REST and uploads call the same rules through System.Call.
	req, _ := models.NewRequest(models.Create, "note", models.Props{{Key: "text", Value: []byte("z")}})
	if _, err := sys.Call(context.Background(), req); models.CodeOf(err) != models.CodeUnauthorized {
		t.Fatalf("anonymous Call create: %v, want unauthorized", err)
	}
	req.Caller = models.Caller{Subject: "ann"}
	if _, err := sys.Call(context.Background(), req); err != nil {
		t.Fatalf("Call create as ann: %v", err)
	}
}

const ownerRules = `{"*": {"create": "authenticated", "read": "owner", "update": "owner",
	"patch": "owner", "delete": "owner", "subscribe": "owner", "broadcast": "authenticated"}}`

func TestOwnerRules(t *testing.T) {
	t.Parallel()
	sys := rulesSystem(t, ownerRules)
	ann, bob := connect(sys, "ann"), connect(sys, "bob")

	// The server stamps the owner, whatever the client sent.
	doc := wantOK(t, ann.do(t, "create", kv("text", []byte("a1"), "owner", []byte("bob"))))
	annID := prop(t, doc, "id")
	if got := text(t, prop(t, doc, "owner")); got != "ann" {
		t.Fatalf("owner of ann's create = %q", got)
	}
	bobID := prop(t, wantOK(t, bob.do(t, "create", kv("text", []byte("b1")))), "id")
	wantOK(t, ann.do(t, "create", kv("text", []byte("a2"))))

	// Another owner's document is not found, whatever the method.
	for _, method := range []string{"read", "patch", "update", "delete"} {
		wantError(t, bob.do(t, method, kv("id", annID, "text", []byte("mine"))), models.CodeNotFound)
	}
	// A collection lists the caller's own, and offset counts them alone.
	list := wantOK(t, ann.do(t, "read", nil)).(bert.List)
	if len(list) != 2 || text(t, prop(t, list[0], "text")) != "a1" || text(t, prop(t, list[1], "text")) != "a2" {
		t.Fatalf("ann's collection: %s", format(list))
	}
	list = wantOK(t, ann.do(t, "read", kv("offset", 1))).(bert.List)
	if len(list) != 1 || text(t, prop(t, list[0], "text")) != "a2" {
		t.Fatalf("ann's collection from offset 1: %s", format(list))
	}
	list = wantOK(t, bob.do(t, "read", nil)).(bert.List)
	if len(list) != 1 || !bert.Equal(prop(t, list[0], "id"), bobID) {
		t.Fatalf("bob's collection: %s", format(list))
	}
	// The owner cannot be changed: not by patch, not by update.
	doc = wantOK(t, ann.do(t, "patch", kv("id", annID, "owner", []byte("bob"))))
	if got := text(t, prop(t, doc, "owner")); got != "ann" {
		t.Fatalf("owner after patch = %q", got)
	}
	doc = wantOK(t, ann.do(t, "update", kv("id", annID, "text", []byte("a1'"), "owner", []byte("bob"))))
	if got := text(t, prop(t, doc, "owner")); got != "ann" {
		t.Fatalf("owner after update = %q", got)
	}
	wantOK(t, ann.do(t, "delete", kv("id", annID)))
	wantError(t, ann.do(t, "read", kv("id", annID)), models.CodeNotFound)
}

func TestOwnerSubscriptionsHearTheirOwn(t *testing.T) {
	t.Parallel()
	sys := rulesSystem(t, ownerRules)
	ann, bob, bobWriter := connect(sys, "ann"), connect(sys, "bob"), connect(sys, "bob")
	sub := wantOK(t, bob.do(t, "subscribe", nil))
	if prop(t, sub, "filtered") != true {
		t.Fatalf("an owner-only subscribe answered %s, want {filtered, true}", format(sub))
	}
	_, epoch := position(t, sub)

	wantOK(t, ann.do(t, "create", kv("text", []byte("secret"))))                       // Seq 1
	wantOK(t, ann.do(t, "broadcast", kv("text", []byte("hi"), "from", []byte("bob")))) // Seq 2
	wantOK(t, bobWriter.do(t, "create", kv("text", []byte("bob's"))))                  // Seq 3
	wantOK(t, bobWriter.do(t, "broadcast", kv("text", []byte("yo"))))                  // Seq 4

	// bob hears neither of ann's events: the next pushes are his own.
	push, _ := bob.tr.next(t)
	if got := text(t, prop(t, wantPush(t, push, "created", "note", 3), "text")); got != "bob's" {
		t.Fatalf("bob's first push: %s", format(push))
	}
	push, _ = bob.tr.next(t)
	if got := text(t, prop(t, wantPush(t, push, "broadcast", "note", 4), "from")); got != "bob" {
		t.Fatalf("bob's broadcast: %s", format(push))
	}

	// A replay obeys the same rule: bob recovers his own two events only.
	late := connect(sys, "bob")
	rec := wantOK(t, late.do(t, "subscribe", kv("since", int64(0), "epoch", epoch)))
	if prop(t, rec, "recovered") != true {
		t.Fatalf("bob's recovery: %s", format(rec))
	}
	push, _ = late.tr.next(t)
	wantPush(t, push, "created", "note", 3)
	push, _ = late.tr.next(t)
	wantPush(t, push, "broadcast", "note", 4)
}

func TestBroadcastFromIsStamped(t *testing.T) {
	t.Parallel()
	sys := rulesSystem(t, `{"*": {"subscribe": "public", "broadcast": "public"}}`)
	listener, ann, anon := connect(sys, ""), connect(sys, "ann"), connect(sys, "")
	wantOK(t, listener.do(t, "subscribe", nil))
	wantOK(t, ann.do(t, "broadcast", kv("from", []byte("mallory"), "text", []byte("hi"))))
	push, _ := listener.tr.next(t)
	if got := text(t, prop(t, wantPush(t, push, "broadcast", "note", 1), "from")); got != "ann" {
		t.Fatalf("from of ann's broadcast = %q, want ann", got)
	}
	// An anonymous caller's broadcast has no from: none can be forged.
	wantOK(t, anon.do(t, "broadcast", kv("from", []byte("ann"), "text", []byte("yo"))))
	push, _ = listener.tr.next(t)
	props := wantPush(t, push, "broadcast", "note", 2).(bert.List)
	if len(props) != 1 || text(t, prop(t, props, "text")) != "yo" {
		t.Fatalf("an anonymous broadcast was pushed as %s, want no from", format(push))
	}
}

// guarded refuses bob everything, subscribe and broadcast included, and
// records who called.
type guarded struct{ memModel }

func (g *guarded) Allow(_ context.Context, req models.Request) error {
	if req.Caller.Subject == "bob" {
		return models.Errorf(models.CodeForbidden, "not bob")
	}
	return nil
}

func TestGuardSeesEveryMethodAndCaller(t *testing.T) {
	t.Parallel()
	g := &guarded{memModel: *newMemModel()}
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"note": g})
	ann, bob := connect(sys, "ann"), connect(sys, "bob")
	for _, method := range []string{"create", "read", "subscribe", "broadcast"} {
		wantError(t, bob.do(t, method, nil), models.CodeForbidden)
	}
	wantOK(t, bob.do(t, "unsubscribe", nil))
	wantOK(t, ann.do(t, "create", kv("id", []byte("n1"))))
	wantOK(t, ann.do(t, "subscribe", nil))
}

func TestSessionEndsWhenTokenExpires(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"note": newMemModel()})
	tr := newFakeTransport(4)
	sys.NewSession(tr, WithCaller(models.Caller{Subject: "ann"}, time.Now().Add(50*time.Millisecond)))
	if reason := tr.waitClosed(t); reason != TokenExpired {
		t.Fatalf("closed as %v, want %v", reason, TokenExpired)
	}
}

// The handler sees who called.
func TestHandlerGetsCaller(t *testing.T) {
	t.Parallel()
	seen := make(chan models.Caller, 1)
	h := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		seen <- req.Caller
		return models.Props{{Key: "id", Value: []byte("1")}}, nil
	})
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"note": h})
	claims := map[string]any{"role": "admin"}
	tr := newFakeTransport(4)
	s := sys.NewSession(tr, WithCaller(models.Caller{Subject: "ann", Claims: claims}, time.Time{}))
	send(t, s, request("read", "note", kv("id", []byte("1"))))
	tr.next(t)
	if c := <-seen; c.Subject != "ann" || c.Claims["role"] != "admin" {
		t.Fatalf("handler saw %+v", c)
	}
}

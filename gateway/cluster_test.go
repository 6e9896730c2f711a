package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/cluster"
	"github.com/bertsync/bertsync/internal/pgtest"
	"github.com/bertsync/bertsync/models"
)

// Short durations, so that a dead node is seen dead quickly.
var (
	testMembership = cluster.Config{Heartbeat: 50 * time.Millisecond, Timeout: time.Second}
	testRouting    = ClusterConfig{KeepAlive: 100 * time.Millisecond, Timeout: 3 * time.Second}
)

// routedNode is a gateway in cluster mode: its own actor systems (the
// session actors' and the remote's), its own document store, one
// database with the other nodes.
type routedNode struct {
	*testServer
	id     string
	as     *actor.ActorSystem
	remote *remote.Remote
	m      *cluster.Membership
	c      *Cluster
	// stopHeartbeat ends the membership's heartbeat without leaving.
	stopHeartbeat context.CancelFunc
}

// remoteNode is an actor system with its remote started.
type remoteNode struct {
	as     *actor.ActorSystem
	remote *remote.Remote
	addr   string
}

// startRemotes starts n remotes. remote.Start sets gRPC's global logger,
// which gRPC's goroutines read without synchronisation: every remote a
// test uses is started before any of them carries a message.
func startRemotes(t *testing.T, n int) []remoteNode {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	nodes := make([]remoteNode, n)
	for i := range nodes {
		as := actor.NewActorSystem(
			actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }),
			actor.WithMetricProviders(nil),
		)
		rem, addr, err := cluster.StartRemote(as, "127.0.0.1:0", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rem.Shutdown(false) })
		nodes[i] = remoteNode{as: as, remote: rem, addr: addr}
	}
	return nodes
}

func newRoutedNode(t *testing.T, pool *pgxpool.Pool, id string, rn remoteNode, cfg Config) *routedNode {
	t.Helper()
	as, rem, addr := rn.as, rn.remote, rn.addr
	key, err := cluster.SessionKey(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	hctx, stop := context.WithCancel(context.Background())
	m, err := cluster.Join(hctx, pool, cluster.Node{ID: id, ClusterAddr: addr}, testMembership)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Leave(context.Background()) })
	rcfg := testRouting
	rcfg.Members, rcfg.Key = m, key
	c, err := NewCluster(as, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster = c
	ts := newTestServerActors(t, cfg, actors.Config{})
	return &routedNode{testServer: ts, id: id, as: as, remote: rem, m: m, c: c, stopHeartbeat: stop}
}

// crash stops the node's gateway and remote without leaving the
// membership: to the others it looks alive and does not answer.
func (n *routedNode) crash() {
	n.gw.Close()
	n.Server.Close()
	n.remote.Shutdown(false)
}

// on returns a client of n that shares a's cookies: the same browser on
// another node.
func (a *client) on(n *routedNode) *client {
	hc := *a.hc
	hc.Transport = n.Client().Transport
	return &client{t: a.t, hc: &hc, url: n.bulletURL()}
}

func (a *client) cookie() string {
	for _, c := range a.hc.Jar.(*cookieJar).cookies {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}

func (a *client) setCookie(v string) {
	a.hc.Jar.SetCookies(nil, []*http.Cookie{{Name: cookieName, Value: v}})
}

// cookieNode returns the node a's cookie names.
func cookieNode(t *testing.T, a *client, key []byte) string {
	t.Helper()
	node, err := cluster.ParseSessionID(key, a.cookie())
	if err != nil {
		t.Fatalf("cookie %q: %v", a.cookie(), err)
	}
	return node
}

// waitUntil waits for cond, an observable state, checking it often.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCluster(t *testing.T) {
	srv := pgtest.Start(t)
	const subtests = 6
	remotes := startRemotes(t, 2*subtests)
	db := func(t *testing.T) *pgxpool.Pool {
		name := strings.ToLower(strings.NewReplacer("/", "_").Replace(t.Name()))
		url := srv.CreateDB(t, name)
		// The store's own migration makes the nodes and meta tables.
		store, err := models.OpenPostgres(context.Background(), url, models.PGConfig{})
		if err != nil {
			t.Fatal(err)
		}
		store.Close()
		pool, err := pgxpool.New(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	two := func(t *testing.T, cfg Config) (*routedNode, *routedNode) {
		if len(remotes) < 2 {
			t.Fatal("more subtests than remotes started")
		}
		pool := db(t)
		n1 := newRoutedNode(t, pool, "node-1", remotes[0], cfg)
		n2 := newRoutedNode(t, pool, "node-2", remotes[1], cfg)
		remotes = remotes[2:]
		waitUntil(t, "the nodes see each other", func() bool {
			_, ok1 := n1.m.Lookup(context.Background(), "node-2")
			_, ok2 := n2.m.Lookup(context.Background(), "node-1")
			return ok1 && ok2
		})
		return n1, n2
	}
	t.Run("LongPollAcrossNodes", func(t *testing.T) { testClusterLongPoll(t, two) })
	t.Run("EventSourceOnOtherNode", func(t *testing.T) { testClusterEventSource(t, two) })
	t.Run("ForgedCookies", func(t *testing.T) { testClusterForgedCookies(t, two) })
	t.Run("OwnerStopped", func(t *testing.T) { testClusterOwnerStopped(t, two) })
	t.Run("OwnerCrashed", func(t *testing.T) { testClusterOwnerCrashed(t, two) })
	t.Run("ClientHangsUp", func(t *testing.T) { testClusterHangUp(t, two) })
}

type twoNodes func(t *testing.T, cfg Config) (*routedNode, *routedNode)

// testClusterLongPoll: one session whose POSTs and polls alternate
// between the nodes gets every reply and every push once.
func testClusterLongPoll(t *testing.T, two twoNodes) {
	n1, n2 := two(t, Config{PollTimeout: 200 * time.Millisecond})
	a1 := n1.httpClient(t)
	a2 := a1.on(n2)
	if reply := a1.postTerm(`{sync, subscribe, note, [], sub}`); !strings.HasSuffix(reply, ",sub}") {
		t.Fatalf("subscribe: %s", reply)
	}
	cookie := a1.cookie()
	if node := cookieNode(t, a1, n1.c.cfg.Key); node != "node-1" {
		t.Fatalf("the session's cookie names %q", node)
	}
	nodes := []*client{a1, a2}
	const n = 8
	for i := range n {
		post, poll := nodes[i%2], nodes[(i/2)%2] // every pairing
		reply := post.postTerm(fmt.Sprintf(`{sync, create, note, [{n, %d}], r%d}`, i, i))
		if !strings.HasPrefix(reply, "{sync,ok,") || !strings.HasSuffix(reply, fmt.Sprintf(",r%d}", i)) {
			t.Fatalf("create %d: %s", i, reply)
		}
		status, _, body := poll.poll()
		if status != http.StatusOK {
			t.Fatalf("poll %d on %s: %d %q", i, poll.url, status, body)
		}
		push := format(t, fromJSBinaryString(t, body))
		if !strings.HasPrefix(push, "{sync,created,note,") || !strings.Contains(push, fmt.Sprintf("{n,%d}", i)) {
			t.Fatalf("poll %d: %s", i, push)
		}
	}
	// Nothing twice: both nodes' polls find the queue empty.
	for _, c := range nodes {
		if status, _, body := c.poll(); status != http.StatusNoContent {
			t.Fatalf("poll on %s after all: %d %q", c.url, status, body)
		}
	}
	if a1.cookie() != cookie {
		t.Fatal("the session's cookie changed: a new session was made")
	}
	// A ping forwarded is answered by the owner.
	if status, _, body := a2.post([]byte("ping")); status != http.StatusOK || string(body) != "pong" {
		t.Fatalf("ping on node 2: %d %q", status, body)
	}
	n1.gw.mu.Lock()
	sessions1 := len(n1.gw.polls)
	n1.gw.mu.Unlock()
	n2.gw.mu.Lock()
	sessions2 := len(n2.gw.polls)
	n2.gw.mu.Unlock()
	if sessions1 != 1 || sessions2 != 0 {
		t.Fatalf("polling sessions: %d on node 1, %d on node 2; want the one on node 1", sessions1, sessions2)
	}
}

// testClusterEventSource: a stream on node 2 of a session on node 1
// streams, flushed event by event, responses larger than the window
// included.
func testClusterEventSource(t *testing.T, two twoNodes) {
	n1, n2 := two(t, Config{})
	a1 := n1.httpClient(t)
	a1.postTerm(`{sync, subscribe, note, []}`)
	a2 := a1.on(n2)
	es, status := a2.eventSource("?bertsync=1")
	if status != http.StatusOK {
		t.Fatalf("EventSource on node 2: %d", status)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20<<10) // 320 KiB: ten chunks and more
	for i, post := range []*client{a1, a2, a2, a1} {
		blob := []byte(fmt.Sprintf("note %d", i))
		if i == 2 {
			blob = big
		}
		reply := post.postTerm(`{sync, create, note, [{blob, <<"` + string(blob) + `">>}]}`)
		if !strings.HasPrefix(reply, "{sync,ok,") {
			t.Fatalf("create %d: %.200s", i, reply)
		}
		data, err := es.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		push, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Fatalf("event %d %.100q: %v", i, data, err)
		}
		if !bytes.Contains(push, blob) || !strings.HasPrefix(format(t, push), "{sync,created,note,") {
			t.Fatalf("event %d: %.200s", i, format(t, push))
		}
	}
}

// testClusterForgedCookies: a cookie that is forged, unsigned, or names
// a node that is not there starts a new session on the node it reached.
func testClusterForgedCookies(t *testing.T, two twoNodes) {
	n1, n2 := two(t, Config{PollTimeout: 50 * time.Millisecond})
	key := n1.c.cfg.Key
	a1 := n1.httpClient(t)
	a1.postTerm(`{sync, subscribe, note, []}`)
	genuine := a1.cookie()
	raw, err := base64.RawURLEncoding.DecodeString(genuine)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	forged := base64.RawURLEncoding.EncodeToString(raw)
	unsigned, err := newSessionID()
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := cluster.NewSessionID(key, "node-3")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := cluster.NewSessionID(bytes.Repeat([]byte{1}, 32), "node-1")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"forged": forged, "unsigned": unsigned, "unknown node": ghost, "other key": otherKey} {
		b := n2.httpClient(t)
		b.setCookie(v)
		if reply := b.postTerm(`{sync, read, note, [{id, <<"x">>}], r}`); !strings.HasSuffix(reply, ",r}") {
			t.Fatalf("%s: %s", name, reply)
		}
		if b.cookie() == v {
			t.Fatalf("%s: the cookie was kept", name)
		}
		if node := cookieNode(t, b, key); node != "node-2" {
			t.Fatalf("%s: the new session's cookie names %q, want node-2", name, node)
		}
	}
	// The genuine session is untouched, and has nothing it should not.
	if status, _, body := a1.on(n2).poll(); status != http.StatusNoContent || a1.cookie() != genuine {
		t.Fatalf("the genuine session: %d %q, cookie kept %v", status, body, a1.cookie() == genuine)
	}
}

// testClusterOwnerStopped: once the owner has left, its cookie starts a
// new session on the node reached.
func testClusterOwnerStopped(t *testing.T, two twoNodes) {
	n1, n2 := two(t, Config{PollTimeout: 50 * time.Millisecond})
	a1 := n1.httpClient(t)
	a1.postTerm(`{sync, subscribe, note, []}`)
	old := a1.cookie()
	n1.crash()
	if err := n1.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node 2 sees node 1 gone", func() bool {
		_, ok := n2.m.Lookup(context.Background(), "node-1")
		return !ok
	})
	a2 := a1.on(n2)
	if status, _, body := a2.poll(); status != http.StatusNoContent {
		t.Fatalf("poll on node 2: %d %q", status, body)
	}
	if a2.cookie() == old || cookieNode(t, a2, n2.c.cfg.Key) != "node-2" {
		t.Fatalf("the client kept its session of the stopped node")
	}
	if reply := a2.postTerm(`{sync, subscribe, note, [], again}`); !strings.HasSuffix(reply, ",again}") {
		t.Fatalf("subscribe on the new session: %s", reply)
	}
}

// testClusterOwnerCrashed: an owner that is still in the table but
// does not answer gets its clients 503 (they retry), until the
// membership counts it dead and they get a new session.
func testClusterOwnerCrashed(t *testing.T, two twoNodes) {
	n1, n2 := two(t, Config{PollTimeout: 50 * time.Millisecond})
	a1 := n1.httpClient(t)
	a1.postTerm(`{sync, subscribe, note, []}`)
	old := a1.cookie()
	n1.crash()
	a2 := a1.on(n2)
	for _, req := range []func() (int, string, []byte){a2.poll, func() (int, string, []byte) { return a2.post([]byte("ping")) }} {
		if status, _, body := req(); status != http.StatusServiceUnavailable {
			t.Fatalf("request to a crashed owner: %d %q", status, body)
		}
	}
	if a2.cookie() != old {
		t.Fatal("the cookie changed while the owner was still counted alive")
	}
	n1.stopHeartbeat()
	waitUntil(t, "node 2 counts node 1 dead", func() bool {
		_, ok := n2.m.Lookup(context.Background(), "node-1")
		return !ok
	})
	if status, _, body := a2.poll(); status != http.StatusNoContent || a2.cookie() == old {
		t.Fatalf("poll once node 1 is dead: %d %q, new cookie %v", status, body, a2.cookie() != old)
	}
}

// testClusterHangUp: a client that hangs up on the router ends the
// request on the owner, and a poll that was waiting takes nothing.
func testClusterHangUp(t *testing.T, two twoNodes) {
	n1, n2 := two(t, Config{PollTimeout: -1})
	a1 := n1.httpClient(t)
	a1.postTerm(`{sync, subscribe, note, []}`)
	a2 := a1.on(n2)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a2.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := a2.hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("a held poll was answered %s", resp.Status)
		}
		done <- err
	}()
	running := func() int {
		n1.c.mu.Lock()
		defer n1.c.mu.Unlock()
		return len(n1.c.running)
	}
	waitUntil(t, "the poll runs on node 1", func() bool { return running() == 1 })
	cancel()
	<-done
	waitUntil(t, "the poll has ended on node 1", func() bool { return running() == 0 })
	// What comes next is the next poll's.
	a1.postTerm(`{sync, create, note, [{n, 1}]}`)
	status, _, body := a2.poll()
	if status != http.StatusOK || !strings.Contains(format(t, fromJSBinaryString(t, body)), "{n,1}") {
		t.Fatalf("poll after the hang-up: %d %q", status, body)
	}
}

package tests

// End-to-end tests of many nodes (DESIGN §7): three `bertsync serve`
// child processes on one real PostgreSQL server that the test starts
// (internal/pgtest), with clients spread over them. Changes of every
// kind made on any node reach the subscribers of every node in Seq
// order; one long-poll session is served by all three; a node killed
// with kill -9 under write load loses only its own connections, whose
// clients recover on another node; a terminated listener connection
// loses no event; and after a restart of every node Seq and epoch go on.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bertsync/bertsync/internal/pgtest"
)

// clArgs lift the per-connection rate limit, as stArgs do, and let each
// node's pages call the others (one service behind one name in real
// deployments; three ports here).
var clArgs = []string{"--rate-limit", "1000000"}

// clFreeAddr returns a loopback address with a port free now.
func clFreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// clStartNode starts one node on the database at url.
func clStartNode(t testing.TB, url string, args ...string) *e2eServer {
	t.Helper()
	argv := append([]string{"--store", url, "--cluster-addr", clFreeAddr(t)}, clArgs...)
	return e2eStartServer(t, "", append(argv, args...)...)
}

// clStart starts n nodes on a fresh database of pg. Each test has a
// PostgreSQL server of its own, so that terminating its backends or
// restarting it touches no other test.
func clStart(t testing.TB, pg *pgtest.Server, db string, n int, args ...string) (string, []*e2eServer) {
	t.Helper()
	url := pg.CreateDB(t, db)
	nodes := make([]*e2eServer, n)
	for i := range nodes {
		nodes[i] = clStartNode(t, url, args...)
	}
	return url, nodes
}

// clExpectAll reads from each subscriber the pushes wants, Seqs from
// first on.
func clExpectAll(t testing.TB, subs []*e2eConn, model string, first int64, wants []stWant) {
	t.Helper()
	for i, sub := range subs {
		for k, want := range wants {
			p := sub.Push()
			v, _ := e2eGet(p.Props, want.key)
			if p.Event != want.event || p.Model != model || p.Seq != first+int64(k) || e2eText(v) != want.value {
				t.Fatalf("subscriber on node %d: push %s, want %s of %s with seq %d", i+1, e2eFmt(p.Term), want, model, first+int64(k))
			}
		}
	}
}

// TestClusterChangesReachEveryNode: creates, patches, updates, deletes
// and broadcasts over WebSockets, REST changes and an upload, made on
// the three nodes in turn and then all at once, reach the subscribers of
// every node in one Seq order, with no gap and no repeat; the uploaded
// file is served, ranges too, by a node that did not receive it; and a
// write acknowledged by one node is read at once by another.
func TestClusterChangesReachEveryNode(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	_, nodes := clStart(t, pg, "changes", 3)
	model := e2eA("clnote")
	subs := make([]*e2eConn, len(nodes))
	writers := make([]*e2eConn, len(nodes))
	var epoch string
	for i, n := range nodes {
		subs[i] = e2eDial(t, n.Addr, true)
		pos := stSubscribe(t, subs[i], model)
		if pos.Top != 0 || (epoch != "" && pos.Epoch != epoch) {
			t.Fatalf("node %d: subscribed at %+v, want seq 0 and the epoch %q of the others", i+1, pos, epoch)
		}
		epoch = pos.Epoch
		writers[i] = e2eDial(t, n.Addr, false)
	}

	// One node after the other: the order is known.
	var wants []stWant
	for i, w := range writers {
		wants = append(wants, stMix(t, w, model, fmt.Sprintf("n%d-", i+1))...)
	}
	clExpectAll(t, subs, "clnote", 1, wants)
	next := int64(len(wants) + 1)

	// All at once: every subscriber sees the same order, each once.
	const each = 40
	for i, w := range writers {
		for k := range each {
			w.Send(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(fmt.Sprintf("c%d-%02d", i+1, k)))})
		}
	}
	for _, w := range writers {
		for range each {
			if r := w.Reply(); !r.OK {
				t.Fatalf("concurrent create: %s", e2eFmt(r.Term))
			}
		}
	}
	var order []string
	for i, sub := range subs {
		seen := map[string]bool{}
		for k := range len(writers) * each {
			p := sub.Push()
			id, _ := e2eGet(p.Props, "id")
			if p.Event != "created" || p.Seq != next+int64(k) || seen[e2eText(id)] {
				t.Fatalf("subscriber on node %d: push %s, want a new create with seq %d", i+1, e2eFmt(p.Term), next+int64(k))
			}
			seen[e2eText(id)] = true
			if i == 0 {
				order = append(order, e2eText(id))
			} else if order[k] != e2eText(id) {
				t.Fatalf("subscriber on node %d has %s at seq %d, node 1 has %s", i+1, e2eText(id), next+int64(k), order[k])
			}
		}
	}
	next += int64(len(writers) * each)

	// REST on node 2, an upload on node 3, served from node 1.
	rest := func(n *e2eServer, method, path, ctype string, body []byte, hdr map[string]string, want int) string {
		t.Helper()
		h := e2eNewHTTP(t, n)
		all := map[string]string{}
		for k, v := range hdr {
			all[k] = v
		}
		if ctype != "" {
			all["Content-Type"] = ctype
		}
		resp := h.do(context.Background(), method, n.URL()+path, body, all)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s on %s: %s %s, want %d", method, path, n.Addr, resp.Status, b, want)
		}
		return string(b)
	}
	rest(nodes[1], "POST", "/api/clnote", "application/json", []byte(`{"id":"r1","name":"Ann"}`), nil, http.StatusCreated)
	clExpectAll(t, subs, "clnote", next, []stWant{stChange("created", "r1")})
	next++
	file := []byte(strings.Repeat("0123456789", 40000)) // 400,000 bytes: more than one chunk
	body, ctype := e2eMultipart(t, "digits.txt", file)
	rest(nodes[2], "PUT", "/api/clnote/r1", ctype, body, nil, http.StatusOK)
	var fileURL string
	for i, sub := range subs {
		p := sub.Push()
		f, _ := e2eGet(p.Props, "file")
		u, _ := e2eGet(f, "url")
		if p.Event != "updated" || p.Seq != next || e2eText(u) == "" {
			t.Fatalf("subscriber on node %d: push %s, want the upload's update with seq %d", i+1, e2eFmt(p.Term), next)
		}
		fileURL = e2eText(u)
	}
	next++
	if got := rest(nodes[0], "GET", fileURL, "", nil, nil, http.StatusOK); got != string(file) {
		t.Fatalf("node 1 served %d bytes of the file uploaded to node 3, want %d", len(got), len(file))
	}
	if got := rest(nodes[0], "GET", fileURL, "", nil, map[string]string{"Range": "bytes=262140-262149"}, http.StatusPartialContent); got != string(file[262140:262150]) {
		t.Fatalf("range across a chunk boundary: %q, want %q", got, file[262140:262150])
	}

	// Read-your-writes across nodes: no node serves a stale read.
	for k := range 20 {
		id := []byte(fmt.Sprintf("ryw%02d", k))
		writers[k%3].OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("clryw"), e2eProps("id", id, "k", int64(k))})
		got := writers[(k+1)%3].OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("clryw"), e2eProps("id", id)})
		if v, _ := e2eGet(got, "k"); v != int64(k) {
			t.Fatalf("read on another node after an acknowledged create: %s", e2eFmt(got))
		}
	}
	for _, sub := range subs {
		sub.Quiet()
	}
}

// clHTTPClients returns one HTTP client per node, all of one browser: one
// cookie jar, so that every node sees the same session cookie.
func clHTTPClients(t testing.TB, nodes []*e2eServer) []*e2eHTTP {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	hs := make([]*e2eHTTP, len(nodes))
	for i, n := range nodes {
		hs[i] = &e2eHTTP{t: t, base: n.URL(), client: client}
	}
	return hs
}

// TestClusterPollSessionOnEveryNode: one long-poll session whose POSTs
// and GETs go round the three nodes (no sticky sessions) gets every
// reply in its POST and every push of its subscription in its polls,
// exactly once and in Seq order, whichever node made the change; then
// the same session's EventSource stream, opened on a node that does not
// hold it, carries the next pushes.
func TestClusterPollSessionOnEveryNode(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	_, nodes := clStart(t, pg, "pollsplit", 3)
	hs := clHTTPClients(t, nodes)
	model := e2eA("clpoll")
	stParsePos(t, hs[0].PostOK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}}), false)
	writers := make([]*e2eConn, len(nodes))
	for i, n := range nodes {
		writers[i] = e2eDial(t, n.Addr, false)
	}
	const rounds = 9
	for k := range rounds {
		id := []byte(fmt.Sprintf("p%02d", k))
		// A POST through the session's node or another one...
		got := hs[k%3].PostOK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("offset", int64(0))})
		if l, ok := got.(e2eL); !ok || len(l) != k {
			t.Fatalf("round %d: POST on node %d read %s, want %d documents", k, k%3+1, e2eFmt(got), k)
		}
		// ...a change on a third node...
		writers[(k+1)%3].OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", id)})
		// ...and its push in a poll on yet another.
		status, m := hs[(k+2)%3].Poll(30 * time.Second)
		if status != http.StatusOK {
			t.Fatalf("round %d: poll on node %d: status %d", k, (k+2)%3+1, status)
		}
		p, ok := e2eParsePush(m)
		v, _ := e2eGet(p.Props, "id")
		if !ok || p.Event != "created" || p.Seq != int64(k+1) || e2eText(v) != string(id) {
			t.Fatalf("round %d: poll on node %d got %s, want the create of %s with seq %d", k, (k+2)%3+1, e2eFmt(m), id, k+1)
		}
	}
	es := hs[2].EventSource(true)
	for k := rounds; k < rounds+3; k++ {
		id := []byte(fmt.Sprintf("p%02d", k))
		writers[k%2].OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", id)})
		m := es.Next()
		p, ok := e2eParsePush(m)
		v, _ := e2eGet(p.Props, "id")
		if !ok || p.Seq != int64(k+1) || e2eText(v) != string(id) {
			t.Fatalf("EventSource on node 3: %s, want the create of %s with seq %d", e2eFmt(m), id, k+1)
		}
	}
	// A POST on node 2 is answered in its response while the stream
	// runs on node 3, for a session on node 1.
	got := hs[1].PostOK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte("p00"))})
	if v, _ := e2eGet(got, "id"); e2eText(v) != "p00" {
		t.Fatalf("POST read on node 2 while streaming: %s", e2eFmt(got))
	}
}

// TestClusterKillNodeUnderLoad: writers on two nodes pipeline creates
// and one of those nodes is killed with kill -9 in the middle. The
// subscriber on the third node hears every event in order; the
// subscriber that was on the killed node resubscribes on another one
// with since and epoch and recovers exactly what it missed; every
// acknowledged create is there byte for byte.
func TestClusterKillNodeUnderLoad(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	_, nodes := clStart(t, pg, "killnode", 3, "--history-size", "100000", "--max-queue", "100000", "--max-queue-size", "64MiB")
	model := e2eA("clkill")
	doomedSub := e2eDial(t, nodes[0].Addr, true)
	start := stSubscribe(t, doomedSub, model)
	liveSub := e2eDial(t, nodes[2].Addr, true)
	stSubscribe(t, liveSub, model)

	var killed atomic.Bool
	var acks atomic.Int64
	reached := make(chan struct{})
	var once sync.Once
	onAck := func() {
		if acks.Add(1) >= 150 {
			once.Do(func() { close(reached) })
		}
	}
	var ws []*stWriter
	for i, n := range nodes[:2] {
		for k := range 4 {
			conn, err := e2eDialWS(n.Addr, "/bullet", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			ws = append(ws, &stWriter{name: fmt.Sprintf("n%dw%d", i+1, k), ws: conn, model: model, window: 8, max: 100})
		}
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(onAck, &killed) })
	}
	// The doomed node's subscriber reads what it can until the kill.
	var before []e2ePush
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			op, data, err := doomedSub.ws.ReadMessage(e2eTimeout)
			if err != nil {
				return
			}
			m, err := e2eDecodeFrame(op, data)
			if err != nil {
				return
			}
			if p, ok := e2eParsePush(m); ok {
				before = append(before, p)
			}
		}
	}()
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("%d acknowledgements in 60 s, want 150 before the kill", acks.Load())
	}
	killed.Store(true)
	stKill(t, nodes[0])
	wg.Wait()
	<-readDone

	sent := map[string]stSent{}
	acked := 0
	for _, w := range ws {
		if w.err != nil && !strings.HasPrefix(w.name, "n1") {
			t.Fatalf("writer %s on a node that lives: %v", w.name, w.err)
		}
		for i, p := range w.payloads {
			sent[w.id(i)] = stSent{payload: p, acked: i < w.acked}
		}
		acked += w.acked
	}
	// Everything committed reaches the live subscriber, in order: the
	// acknowledged creates, and perhaps some the killed node committed
	// without answering.
	reader := e2eDial(t, nodes[1].Addr, false)
	list := reader.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("limit", int64(1000))}).(e2eL)
	stored := map[string][]byte{}
	for _, d := range list {
		id, _ := e2eGet(d, "id")
		payload, _ := e2eGet(d, "payload")
		b, _ := payload.([]byte)
		stored[e2eText(id)] = b
	}
	for id, s := range sent {
		if got, ok := stored[id]; s.acked && (!ok || string(got) != string(s.payload)) {
			t.Fatalf("acknowledged create %s: stored %v (%d bytes), want its %d bytes", id, ok, len(got), len(s.payload))
		}
	}
	var live []e2ePush
	for k := range len(list) {
		p := liveSub.Push()
		if p.Event != "created" || p.Seq != int64(k+1) {
			t.Fatalf("live subscriber: push %s, want a create with seq %d", e2eFmt(p.Term), k+1)
		}
		live = append(live, p)
	}
	// The doomed node's client recovers on node 2 from its last Seq.
	since := start.Top
	for i, p := range before {
		if p.Seq != int64(i+1) || e2eFmt(p.Term) != e2eFmt(live[i].Term) {
			t.Fatalf("the killed node's subscriber had %s at %d, the live one %s", e2eFmt(p.Term), i+1, e2eFmt(live[i].Term))
		}
		since = p.Seq
	}
	again := e2eDial(t, nodes[1].Addr, true)
	pos := stRecover(t, again, model, since, start.Epoch)
	if !pos.Recovered || pos.Top != int64(len(list)) {
		t.Fatalf("recovery on node 2 from %d: %+v, want recovered at %d", since, pos, len(list))
	}
	for _, want := range live[since:] {
		if got := again.Push(); e2eFmt(got.Term) != e2eFmt(want.Term) {
			t.Fatalf("recovered %s, the live subscriber had %s", e2eFmt(got.Term), e2eFmt(want.Term))
		}
	}
	again.Quiet()
	t.Logf("killed node 1 with %d creates acknowledged; %d stored; its subscriber had %d events and recovered %d on node 2",
		acked, len(list), len(before), int64(len(list))-since)
}

// TestClusterListenerTerminated: the connections that listen for other
// nodes' events are terminated by PostgreSQL (pg_terminate_backend)
// while writes go on; every subscriber still hears every event once, in
// order.
func TestClusterListenerTerminated(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	_, nodes := clStart(t, pg, "listener", 3)
	model := e2eA("cllisten")
	subs := make([]*e2eConn, len(nodes))
	for i, n := range nodes {
		subs[i] = e2eDial(t, n.Addr, true)
		stSubscribe(t, subs[i], model)
	}
	w := e2eDial(t, nodes[0].Addr, false)
	var wants []stWant
	for k := range 30 {
		if k%10 == 5 {
			if n := pg.TerminateBackends(t, "datname = 'listener' AND application_name = 'bertsync-tail'"); n == 0 {
				t.Fatal("no listener connection to terminate")
			}
		}
		id := fmt.Sprintf("l%02d", k)
		w.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(id))})
		wants = append(wants, stChange("created", id))
	}
	clExpectAll(t, subs, "cllisten", 1, wants)
	for _, sub := range subs {
		sub.Quiet()
	}
}

// TestClusterRestartKeepsPosition: after every node is stopped and
// started again, Seq and epoch go on where they were, on every node.
func TestClusterRestartKeepsPosition(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	url, nodes := clStart(t, pg, "restart", 3)
	model := e2eA("clrestart")
	for i, n := range nodes {
		w := e2eDial(t, n.Addr, false)
		w.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(fmt.Sprint(i)))})
	}
	epoch := stEpoch(t, e2eDial(t, nodes[0].Addr, false), model)
	for _, n := range nodes {
		n.Stop()
	}
	for i := range nodes {
		nodes[i] = clStartNode(t, url)
	}
	for i, n := range nodes {
		c := e2eDial(t, n.Addr, true)
		pos := stSubscribe(t, c, model)
		if pos.Top != 3 || pos.Epoch != epoch {
			t.Fatalf("node %d after the restart: %+v, want seq 3 and epoch %q", i+1, pos, epoch)
		}
	}
	w := e2eDial(t, nodes[1].Addr, false)
	w.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("after"))})
	c := e2eDial(t, nodes[2].Addr, true)
	if pos := stRecover(t, c, model, 3, epoch); !pos.Recovered || pos.Top != 4 {
		t.Fatalf("recovery after the restart: %+v, want recovered at 4", pos)
	}
	stExpect(t, c, "clrestart", 4, stChange("created", "after"))
}

// TestClusterDatabaseRestart: while PostgreSQL restarts, a node answers
// writes with unavailable (and /readyz with 503) rather than hang or
// fail otherwise; once it is back the nodes reconnect by themselves,
// every acknowledged write is there, and the subscribers of another node
// hear every committed event in order.
func TestClusterDatabaseRestart(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	_, nodes := clStart(t, pg, "pgrestart", 2)
	model := e2eA("cldb")
	sub := e2eDial(t, nodes[1].Addr, true)
	stSubscribe(t, sub, model)
	w := e2eDial(t, nodes[0].Addr, false)
	create := func(id string) e2eReply {
		t.Helper()
		return w.Call(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(id))})
	}
	var acked []string
	for k := range 5 {
		id := fmt.Sprintf("before%d", k)
		if r := create(id); !r.OK {
			t.Fatalf("create before the restart: %s", e2eFmt(r.Term))
		}
		acked = append(acked, id)
	}
	pg.Stop(t)
	r := create("during")
	if r.OK || !strings.Contains(e2eFmt(r.Term), "unavailable") {
		t.Fatalf("create while the database is down: %s, want {error, {unavailable, _}}", e2eFmt(r.Term))
	}
	h := e2eNewHTTP(t, nodes[0])
	if resp := h.do(context.Background(), "GET", nodes[0].URL()+"/readyz", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		resp.Body.Close()
		t.Fatalf("/readyz while the database is down: %d, want 503", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	pg.Restart(t)
	// The pool reconnects on the next use; until the first write goes
	// through, the node may still answer unavailable.
	deadline := time.Now().Add(30 * time.Second)
	for k := 0; len(acked) < 15; k++ {
		id := fmt.Sprintf("after%d", k)
		r := create(id)
		if r.OK {
			acked = append(acked, id)
			continue
		}
		if !strings.Contains(e2eFmt(r.Term), "unavailable") || time.Now().After(deadline) {
			t.Fatalf("create after the restart: %s", e2eFmt(r.Term))
		}
		time.Sleep(100 * time.Millisecond) // a client's retry pace, not a synchronisation
	}
	for k, id := range acked {
		stExpect(t, sub, "cldb", int64(k+1), stChange("created", id))
	}
	sub.Quiet()
}

package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/metrics/metricstest"
)

// TestE2EShutdownUnderLoad sends SIGTERM to `bertsync serve` while 1,000
// clients are connected and writing: 900 WebSockets that each keep one
// request in flight, and 100 polling sessions (50 long-poll, 50
// EventSource) that POST requests and have pushes buffered they have not
// polled yet. It requires that
//
//   - every WebSocket gets its replies in order, each request answered
//     but for at most the one it sent as the server closed, and then the
//     close frame 1001 (going away);
//   - every POST is answered with its reply (200) or refused as the
//     server shuts down (503), never cut;
//   - /readyz answers 503 and /healthz 200 while the server drains;
//   - every polling session, polled only after the shutdown began, gets
//     all the pushes that were buffered for it, in Seq order;
//   - no session was closed with requests unanswered (the server's debug
//     log says so for each), and the drain needed no forcing;
//   - the process exits 0 within --shutdown-timeout of the signal.
//
// Nothing here waits on a clock but the bounds that fail the test.
func TestE2EShutdownUnderLoad(t *testing.T) {
	const (
		nWS, nLP, nES   = 900, 50, 50
		feedEvents      = 5
		loadTypes       = 8
		shutdownTimeout = 30 * time.Second
		bound           = 60 * time.Second // any one phase
	)
	s := e2eStartServer(t, "",
		"--max-conns", "5000", "--max-conns-per-addr", "5000", "--max-poll-sessions", "5000",
		"--rate-limit", "1000000", "--shutdown-timeout", shutdownTimeout.String(),
		"--metrics-addr", "127.0.0.1:0", "--log-level", "debug")
	m := regexp.MustCompile(`msg="serving metrics" addr=(\S+)`).FindStringSubmatch(s.Log())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", s.Log())
	}
	metricsURL := "http://" + m[1] + "/metrics"

	// The clients.
	writers := make([]*sdWriter, nWS)
	var dials sync.WaitGroup
	dialErrs := make(chan error, nWS)
	sem := make(chan struct{}, 32)
	for i := range writers {
		dials.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ws, err := e2eDialWS(s.Addr, "/bullet", nil)
			if err != nil {
				dialErrs <- fmt.Errorf("writer %d: %w", i, err)
				return
			}
			writers[i] = &sdWriter{id: i, ws: ws, model: fmt.Sprintf("sd_load_%d", i%loadTypes)}
		})
	}
	dials.Wait()
	close(dialErrs)
	for err := range dialErrs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, w := range writers {
			w.ws.conn.Close()
		}
	})
	transport := &http.Transport{MaxIdleConnsPerHost: nLP + nES}
	t.Cleanup(transport.CloseIdleConnections)
	pollers := make([]*sdPoller, nLP+nES)
	for i := range pollers {
		p, err := newSDPoller(s.URL(), transport, i >= nLP)
		if err != nil {
			t.Fatal(err)
		}
		status, r, err := p.post(context.Background(), e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("sd_feed"), e2eL{}})
		if err != nil || status != http.StatusOK || !r.OK {
			t.Fatalf("poller %d: subscribe: %d %v %v", i, status, e2eFmt(r.Term), err)
		}
		pollers[i] = p
	}
	// The feed's pushes go to every poller's session, where they wait:
	// no poller polls before the shutdown. A push is sent before the
	// reply to its change, so they are all there once the replies are.
	feeder := e2eDial(t, s.Addr, false)
	for i := range feedEvents {
		feeder.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("sd_feed"), e2eProps("id", []byte(fmt.Sprint("f", i)))})
	}

	// The load: every client writes until the server stops it. The
	// signal goes once each has had its replies.
	var warm, done sync.WaitGroup
	warm.Add(len(writers) + len(pollers))
	for _, w := range writers {
		done.Go(func() { w.run(warm.Done) })
	}
	shutdownSeen := make(chan struct{})
	var seenOnce sync.Once
	seen := func() { seenOnce.Do(func() { close(shutdownSeen) }) }
	fetch := make(chan struct{})
	for _, p := range pollers {
		done.Go(func() {
			p.postLoop(warm.Done)
			seen()
			<-fetch
			p.fetchAll()
		})
	}
	if !sdWait(&warm, bound) {
		t.Fatalf("the clients did not all get replies within %v", bound)
	}
	f, err := metricstest.Scrape(context.Background(), http.DefaultClient, metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Get("bertsync_connections_open", "transport", "websocket"); got != nWS+1 {
		t.Errorf("bertsync_connections_open{transport=websocket} = %v under load, want %d", got, nWS+1)
	}
	if got := f.Get("bertsync_sessions_open"); got != nWS+1+nLP+nES {
		t.Errorf("bertsync_sessions_open = %v under load, want %d", got, nWS+1+nLP+nES)
	}
	if got := f.Get("bertsync_requests_total"); got < 2*nWS {
		t.Errorf("bertsync_requests_total = %v, want at least %d", got, 2*nWS)
	}

	signalled := time.Now()
	s.Signal(syscall.SIGTERM)

	// While it drains the server is alive but not ready: the pollers'
	// sessions hold the shutdown until they fetch what is theirs, which
	// they do only after this look.
	select {
	case <-shutdownSeen:
	case <-time.After(bound):
		t.Fatal("no poller saw the shutdown begin")
	}
	for path, want := range map[string]int{"/readyz": http.StatusServiceUnavailable, "/healthz": http.StatusOK} {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Errorf("GET %s while draining: %v", path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s while draining: %d, want %d", path, resp.StatusCode, want)
		}
	}
	close(fetch)
	if !sdWait(&done, bound) {
		t.Fatalf("the clients did not finish within %v of the signal", bound)
	}
	code, err := s.Wait(shutdownTimeout - time.Since(signalled))
	if err != nil || code != 0 {
		t.Fatalf("after SIGTERM: exit %d, %v (want 0 within --shutdown-timeout %v)", code, err, shutdownTimeout)
	}
	t.Logf("exited %v after the signal", time.Since(signalled).Round(time.Millisecond))

	var sent, answered, unavailable int
	for _, w := range writers {
		sent, answered, unavailable = sent+w.sent, answered+w.answered, unavailable+w.unavailable
		if w.err != nil {
			t.Errorf("writer %d: %v", w.id, w.err)
			continue
		}
		if w.closeCode != 1001 {
			t.Errorf("writer %d: closed with %d %q, want 1001", w.id, w.closeCode, w.closeReason)
		}
		if w.sent-w.answered > 1 {
			t.Errorf("writer %d: %d requests sent, %d answered", w.id, w.sent, w.answered)
		}
	}
	t.Logf("WebSockets: %d requests sent, %d answered (%d unavailable during the drain)", sent, answered, unavailable)
	var posts, refused int
	for i, p := range pollers {
		posts, refused = posts+p.answered, refused+p.refused
		if p.err != nil {
			t.Errorf("poller %d (EventSource %v): %v", i, p.eventSource, p.err)
			continue
		}
		if len(p.pushes) != feedEvents {
			t.Errorf("poller %d (EventSource %v): %d pushes after the shutdown, want the %d buffered (its last refusal: %q)", i, p.eventSource, len(p.pushes), feedEvents, p.lastBody)
		}
		for j, push := range p.pushes {
			id, _ := e2eGet(push.Props, "id")
			if push.Model != "sd_feed" || push.Event != "created" || e2eText(id) != fmt.Sprint("f", j) ||
				j > 0 && push.Seq != p.pushes[j-1].Seq+1 {
				t.Errorf("poller %d: push %d is %s", i, j, e2eFmt(push.Term))
			}
		}
	}
	t.Logf("polling sessions: %d POSTs answered, %d refused as the server shut down", posts, refused)

	log := s.Log()
	if !strings.Contains(log, "msg=stopped") {
		t.Error("the server did not log msg=stopped")
	}
	for _, forced := range []string{`msg="gateway shutdown"`, `msg="actors shutdown"`, `msg="http shutdown"`} {
		if strings.Contains(log, forced) {
			t.Errorf("the drain was forced: the log has %s", forced)
		}
	}
	closed := 0
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.Contains(line, `msg="actors: session closed"`) {
			continue
		}
		closed++
		if !strings.Contains(line, "unanswered=0") {
			t.Errorf("a session closed with requests unanswered: %s", line)
		}
	}
	if want := nWS + 1 + nLP + nES; closed < want {
		t.Errorf("%d sessions logged their close, want %d", closed, want)
	}
}

// sdReplyTimeout bounds the wait for one reply: creates queue behind the
// disk, which other work on the machine may share.
const sdReplyTimeout = 30 * time.Second

// sdWait waits for wg, at most bound.
func sdWait(wg *sync.WaitGroup, bound time.Duration) bool {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return true
	case <-time.After(bound):
		return false
	}
}

// sdWriter is a WebSocket client that keeps one request in flight, with
// its number as the Ref, until the server closes the connection.
type sdWriter struct {
	id    int
	ws    *e2eWS
	model string

	sent, answered, unavailable int
	closeCode                   int
	closeReason                 string
	err                         error
}

// request is the n-th request: a create of a document of the writer's
// own every fourth request, from the second, reads of the latest one in
// between. Creates wait for the disk (an fsync each, or a group's), which
// on a shared machine can be slow; the reads keep the connection busy.
func (w *sdWriter) request(n int) []byte {
	var t e2eT
	if n%4 == 1 {
		t = e2eT{e2eA("sync"), e2eA("create"), e2eA(w.model), e2eProps("id", []byte(fmt.Sprintf("w%d-%d", w.id, n)), "n", int64(n)), int64(n)}
	} else {
		last := n - (n+3)%4 // the latest create, or -1
		t = e2eT{e2eA("sync"), e2eA("read"), e2eA(w.model), e2eProps("id", []byte(fmt.Sprintf("w%d-%d", w.id, last))), int64(n)}
	}
	b, err := bert.Marshal(t)
	if err != nil {
		panic(err)
	}
	return b
}

func (w *sdWriter) run(warm func()) {
	warmed := false
	defer func() {
		if !warmed {
			warm()
		}
	}()
	for n := 0; ; n++ {
		if err := w.ws.WriteMessage(wsBinary, w.request(n)); err != nil {
			// The server closed first: its close frame may still be
			// there to read.
			w.readClose()
			return
		}
		w.sent++
		op, data, err := w.ws.ReadMessage(sdReplyTimeout)
		if ce, ok := errors.AsType[*e2eWSCloseError](err); ok {
			w.closeCode, w.closeReason = ce.Code, ce.Reason
			return
		}
		if err != nil {
			w.err = fmt.Errorf("request %d: %w", n, err)
			return
		}
		term, err := e2eDecodeFrame(op, data)
		if err != nil {
			w.err = err
			return
		}
		r, ok := e2eParseReply(term)
		if !ok || !r.HasRef || r.Ref != int64(n) {
			w.err = fmt.Errorf("request %d: got %s, want its reply", n, e2eFmt(term))
			return
		}
		switch {
		case r.OK, r.Code == "not_found" && n == 0:
			// (The first read comes before any create.)
		case r.Code == "unavailable":
			w.unavailable++
		default:
			w.err = fmt.Errorf("request %d: %s", n, e2eFmt(term))
			return
		}
		w.answered++
		if n == 1 {
			warmed = true
			warm()
		}
	}
}

// readClose reads what is left after a failed write, up to the close
// frame.
func (w *sdWriter) readClose() {
	_, data, err := w.ws.ReadMessage(e2eTimeout)
	if ce, ok := errors.AsType[*e2eWSCloseError](err); ok {
		w.closeCode, w.closeReason = ce.Code, ce.Reason
		return
	}
	if err != nil {
		w.err = fmt.Errorf("after a failed write: %w", err)
		return
	}
	w.err = fmt.Errorf("a message after a failed write: % x", data)
}

// sdPoller is one polling session: POSTs, then long-polls or an
// EventSource stream.
type sdPoller struct {
	base        string
	client      *http.Client
	eventSource bool

	answered, refused int
	lastBody          string
	pushes            []e2ePush
	err               error
}

func newSDPoller(base string, tr *http.Transport, eventSource bool) (*sdPoller, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &sdPoller{base: base, client: &http.Client{Jar: jar, Transport: tr, Timeout: 2 * e2eTimeout}, eventSource: eventSource}, nil
}

// post sends term as raw BERT and returns the status and, for 200, the
// reply.
func (p *sdPoller) post(ctx context.Context, term any) (int, e2eReply, error) {
	b, err := bert.Marshal(term)
	if err != nil {
		return 0, e2eReply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/bullet", bytes.NewReader(b))
	if err != nil {
		return 0, e2eReply{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, e2eReply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		p.lastBody = string(body)
		return resp.StatusCode, e2eReply{}, err
	}
	var m any
	if err := bert.Unmarshal(body, &m); err != nil {
		return resp.StatusCode, e2eReply{}, err
	}
	r, ok := e2eParseReply(m)
	if !ok {
		return resp.StatusCode, e2eReply{}, fmt.Errorf("POST answered %s, not a reply", e2eFmt(m))
	}
	return resp.StatusCode, r, nil
}

// postLoop POSTs reads until the server refuses one as it shuts down.
// Every POST before must get its reply.
func (p *sdPoller) postLoop(warm func()) {
	warmed := false
	defer func() {
		if !warmed {
			warm()
		}
	}()
	for n := 0; ; n++ {
		status, r, err := p.post(context.Background(), e2eT{e2eA("sync"), e2eA("read"), e2eA("sd_feed"), e2eProps("id", []byte("f0")), int64(n)})
		switch {
		case err != nil:
			p.err = fmt.Errorf("POST %d: %w", n, err)
			return
		case status == http.StatusServiceUnavailable:
			p.refused++
			return
		case status != http.StatusOK:
			p.err = fmt.Errorf("POST %d: status %d", n, status)
			return
		case !r.HasRef || r.Ref != int64(n) || !r.OK && r.Code != "unavailable":
			p.err = fmt.Errorf("POST %d: %s", n, e2eFmt(r.Term))
			return
		}
		p.answered++
		if !warmed {
			warmed = true
			warm()
		}
	}
}

// fetchAll takes what the session kept: long-polls until one is not
// answered 200, or one EventSource stream until it ends.
func (p *sdPoller) fetchAll() {
	if p.eventSource {
		p.err = p.stream()
		return
	}
	for {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/bullet?_=%d", p.base, len(p.pushes)), nil)
		if err != nil {
			p.err = err
			return
		}
		resp, err := p.client.Do(req)
		if err != nil {
			p.err = fmt.Errorf("poll after %d pushes: %w", len(p.pushes), err)
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			p.err = err
			return
		case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusServiceUnavailable:
			return // nothing more: the session is gone
		case resp.StatusCode != http.StatusOK:
			p.err = fmt.Errorf("poll: status %d %q", resp.StatusCode, body)
			return
		}
		if err := p.addPush(body); err != nil {
			p.err = err
			return
		}
	}
}

// stream reads one base64 EventSource stream to its end.
func (p *sdPoller) stream() error {
	req, err := http.NewRequest(http.MethodGet, p.base+"/bullet?bertsync=1", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("EventSource: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("EventSource: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil {
			return err
		}
		if err := p.addPush(raw); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("EventSource after %d pushes: %w", len(p.pushes), err)
	}
	return nil
}

func (p *sdPoller) addPush(data []byte) error {
	var m any
	if err := bert.Unmarshal(data, &m); err != nil {
		return err
	}
	push, ok := e2eParsePush(m)
	if !ok {
		return fmt.Errorf("polled %s, want a push", e2eFmt(m))
	}
	p.pushes = append(p.pushes, push)
	return nil
}

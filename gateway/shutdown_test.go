package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A polling session the shutdown ends keeps what its client has not
// polled yet: the client's next polls get it, in order, and then the
// shutdown completes without waiting out the grace. An EventSource stream
// open meanwhile gets everything and then ends.
func TestShutdownKeepsPollMessages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	poller := ts.httpClient(t)
	if got := poller.postTerm(`{sync, subscribe, note, []}`); !strings.HasPrefix(got, "{sync,ok,") {
		t.Fatalf("subscribe: %s", got)
	}
	streamer := ts.httpClient(t)
	streamer.postTerm(`{sync, subscribe, note, []}`)
	es, status := streamer.eventSource("?bertsync=1")
	if status != http.StatusOK {
		t.Fatalf("EventSource: %d", status)
	}
	ws := ts.dial(t)
	const n = 3
	for i := range n {
		sendBinary(t, ws, `{sync, create, note, [{n, `+string(rune('0'+i))+`}]}`)
		if _, got := readTerm(t, ws); !strings.HasPrefix(got, "{sync,ok,") {
			t.Fatalf("create: %s", got)
		}
	}
	// The pushes were sent to the sessions before the replies: the
	// drain, which comes after, finds them there.
	ts.sysDown = true
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	gwDone, sysDone := make(chan error, 1), make(chan error, 1)
	go func() { gwDone <- ts.gw.Shutdown(ctx) }()
	go func() { sysDone <- ts.sys.Shutdown(ctx) }()

	for i := range n {
		status, _, body := poller.poll()
		if status != http.StatusOK {
			t.Fatalf("poll %d during the shutdown: %d %q, want 200 with a push", i, status, body)
		}
		push := format(t, fromJSBinaryString(t, body))
		if want := "{n," + string(rune('0'+i)) + "}"; !strings.HasPrefix(push, "{sync,created,note,") || !strings.Contains(push, want) {
			t.Fatalf("poll %d: %s, want the created note with %s", i, push, want)
		}
		if i < n-1 {
			select {
			case err := <-gwDone:
				t.Fatalf("the gateway's shutdown ended (%v) before the client took its messages", err)
			default:
			}
		}
	}
	// Nothing is left: the session is gone.
	if status, _, body := poller.poll(); status != http.StatusServiceUnavailable && status != http.StatusNoContent {
		t.Errorf("poll after the last message: %d %q, want 503 or 204", status, body)
	}
	// The stream got all three and then ended.
	for i := range n {
		if _, err := es.next(); err != nil {
			t.Fatalf("stream event %d: %v", i, err)
		}
	}
	if _, err := es.next(); !errors.Is(err, io.EOF) {
		t.Errorf("the stream did not end with its session: %v", err)
	}
	if err := <-sysDone; err != nil {
		t.Errorf("actors shutdown: %v", err)
	}
	if err := <-gwDone; err != nil {
		t.Errorf("gateway shutdown: %v", err)
	}
	// A session that ended keeping messages is let go by Close too.
	ts.gw.Close()
}

package tests

import (
	"context"
	"net"
	"os/exec"
	"testing"
	"time"
)

// TestE2EErlangPeer runs tests/erlang_peer/peer.escript, an Erlang client
// with WebSocket by hand on gen_tcp and BERT by term_to_binary, against a
// server. It fails (never skips) when escript is not installed: CI installs
// Debian's erlang-base.
func TestE2EErlangPeer(t *testing.T) {
	t.Parallel()
	escript, err := exec.LookPath("escript")
	if err != nil {
		t.Fatalf("escript not found (install erlang-base, scripts/setup.sh does): %v", err)
	}
	s := e2eStartServer(t, "")
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, escript, "erlang_peer/peer.escript", host, port, "/bullet").CombinedOutput()
	t.Logf("peer output:\n%s", out)
	if err != nil {
		t.Fatalf("erlang peer: %v", err)
	}
}

package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
)

// push is the push {sync, created, character, [{id, …}, {round, r}], seq}
// as the server writes it.
func push(r int, seq int64) []byte {
	return marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("created"), bert.Atom("character"), bert.List{
		bert.Tuple{bert.Atom("id"), []byte("x")}, bert.Tuple{bert.Atom("round"), int64(r)},
	}, seq})
}

// TestPushSeq: the Seq read from a push's last bytes is its Seq, small
// and large, and what is no push is not read.
func TestPushSeq(t *testing.T) {
	for _, seq := range []int64{0, 1, 255, 256, 70000, 1<<31 - 1} {
		if got, ok := pushSeq(push(3, seq)); !ok || got != seq {
			t.Errorf("pushSeq(push with Seq %d) = %d, %v", seq, got, ok)
		}
		if got, err := pushSeqFull(push(3, seq)); err != nil || got != seq {
			t.Errorf("pushSeqFull(push with Seq %d) = %d, %v", seq, got, err)
		}
	}
	reply := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("ok"), bert.List{}})
	if _, ok := pushSeq(reply); ok {
		t.Error("pushSeq read a Seq from a reply")
	}
	if _, err := pushSeqFull(reply); err == nil {
		t.Error("pushSeqFull read a Seq from a reply")
	}
}

// TestSeqCheck: a subscriber's stream with a duplicate or a gap fails,
// and one in order passes.
func TestSeqCheck(t *testing.T) {
	c := seqCheck{next: 5}
	for seq := int64(5); seq < 300; seq++ {
		if err := c.accept(push(0, seq)); err != nil {
			t.Fatalf("Seq %d in order: %v", seq, err)
		}
	}
	if err := c.accept(push(0, 299)); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("a duplicate: %v", err)
	}
	if err := c.accept(push(0, 302)); err == nil || !strings.Contains(err.Error(), "2 pushes lost") {
		t.Errorf("a gap: %v", err)
	}
	if err := c.accept([]byte{131, 106}); err == nil {
		t.Error("no push passed")
	}
}

func TestSubscribeTop(t *testing.T) {
	reply := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("ok"), bert.List{
		bert.Tuple{bert.Atom("seq"), int64(42)}, bert.Tuple{bert.Atom("epoch"), []byte("e")},
	}})
	if top, err := subscribeTop(reply); err != nil || top != 42 {
		t.Errorf("subscribeTop = %d, %v; want 42", top, err)
	}
	if _, err := subscribeTop(marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("ok"), bert.List{}})); err == nil {
		t.Error("a reply without seq gave a Top")
	}
}

func TestParsePgbenchTPS(t *testing.T) {
	for out, want := range map[string]float64{
		"number of failed transactions: 0 (0.000%)\nlatency average = 2.1 ms\ninitial connection time = 9.8 ms\ntps = 1234.567890 (without initial connection time)\n": 1234.56789,
		"tps = 990.1 (including connections establishing)\ntps = 1001.5 (excluding connections establishing)\n":                                                        1001.5,
	} {
		if got, err := parsePgbenchTPS([]byte(out)); err != nil || got != want {
			t.Errorf("parsePgbenchTPS(%q) = %v, %v; want %v", out, got, err, want)
		}
	}
	if _, err := parsePgbenchTPS([]byte("pgbench: error: connection refused")); err == nil {
		t.Error("no tps parsed as one")
	}
}

// TestClusterValidate: the cluster phase's fields are checked.
func TestClusterValidate(t *testing.T) {
	ok := small(t)
	ok.Phases, ok.ClusterNodes, ok.Executable = []string{"cluster"}, 3, "/bin/true"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for want, change := range map[string]func(*Config){
		"--cluster-nodes": func(c *Config) { c.ClusterNodes = 1 },
		"Executable":      func(c *Config) { c.Executable = "" },
		"--pg-url":        func(c *Config) { c.PGURL = "mysql://x" },
	} {
		c := ok
		change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate() = %v", want, err)
		}
	}
}

// TestRunCluster runs the cluster phase's short mode end to end: the
// bertsync binary built from this tree as 3 nodes and a single one on a
// PostgreSQL server the phase starts, a few subscribers and clients. It
// fails on a lost or duplicated push, a create not stored once, or a
// node that does not start or stop cleanly.
func TestRunCluster(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "bertsync")
	build := exec.Command("go", "build", "-o", exe, "github.com/bertsync/bertsync/cmd/bertsync")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := Config{
		Serve: serveGateway, Clients: 6, Duration: time.Second, Repeat: 1, Subscribers: 30, Rounds: 5, Types: 3, Idle: 1,
		Phases: []string{"cluster"}, ClusterNodes: 3, Executable: exe,
		NodeArgs: []string{"--max-conns-per-addr", "1000000", "--rate-limit", "1000000000"},
	}
	var out, errb strings.Builder
	start := time.Now()
	if err := Run(t.Context(), cfg, &out, &errb); err != nil {
		t.Fatalf("Run: %v\nstderr: %s\n%s", err, errb.String(), out.String())
	}
	t.Logf("cluster phase in %v:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	for _, want := range []string{
		"Many nodes: 3 nodes", "Cross-node pushes: a writer on node 1", "1 node, writer and every subscriber on it",
		"3 nodes, every subscriber", "3 nodes, subscribers on nodes 2-3", "every subscriber got every push once",
		"Durable creates through the nodes", "pgbench INSERT, 6 clients (tps)", "3 nodes, 6 clients, one type",
		"3 nodes, 6 clients over 3 types", "1 node, 6 clients over 3 types", "the databases hold every acknowledged create once",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Nothing is left behind: the nodes' data directories are removed.
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "bertsync-bench-node-*"))
	for _, d := range left {
		if fi, err := os.Stat(d); err == nil && fi.ModTime().After(start) {
			t.Errorf("left behind: %s", d)
		}
	}
}

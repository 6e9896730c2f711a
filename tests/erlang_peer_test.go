package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// erlPeerTimeout bounds one Erlang peer's whole life: a wedged VM is
// killed instead of hanging the test run.
const erlPeerTimeout = 5 * time.Minute

// erlPeer is one Erlang VM running tests/erlang/peer.escript, driven over
// its stdin and stdout with length-prefixed packets (see the escript for
// the commands). One VM serves many terms: starting it costs far more
// than a request.
type erlPeer struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *erlLog
	cancel context.CancelFunc
}

// erlLog collects the VM's stderr for failure messages.
type erlLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *erlLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *erlLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var _ io.Writer = (*erlLog)(nil)

// startErlPeer starts the peer VM, failing the test when Erlang is not
// installed: CI installs Debian's erlang-base, a missing erl is a broken
// setup, not a reason to skip.
func startErlPeer(t testing.TB) *erlPeer {
	t.Helper()
	escript, err := exec.LookPath("escript")
	if err != nil {
		t.Fatalf("escript not found; the Erlang interop tests need Erlang/OTP (apt-get install erlang-base, scripts/setup.sh does): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), erlPeerTimeout)
	cmd := exec.CommandContext(ctx, escript, filepath.Join("erlang", "peer.escript"))
	cmd.WaitDelay = 5 * time.Second
	p := &erlPeer{t: t, cmd: cmd, stderr: &erlLog{}, cancel: cancel}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		cancel()
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p.stdout = bufio.NewReaderSize(out, 1<<16)
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", escript, err)
	}
	t.Cleanup(p.close)
	return p
}

func (p *erlPeer) close() {
	_ = p.send("quit")
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Errorf("erlang peer exited: %v\n%s", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		p.t.Errorf("erlang peer did not exit after quit")
	}
	p.cancel()
}

// send writes one request packet.
func (p *erlPeer) send(fields ...any) error {
	var body []byte
	for _, f := range fields {
		var b []byte
		switch v := f.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		case int:
			b = []byte(fmt.Sprint(v))
		default:
			panic(fmt.Sprintf("erlPeer.send: field of type %T", f))
		}
		body = binary.BigEndian.AppendUint32(body, uint32(len(b)))
		body = append(body, b...)
	}
	packet := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	_, err := p.stdin.Write(append(packet, body...))
	return err
}

// recv reads one reply packet and splits it into fields.
func (p *erlPeer) recv() ([][]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(p.stdout, hdr[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(p.stdout, body); err != nil {
		return nil, err
	}
	var fields [][]byte
	for len(body) > 0 {
		if len(body) < 4 {
			return nil, fmt.Errorf("erlang peer: truncated field header")
		}
		n := binary.BigEndian.Uint32(body)
		if uint64(n) > uint64(len(body)-4) {
			return nil, fmt.Errorf("erlang peer: field of %d bytes in %d", n, len(body)-4)
		}
		fields = append(fields, body[4:4+n])
		body = body[4+n:]
	}
	return fields, nil
}

// mustRecv reads a reply or fails the test with what the VM said.
func (p *erlPeer) mustRecv() [][]byte {
	p.t.Helper()
	f, err := p.recv()
	if err != nil {
		p.t.Fatalf("erlang peer: %v\nstderr:\n%s", err, p.stderr)
	}
	return f
}

// call sends a request and returns its one reply.
func (p *erlPeer) call(fields ...any) [][]byte {
	p.t.Helper()
	if err := p.send(fields...); err != nil {
		p.t.Fatalf("erlang peer: %v\nstderr:\n%s", err, p.stderr)
	}
	return p.mustRecv()
}

// check asks the VM whether data (bytes or text, by kind) stands for the
// term it holds under id; it returns "" or Erlang's account of the
// difference.
func (p *erlPeer) check(id []byte, kind string, data []byte) string {
	p.t.Helper()
	r := p.call("check", id, kind, data)
	if string(r[0]) == "ok" {
		return ""
	}
	if len(r) > 1 {
		return string(r[1])
	}
	return "check failed"
}

// erlForms names the encodings the peer sends of every term, in order.
var erlForms = []string{"default", "minor_version 0", "minor_version 1", "minor_version 2", "compressed"}

// erlTerm is one term the peer generated or parsed: its id on the peer,
// Erlang's ~w, ~p and ~tp text and its term_to_binary encodings.
type erlTerm struct {
	id    []byte
	texts [3]string
	forms [5][]byte
}

// gen asks the peer for n random terms of a flavor (full or bertjs).
func (p *erlPeer) gen(seed, n int, flavor string) []erlTerm {
	p.t.Helper()
	if err := p.send("gen", seed, n, flavor); err != nil {
		p.t.Fatalf("erlang peer: %v", err)
	}
	terms := make([]erlTerm, n)
	for i := range terms {
		f := p.mustRecv()
		if len(f) != 10 || string(f[0]) != "term" {
			p.t.Fatalf("erlang peer: unexpected reply %q", f)
		}
		terms[i].id = f[1]
		for j := range 3 {
			terms[i].texts[j] = string(f[2+j])
		}
		copy(terms[i].forms[:], f[5:])
	}
	return terms
}

// encode asks the peer to parse text and returns the term it stored.
func (p *erlPeer) encode(text string) erlTerm {
	p.t.Helper()
	r := p.call("encode", text)
	if string(r[0]) != "ok" || len(r) != 7 {
		p.t.Fatalf("erlang could not parse %s: %q", text, r)
	}
	var et erlTerm
	et.id = r[1]
	copy(et.forms[:], r[2:])
	return et
}

// erlShort abbreviates a long text for a failure message.
func erlShort(s string) string {
	const max = 400
	if len(s) > max {
		return s[:max] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return strings.TrimSpace(s)
}

package main

import (
	"context"
	"strings"
	"testing"
)

// TestBenchSmoke runs every phase of the bench at a tiny size against the
// in-process server: the figures are not checked (they depend on the
// machine), only that each phase completes and reports.
func TestBenchSmoke(t *testing.T) {
	var out, errb syncBuffer
	code := runBench(context.Background(), []string{
		"--idle", "20", "--clients", "2", "--requests", "40", "--repeat", "1",
		"--subscribers", "20", "--rounds", "3", "--data", t.TempDir(),
	}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{
		"Idle connections: 20", "bertsync (WebSocket session, idle)", "gorilla echo (one goroutine",
		"Round trips: 2 clients", "bertsync {sync, read", "bertsync {sync, create",
		"Fan-out: one update pushed to 20 subscribers, 3 rounds", "gorilla broadcast hub",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--clients", "0"},
		{"--subscribers", "-1"},
		{"--idle", "1000000"},
		{"--ops", "delete"},
		{"--phases", "everything"},
		{"--url", "http://x/bullet"},
		{"--duration", "0s"},
		{"extra"},
	} {
		var out, errb syncBuffer
		if code := runBench(context.Background(), args, strings.NewReader(""), &out, &errb); code != 2 || errb.String() == "" {
			t.Errorf("bench %v: exit %d, stderr %q; want 2 with a message", args, code, errb.String())
		}
	}
}

func TestBenchRoundProp(t *testing.T) {
	for _, r := range []int{0, 7, 13, 255, 256, 9999} {
		msg := benchMarshal(benchRoundTerm(r))
		got, ok := benchRoundProp(msg)
		if !ok || got != r {
			t.Errorf("round %d: got %d, %v", r, got, ok)
		}
		if err := benchRoundCheck(msg); err != nil {
			t.Errorf("round %d: %v", r, err)
		}
	}
}

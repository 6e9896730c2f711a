package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBenchInProcess runs one small phase through the command: the flags
// reach the bench and runServe serves it in this process. The phases
// themselves are tested in internal/bench.
func TestBenchInProcess(t *testing.T) {
	var out, errb syncBuffer
	code := runBench(context.Background(), []string{
		"--phases", "rt", "--ops", "read", "--clients", "2", "--requests", "20", "--repeat", "1", "--data", t.TempDir(),
	}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{"in-process server (bertsync serve --data ", "Round trips: 2 clients", "20 requests per run", "bertsync {sync, read"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchFlagDefaults(t *testing.T) {
	var errb syncBuffer
	cfg, err := parseBenchFlags(nil, &errb)
	if err != nil {
		t.Fatalf("no flags: %v (%s)", err, errb.String())
	}
	if cfg.URL != "" || cfg.Serve == nil || cfg.Clients != 50 || cfg.Duration != 3*time.Second || cfg.Repeat != 3 ||
		cfg.Requests != 0 || cfg.Subscribers != 1000 || cfg.Rounds != 20 || cfg.Idle != 1000 ||
		!slices.Equal(cfg.Ops, []string{"read", "create"}) || !slices.Equal(cfg.Phases, []string{"idle", "rt", "fanout"}) {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = parseBenchFlags([]string{"--url", "ws://127.0.0.1:9/bullet", "--pid", "42", "--ops", " create ,", "--phases", "fanout,idle",
		"--memprofile", "m", "--cpuprofile", "c", "--duration", "2s"}, &errb)
	if err != nil {
		t.Fatalf("flags: %v (%s)", err, errb.String())
	}
	if cfg.URL != "ws://127.0.0.1:9/bullet" || cfg.PID != 42 || !slices.Equal(cfg.Ops, []string{"create"}) ||
		!slices.Equal(cfg.Phases, []string{"fanout", "idle"}) || cfg.MemProfile != "m" || cfg.CPUProfile != "c" || cfg.Duration != 2*time.Second {
		t.Errorf("flags: %+v", cfg)
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
		{"--no-such-flag"},
		{"extra"},
	} {
		var out, errb syncBuffer
		if code := runBench(context.Background(), args, strings.NewReader(""), &out, &errb); code != 2 || errb.String() == "" {
			t.Errorf("bench %v: exit %d, stderr %q; want 2 with a message", args, code, errb.String())
		}
	}
	var out, errb syncBuffer
	if code := runBench(context.Background(), []string{"-h"}, strings.NewReader(""), &out, &errb); code != 0 ||
		!strings.Contains(errb.String(), "usage: bertsync bench") || !strings.Contains(errb.String(), "-subscribers") {
		t.Errorf("bench -h: exit %d, stderr %q; want 0 and the usage", code, errb.String())
	}
}

// TestBenchCommitFlags: the commit phase's flags reach the config, and
// --compare-url without the phase it is for is refused.
func TestBenchCommitFlags(t *testing.T) {
	var errb syncBuffer
	cfg, err := parseBenchFlags([]string{"--phases", "commit", "--types", "4", "--compare-url", "ws://127.0.0.1:9/bullet"}, &errb)
	if err != nil {
		t.Fatalf("flags: %v (%s)", err, errb.String())
	}
	if cfg.Types != 4 || cfg.CompareURL != "ws://127.0.0.1:9/bullet" || !slices.Equal(cfg.Phases, []string{"commit"}) {
		t.Errorf("flags: %+v", cfg)
	}
	if cfg, err = parseBenchFlags(nil, &errb); err != nil || cfg.Types != 10 || cfg.CompareURL != "" {
		t.Errorf("defaults: types %d, compare %q, %v", cfg.Types, cfg.CompareURL, err)
	}
	for _, args := range [][]string{
		{"--compare-url", "ws://127.0.0.1:9/bullet"},
		{"--phases", "commit", "--types", "0"},
		{"--phases", "commit", "--compare-url", "http://127.0.0.1:9/bullet"},
	} {
		var out, errb syncBuffer
		if code := runBench(context.Background(), args, strings.NewReader(""), &out, &errb); code != 2 || errb.String() == "" {
			t.Errorf("bench %v: exit %d, stderr %q; want 2 with a message", args, code, errb.String())
		}
	}
}

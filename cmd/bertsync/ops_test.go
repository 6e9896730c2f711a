package main

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/gateway"
)

func TestServeOperationFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"BERTSYNC_METRICS_ADDR":     "127.0.0.1:9100",
		"BERTSYNC_SHUTDOWN_TIMEOUT": "40s",
		"BERTSYNC_TLS_CERT":         "/etc/bertsync/cert.pem",
		"BERTSYNC_TLS_KEY":          "/etc/bertsync/key.pem",
	}
	getenv := func(k string) string { return env[k] }
	f, err := parseServeFlags([]string{"--addr", "127.0.0.1:0"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.metricsAddr != "127.0.0.1:9100" || f.shutdownTimeout != 40*time.Second ||
		f.tlsCert != "/etc/bertsync/cert.pem" || f.tlsKey != "/etc/bertsync/key.pem" {
		t.Fatalf("flags from the environment: %+v", f)
	}
	f, err = parseServeFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--shutdown-timeout", "2m", "--tls-cert", "", "--tls-key", ""}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.metricsAddr != "" || f.shutdownTimeout != 2*time.Minute || f.tlsCert != "" {
		t.Fatalf("flags win over the environment: %+v", f)
	}
	// The defaults: no metrics, no TLS, the gateway's shutdown timeout.
	f, err = parseServeFlags([]string{"--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.metricsAddr != "" || f.tlsCert != "" || f.shutdownTimeout != gateway.DefaultShutdownTimeout {
		t.Fatalf("defaults: %+v", f)
	}
	for _, args := range [][]string{
		{"--tls-cert", "c.pem"},
		{"--tls-key", "k.pem"},
		{"--metrics-addr", "9100"},
		{"--shutdown-timeout", "0s"},
		{"--shutdown-timeout", "soon"},
	} {
		args = append([]string{"--addr", "127.0.0.1:0"}, args...)
		if _, err := parseServeFlags(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"version"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// A test binary has no module version: "(devel)", and the toolchain.
	if !regexp.MustCompile(`^bertsync \S+( \(.*\))? go\S+\n$`).MatchString(stdout.String()) {
		t.Fatalf("version printed %q", stdout.String())
	}
	if code := run(t.Context(), []string{"version", "extra"}, nil, io.Discard, io.Discard); code != 2 {
		t.Fatalf("version with an argument: exit %d, want 2", code)
	}
	var usage bytes.Buffer
	run(t.Context(), nil, nil, io.Discard, &usage)
	if !strings.Contains(usage.String(), "version") {
		t.Errorf("usage does not list version:\n%s", usage.String())
	}
}

// TestStoreFlags: --store and --cluster-addr go together (DESIGN §7),
// from flags or the environment, and a PostgreSQL store needs a history.
func TestStoreFlags(t *testing.T) {
	t.Parallel()
	const url = "postgres://bertsync@db:5432/app"
	env := map[string]string{"BERTSYNC_STORE": url, "BERTSYNC_CLUSTER_ADDR": "10.0.0.1:7070"}
	f, err := parseServeFlags([]string{"--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.store != url || f.clusterAddr != "10.0.0.1:7070" {
		t.Fatalf("from the environment: store %q, cluster %q", f.store, f.clusterAddr)
	}
	if f, err = parseServeFlags([]string{"--addr", "127.0.0.1:0", "--store", "postgresql://h/db", "--cluster-addr", ":7070"}, func(string) string { return "" }, io.Discard); err != nil || f.store != "postgresql://h/db" {
		t.Fatalf("postgresql:// URL: %+v, %v", f, err)
	}
	for _, args := range [][]string{
		{"--store", url},
		{"--cluster-addr", "127.0.0.1:7070"},
		{"--store", "mysql://h/db", "--cluster-addr", "127.0.0.1:7070"},
		{"--store", url, "--cluster-addr", "7070"},
		{"--store", url, "--cluster-addr", "127.0.0.1:7070", "--history-size", "0"},
	} {
		args = append([]string{"--addr", "127.0.0.1:0"}, args...)
		if _, err := parseServeFlags(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

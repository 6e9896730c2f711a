package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
)

// e2eTLSCert writes a new self-signed certificate for 127.0.0.1 and
// localhost and its key to dir, and returns the two files and a pool that
// trusts the certificate.
func e2eTLSCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "bertsync e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestE2ETLS runs `bertsync serve --tls-cert --tls-key` with a certificate
// of its own: a POST and an EventSource stream over HTTP/2, a WebSocket
// over WSS, a change on the one pushed to the other, and the health
// check, all over TLS.
func TestE2ETLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := e2eTLSCert(t, t.TempDir())
	s := e2eStartServer(t, "", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.Contains(s.Log(), "tls=true") {
		t.Errorf("the listening line does not say tls=true:\n%s", s.Log())
	}
	base := "https://" + s.Addr
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Jar: jar, Transport: tr, Timeout: 2 * e2eTimeout}

	post := func(term any) (e2eReply, *http.Response) {
		t.Helper()
		b, err := bert.Marshal(term)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Post(base+"/bullet", "application/octet-stream", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST over TLS: %d %q %v", resp.StatusCode, body, err)
		}
		var m any
		if err := bert.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		r, ok := e2eParseReply(m)
		if !ok {
			t.Fatalf("POST: %s", e2eFmt(m))
		}
		return r, resp
	}
	if r, resp := post(e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("tls_note"), e2eL{}}); !r.OK || resp.ProtoMajor != 2 {
		t.Fatalf("subscribe over %s: %s", resp.Proto, e2eFmt(r.Term))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/bullet?bertsync=1", nil)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK || stream.ProtoMajor != 2 || stream.TLS == nil {
		t.Fatalf("EventSource: %d over %s (TLS %v), want 200 over HTTP/2 and TLS", stream.StatusCode, stream.Proto, stream.TLS != nil)
	}
	events := make(chan []byte, 4)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data)); err == nil {
					events <- raw
				}
			}
		}
	}()

	conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("WSS: %v", err)
	}
	ws, err := e2eHandshakeWS(conn, s.Addr, "/bullet", http.Header{"Origin": {base}})
	if err != nil {
		conn.Close()
		t.Fatalf("WSS handshake: %v", err)
	}
	defer ws.Close()
	c := &e2eConn{t: t, ws: ws}
	c.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("tls_note"), e2eProps("id", []byte("n1"), "text", []byte("over tls"))})
	select {
	case raw, ok := <-events:
		if !ok {
			t.Fatal("the EventSource stream ended")
		}
		var m any
		if err := bert.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		p, ok := e2eParsePush(m)
		if !ok || p.Event != "created" || p.Model != "tls_note" {
			t.Fatalf("pushed %s", e2eFmt(m))
		}
	case <-time.After(e2eTimeout):
		t.Fatal("no push on the HTTP/2 stream")
	}
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("healthz: %d over %s", resp.StatusCode, resp.Proto)
	}
	// Plain HTTP on the TLS port is refused, not served.
	if resp, err := http.Get("http://" + s.Addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
	cancel()
	s.Stop()
}

// startTLSServer starts, for the browser tests, `bertsync serve` with a
// certificate it makes; the pages ignore that no authority signed it.
func startTLSServer(t *testing.T) (*browserServer, error) {
	certFile, keyFile, _ := e2eTLSCert(t, t.TempDir())
	srv := &browserServer{
		bin:  e2eBinary,
		data: t.TempDir(),
		addr: "127.0.0.1:0",
		args: []string{"--tls-cert", certFile, "--tls-key", keyFile},
		log:  &browserLog{t: t, prefix: "tls server: "},
	}
	if err := srv.start(); err != nil {
		return nil, fmt.Errorf("the TLS server: %w", err)
	}
	return srv, nil
}

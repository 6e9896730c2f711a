package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// writeTestCert writes a new self-signed certificate for 127.0.0.1 and
// localhost, and its key, as PEM files in dir, and returns their names and
// the certificate.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "bertsync test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.name, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, cert
}

// ListenAndServe with a certificate: HTTPS with HTTP/2 for an EventSource
// stream and its POSTs, WSS for a WebSocket (HTTP/1.1), and a push from
// the one to the other.
func TestListenAndServeTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, cert := writeTestCert(t, t.TempDir())
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	addr, stop, done := startListenAndServe(t, ServeConfig{
		Listener:    newTestListener(t, false),
		DataDir:     t.TempDir(),
		Logger:      slog.New(slog.DiscardHandler),
		TLSCertFile: certFile,
		TLSKeyFile:  keyFile,
	})
	base := "https://" + addr
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	hc := &client{t: t, hc: &http.Client{Jar: &cookieJar{}, Timeout: waitLimit, Transport: tr}, url: base + DefaultPath}

	if got := hc.postTerm(`{sync, subscribe, note, []}`); !strings.HasPrefix(got, "{sync,ok,") {
		t.Fatalf("subscribe over HTTPS: %s", got)
	}
	es, status := hc.eventSource("?bertsync=1")
	if status != http.StatusOK {
		t.Fatalf("EventSource over HTTPS: %d", status)
	}
	if es.resp.ProtoMajor != 2 || es.resp.TLS == nil {
		t.Fatalf("EventSource over %s (TLS %v), want HTTP/2 over TLS", es.resp.Proto, es.resp.TLS != nil)
	}
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitLimit}
	ws, _, err := dialer.Dial("wss://"+addr+DefaultPath, nil)
	if err != nil {
		t.Fatalf("WSS: %v", err)
	}
	defer ws.Close()
	if _, ok := ws.NetConn().(*tls.Conn); !ok {
		t.Fatalf("the WebSocket is over a %T, not TLS", ws.NetConn())
	}
	sendBinary(t, ws, `{sync, create, note, [{text, <<"over tls">>}]}`)
	if _, got := readTerm(t, ws); !strings.HasPrefix(got, "{sync,ok,") {
		t.Fatalf("create over WSS: %s", got)
	}
	data, err := es.next()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	if push := format(t, raw); !strings.HasPrefix(push, "{sync,created,note,") || !strings.Contains(push, "over tls") {
		t.Fatalf("push %s", push)
	}
	// The health checks are on the same listener.
	healthz, err := hc.hc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	healthz.Body.Close()
	if healthz.StatusCode != http.StatusOK || healthz.ProtoMajor != 2 {
		t.Errorf("healthz over TLS: %d %s", healthz.StatusCode, healthz.Proto)
	}
	stop()
	if err := waitServe(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, _ := writeTestCert(t, dir)
	otherCert, _, _ := writeTestCert(t, t.TempDir())
	for _, c := range []struct {
		name      string
		cert, key string
	}{
		{"cert without key", certFile, ""},
		{"key without cert", "", keyFile},
		{"missing file", filepath.Join(dir, "nope.pem"), keyFile},
		{"key of another certificate", otherCert, keyFile},
	} {
		ln := newTestListener(t, false)
		err := ListenAndServe(context.Background(), ServeConfig{
			Listener: ln, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			TLSCertFile: c.cert, TLSKeyFile: c.key,
			OnListen: func(net.Addr) { t.Errorf("%s: listening", c.name) },
		})
		if err == nil {
			t.Errorf("%s: no error", c.name)
		}
		if !ln.isClosed() {
			t.Errorf("%s: the listener was not closed", c.name)
		}
	}
}

// A renewed certificate is served once the files change, without a
// restart; one that cannot be loaded leaves the old one in place.
func TestCertReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, first := writeTestCert(t, dir)
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	r.now = func() time.Time { return clock }
	serial := func() *big.Int {
		t.Helper()
		c, err := r.getCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber
	}
	if got := serial(); got.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("serial %v, want %v", got, first.SerialNumber)
	}
	// Renewed in place; the mtime moves on, as a renewal's does.
	_, _, second := writeTestCert(t, dir)
	later := time.Now().Add(time.Hour)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := serial(); got.Cmp(first.SerialNumber) != 0 {
		t.Fatal("the files were looked at again before the interval")
	}
	clock = clock.Add(certCheckInterval)
	if got := serial(); got.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("after the interval: serial %v, want the renewed %v", got, second.SerialNumber)
	}
	// A renewal caught half written keeps the current pair.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	evenLater := later.Add(time.Hour)
	os.Chtimes(certFile, evenLater, evenLater)
	clock = clock.Add(certCheckInterval)
	if got := serial(); got.Cmp(second.SerialNumber) != 0 {
		t.Fatalf("a broken renewal replaced the certificate: serial %v", got)
	}
}

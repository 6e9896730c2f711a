package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLS for [ListenAndServe]: the certificate and key files are read at
// start, where a bad pair fails the start, and read again when either
// file's modification time changes, checked at most every
// certCheckInterval, so that a renewed certificate (certbot,
// cert-manager) is served without a restart. A renewal caught half
// written fails to load: the old pair is kept, and the next check tries
// again.

// certCheckInterval is how often a handshake may look at the files.
const certCheckInterval = time.Minute

// certReloader serves the key pair of two PEM files.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
	checked         time.Time
	now             func() time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.checked = c.now()
	return c, nil
}

// load reads the pair; c.mu is held, or c is not shared yet.
func (c *certReloader) load() error {
	certMod, err1 := modTime(c.certFile)
	keyMod, err2 := modTime(c.keyFile)
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	for _, e := range []error{err1, err2, err} {
		if e != nil {
			return fmt.Errorf("gateway: TLS certificate %s and key %s: %w", c.certFile, c.keyFile, e)
		}
	}
	c.cert, c.certMod, c.keyMod = &cert, certMod, keyMod
	return nil
}

func modTime(name string) (time.Time, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// getCertificate is the [tls.Config] GetCertificate hook.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.checked) >= certCheckInterval {
		c.checked = now
		certMod, err1 := modTime(c.certFile)
		keyMod, err2 := modTime(c.keyFile)
		if err1 == nil && err2 == nil && (!certMod.Equal(c.certMod) || !keyMod.Equal(c.keyMod)) {
			if err := c.load(); err != nil {
				c.log.Warn("gateway: TLS certificate changed but cannot be loaded; serving the previous one", "err", err)
			} else {
				c.log.Info("gateway: TLS certificate reloaded", "cert", c.certFile)
			}
		}
	}
	return c.cert, nil
}

// tlsConfig is the server's TLS configuration: TLS 1.2 at least, the
// certificate from c. HTTP/2 is offered by [http.Server.ServeTLS].
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}

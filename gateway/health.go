package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// The health checks, on the clients' listener so that they answer for the
// very socket clients use:
//
//	GET /healthz   200 while the process serves HTTP at all (liveness)
//	GET /readyz    200 when the server takes new clients: not shutting
//	               down, and [Config.ReadyCheck] (the store) passes;
//	               else 503 with the reason
//
// They are exempt from [Config.AllowedHosts]: probes (a kubelet, a load
// balancer) address the server by its IP, and what they answer tells a
// page of a rebound name nothing. They are not logged, and they read
// nothing of the request but its method.

const (
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
	// readyCheckTimeout bounds one [Config.ReadyCheck]: a store that
	// does not answer within it is not ready.
	readyCheckTimeout = 2 * time.Second
)

// serveHealth answers the health checks; it reports false for any other
// path.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != healthzPath && r.URL.Path != readyzPath {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "the health checks take GET or HEAD")
		return true
	}
	if r.URL.Path == healthzPath {
		httpError(w, http.StatusOK, "ok")
		return true
	}
	if err := s.ready(r.Context()); err != nil {
		httpError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return true
	}
	httpError(w, http.StatusOK, "ready")
	return true
}

// ready reports why the server should not get new clients, nil when it
// should.
func (s *Server) ready(ctx context.Context) error {
	if s.isShutting() {
		return errShuttingDown
	}
	if s.cfg.ReadyCheck == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
	defer cancel()
	if err := s.cfg.ReadyCheck(ctx); err != nil {
		s.log.Warn("gateway: readiness check failed", "err", err)
		return errNotReady
	}
	return nil
}

// errNotReady is the reason /readyz gives for a failed ReadyCheck; the
// details, which may name files, go to the log only.
var errNotReady = errors.New("the readiness check (the store) failed; the server log has the details")

func (s *Server) isShutting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutting
}

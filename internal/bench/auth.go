package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// The auth phase measures what authentication costs a round trip: the
// read load of the round-trip phase on connections opened with a JWT,
// against the same load on anonymous connections of the same server, in
// the same run. The server is one of its own, started with
// --jwt-secret-file and a rules file that leaves reads public, so that
// both kinds of connection send the same request through the same rule
// and the only difference is the caller each session carries. The token
// is verified once per connection, at the handshake, which the runs do
// before their clock starts: what is measured is the per-request cost of
// an authenticated session.

// authRules is the rules file of the auth phase's server: what the phase
// does is public; authCheckModel needs a caller, which is how the phase
// checks that the server does authenticate.
const authRules = `{
  "*": {"create": "public", "read": "public", "update": "public"},
  "bench_private": {"read": "authenticated"}
}
`

// authCheckModel is the type of authRules that only a caller with a
// valid token may read.
const authCheckModel = bert.Atom("bench_private")

// authSubject is the sub of the phase's token.
const authSubject = "bench"

// authTokenLifetime is how long the phase's token is valid: longer than
// any run Validate allows, so that no session expires during the phase.
const authTokenLifetime = 48 * time.Hour

// authPhase is the auth phase.
func authPhase(ctx context.Context, cfg Config, out io.Writer) error {
	dir, err := os.MkdirTemp("", "bertsync-bench-auth-")
	if err != nil {
		return fmt.Errorf("auth phase: %w", err)
	}
	defer os.RemoveAll(dir)
	secret, hdr, err := authFiles(dir)
	if err != nil {
		return fmt.Errorf("auth phase: %w", err)
	}
	srv, err := startInProcess(ctx, cfg.Serve, filepath.Join(dir, "data"), secret)
	if err != nil {
		return fmt.Errorf("auth phase: in-process server with --jwt-secret-file: %w", err)
	}
	defer srv.stop()
	target := "ws://" + srv.addr + "/bullet"
	if err := checkAuthenticates(ctx, target, hdr); err != nil {
		return fmt.Errorf("auth phase: %w", err)
	}
	if err := ensure(ctx, target, readModel, readDoc); err != nil {
		return fmt.Errorf("auth phase: storing the document the reads read: %w", err)
	}

	clock, cpuErr := cpuClock(cfg)
	run := func(label string, h http.Header) (rtResult, error) {
		r, err := roundTrips(ctx, cfg, target, h, readRequest, checkOK, isOK, clock)
		if err != nil {
			return r, fmt.Errorf("auth phase: round trips, %s: %w", label, err)
		}
		return r, nil
	}
	how := fmt.Sprintf("%v per run", cfg.Duration)
	if cfg.Requests > 0 {
		how = fmt.Sprintf("%d requests per run", max(1, cfg.Requests/cfg.Clients)*cfg.Clients)
	}
	fmt.Fprintf(out, "Auth: read round trips on anonymous and JWT connections of a server of its own (--jwt-secret-file, reads public), %d clients, %s, %d repetitions\n",
		cfg.Clients, how, cfg.Repeat)
	// Anonymous, JWT, anonymous, … cfg.Repeat times and an anonymous run
	// to close: each JWT run is compared with the mean of the anonymous
	// runs on either side of it, as the round-trip phase does with echo.
	var anon, anonCPU, withJWT, withJWTCPU, ratios, cpuRatios []float64
	for rep := 0; rep <= cfg.Repeat; rep++ {
		r, err := run("anonymous", nil)
		if err != nil {
			return err
		}
		anon, anonCPU = append(anon, r.rate()), append(anonCPU, r.cpuRate())
		if rep > 0 {
			ratios = append(ratios, withJWT[rep-1]/((anon[rep-1]+anon[rep])/2))
			cpuRatios = append(cpuRatios, withJWTCPU[rep-1]/((anonCPU[rep-1]+anonCPU[rep])/2))
		}
		if rep == cfg.Repeat {
			break
		}
		if r, err = run("JWT", hdr); err != nil {
			return err
		}
		withJWT, withJWTCPU = append(withJWT, r.rate()), append(withJWTCPU, r.cpuRate())
	}

	cpuCols := func(rate, ratio float64) string {
		if clock == nil || rate <= 0 {
			return fmt.Sprintf("%14s %8s", "-", "-")
		}
		return fmt.Sprintf("%14.0f %7.2fx", rate, ratio)
	}
	fmt.Fprintf(out, "  %-44s %10s %8s %12s %14s %8s\n", "connections", "trips/s", "vs anon", "(min-max)", "trips/CPU-s", "vs anon")
	fmt.Fprintf(out, "  %-44s %10.0f %7.2fx %12s %s\n", "anonymous {sync, read, bench_item, [{id, _}]}",
		median(anon), 1.0, fmt.Sprintf("(%.0fk-%.0fk)", slices.Min(anon)/1000, slices.Max(anon)/1000), cpuCols(median(anonCPU), 1))
	fmt.Fprintf(out, "  %-44s %10.0f %7.2fx %12s %s\n", "JWT (HS256, Authorization: Bearer), the same", median(withJWT), median(ratios),
		fmt.Sprintf("(%.2f-%.2f)", slices.Min(ratios), slices.Max(ratios)), cpuCols(median(withJWTCPU), median(cpuRatios)))
	fmt.Fprintf(out, "  (medians of %d runs, each JWT run against the mean of the anonymous runs around it; the token is verified once\n", cfg.Repeat)
	fmt.Fprintf(out, "   per connection, at the handshake, before the clock starts; target: JWT >= 0.95x anonymous)\n")
	if cpuErr != nil {
		fmt.Fprintf(out, "  (trips/CPU-s: %v)\n", cpuErr)
	}
	fmt.Fprintln(out)
	return nil
}

// authFiles writes the secret and rules files of the phase's server into
// dir and returns them with the handshake headers of a connection that
// authenticates: a fresh HS256 token of authSubject.
func authFiles(dir string) (*ServeAuth, http.Header, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, nil, err
	}
	secret := []byte(hex.EncodeToString(raw[:]))
	sa := &ServeAuth{SecretFile: filepath.Join(dir, "jwt-secret"), RulesFile: filepath.Join(dir, "rules.json")}
	if err := os.WriteFile(sa.SecretFile, secret, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(sa.RulesFile, []byte(authRules), 0o600); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": authSubject, "iat": now.Unix(), "exp": now.Add(authTokenLifetime).Unix(),
	}).SignedString(secret)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the token: %w", err)
	}
	return sa, http.Header{"Authorization": {"Bearer " + token}}, nil
}

// checkAuthenticates makes sure the two kinds of connection are what the
// report says: the server refuses an anonymous read of authCheckModel
// and lets the connection opened with hdr read it. Otherwise the phase
// would compare two anonymous loads.
func checkAuthenticates(ctx context.Context, target string, hdr http.Header) error {
	read := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("read"), authCheckModel, bert.List{}})
	anon, err := dial(ctx, target)
	if err != nil {
		return err
	}
	defer anon.Close()
	reply, err := call(anon, read)
	if err != nil {
		return err
	}
	if err := checkUnauthorized(reply); err != nil {
		return fmt.Errorf("an anonymous read of %s: %w; the server does not authenticate (was it started with --jwt-secret-file and --rules?)", authCheckModel, err)
	}
	c, err := dialHeader(ctx, target, hdr)
	if err != nil {
		return fmt.Errorf("opening a connection with the token: %w", err)
	}
	defer c.Close()
	if reply, err = call(c, read); err != nil {
		return err
	}
	if err := checkOK(reply); err != nil {
		return fmt.Errorf("a read of %s with the token: %w", authCheckModel, err)
	}
	return nil
}

// checkUnauthorized requires {sync, error, {unauthorized, _}}.
func checkUnauthorized(reply []byte) error {
	var term any
	if err := bert.Unmarshal(reply, &term); err != nil {
		return fmt.Errorf("reply % x: %w", reply, err)
	}
	if t, ok := term.(bert.Tuple); ok && len(t) == 3 && t[1] == bert.Atom("error") {
		if reason, ok := t[2].(bert.Tuple); ok && len(reason) == 2 && reason[0] == bert.Atom("unauthorized") {
			return nil
		}
	}
	s, _ := erltext.Format(term)
	return fmt.Errorf("answered %s, want {sync, error, {unauthorized, _}}", s)
}

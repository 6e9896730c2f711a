package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config is one run of the bench. Its fields match the flags of
// `bertsync bench` one to one, and [Config.Validate]'s messages name them
// by those flags. The zero value is not valid: every size must be set.
type Config struct {
	// URL is the Bullet endpoint of a running server on loopback,
	// ws://HOST:PORT/PATH. Empty runs Serve in this process.
	URL string
	// PID is, with URL, the running server's process id: its RSS is the
	// idle phase's figure and its CPU time counts in trips/CPU-s. Zero
	// means unknown, and the idle phase is then skipped.
	PID int
	// Data is the in-process server's data directory. Empty means a
	// temporary directory, removed when Run returns.
	Data string
	// Serve runs the server under test in this process when URL is
	// empty; see [ServeFunc].
	Serve ServeFunc

	// Clients is the number of connections of the round-trip phase.
	Clients int
	// Duration is the length of each round-trip run; it is ignored when
	// Requests is not zero.
	Duration time.Duration
	// Requests is the number of requests of each round-trip run, spread
	// over the clients. Zero means run for Duration.
	Requests int
	// Repeat is the number of bertsync round-trip runs per request; echo
	// runs go before, between and after them.
	Repeat int
	// Ops are the bertsync requests of the round-trip phase: "read",
	// "create".
	Ops []string

	// Subscribers is the number of subscribers of the fan-out phase.
	Subscribers int
	// Rounds is the number of updates of the fan-out phase, sent one at a
	// time.
	Rounds int

	// Idle is the number of connections of the idle phase.
	Idle int

	// Types is the number of model types the commit phase's Clients
	// create on in its spread run, client i on type i mod Types.
	Types int
	// CompareURL is, for the commit phase, the Bullet endpoint of
	// another running server on loopback (the previous release, say)
	// that gets the same creates, each run right after the server under
	// test's, ws://HOST:PORT/PATH. Empty: none.
	CompareURL string

	// ClusterNodes is the number of `serve` processes of the cluster
	// phase on one PostgreSQL database.
	ClusterNodes int
	// PGURL is, for the cluster phase, the PostgreSQL server its nodes
	// use: a postgres:// URL of a role that may create databases (the
	// phase creates two and drops them afterwards). Empty: the phase
	// starts a server of its own (internal/pgserver).
	PGURL string
	// Executable is the bertsync binary the cluster phase runs its nodes
	// with, as `Executable serve ...`, each a child process.
	Executable string
	// NodeArgs are flags added to every node's `serve` command line, such
	// as the admission limits the bench lifts.
	NodeArgs []string

	// Phases are the phases to run: "idle", "rt", "fanout", "commit",
	// "auth", "cluster". They run in that order whatever the order here.
	// "auth" needs the in-process server (no URL): it starts one of its
	// own. "cluster" starts nodes of its own as child processes.
	Phases []string

	// CPUProfile, if not empty, is the file a CPU profile of the whole
	// run is written to: clients, baselines and in-process server.
	CPUProfile string
	// MemProfile, if not empty, is the file a heap profile is written to
	// while the bertsync idle connections are open.
	MemProfile string
}

// ServeFunc runs a bertsync server listening on addr (port 0: the
// kernel's choice) with the data directory dataDir until ctx ends,
// authenticating its clients as auth says (nil: not at all, every client
// anonymous and every method public). It writes the server's text log to
// log, which must include the line msg=listening addr=HOST:PORT once the
// server accepts connections: the bench learns the port from it.
type ServeFunc func(ctx context.Context, addr, dataDir string, auth *ServeAuth, log io.Writer) error

// ServeAuth is the authentication of a server that [ServeFunc] runs, as
// `bertsync serve --jwt-secret-file SecretFile --rules RulesFile` (DESIGN
// §6). The auth phase writes both files.
type ServeAuth struct {
	// SecretFile holds the HMAC secret of the HS256 tokens accepted.
	SecretFile string
	// RulesFile holds the access rules (JSON).
	RulesFile string
}

// phaseTimeout bounds any single wait of the bench (a reply, a push, a
// dial) so that a stuck server ends the run with an error.
const phaseTimeout = 15 * time.Second

// Bounds on the sizes, so that a typo cannot start an unbounded run.
const (
	maxClients  = 10000
	maxConns    = 50000
	maxDuration = 10 * time.Minute
	maxRounds   = 10000
	maxRequests = 100_000_000
	maxRepeat   = 100
	maxTypes    = 1000
	maxNodes    = 16
)

// Validate reports the first field that is out of its bounds or unknown.
func (c Config) Validate() error {
	switch {
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("--clients must be 1..%d", maxClients)
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("--duration must be positive and at most %v", maxDuration)
	case c.Requests < 0 || c.Requests > maxRequests:
		return fmt.Errorf("--requests must be 0..%d", maxRequests)
	case c.Subscribers < 1 || c.Subscribers > maxConns:
		return fmt.Errorf("--subscribers must be 1..%d", maxConns)
	case c.Repeat < 1 || c.Repeat > maxRepeat:
		return fmt.Errorf("--repeat must be 1..%d", maxRepeat)
	case c.Rounds < 1 || c.Rounds > maxRounds:
		return fmt.Errorf("--rounds must be 1..%d", maxRounds)
	case c.Idle < 1 || c.Idle > maxConns:
		return fmt.Errorf("--idle must be 1..%d", maxConns)
	case (slices.Contains(c.Phases, "commit") || slices.Contains(c.Phases, "cluster")) && (c.Types < 1 || c.Types > maxTypes):
		return fmt.Errorf("--types must be 1..%d", maxTypes)
	}
	if slices.Contains(c.Phases, "cluster") {
		if err := c.validateCluster(); err != nil {
			return err
		}
	}
	for _, op := range c.Ops {
		if op != "read" && op != "create" {
			return fmt.Errorf("--ops: unknown request %q (want read, create)", op)
		}
	}
	for _, p := range c.Phases {
		switch p {
		case "idle", "rt", "fanout", "commit", "auth", "cluster":
		default:
			return fmt.Errorf("--phases: unknown phase %q (want idle, rt, fanout, commit, auth, cluster)", p)
		}
	}
	if c.CompareURL != "" {
		if !slices.Contains(c.Phases, "commit") {
			return errors.New("--compare-url is a server for the commit phase: add commit to --phases")
		}
		if !isWSURL(c.CompareURL) {
			return fmt.Errorf("--compare-url %q: want ws://HOST:PORT/PATH", c.CompareURL)
		}
	}
	if c.URL != "" {
		if !isWSURL(c.URL) {
			return fmt.Errorf("--url %q: want ws://HOST:PORT/PATH", c.URL)
		}
		if slices.Contains(c.Phases, "auth") {
			return errors.New("--phases auth starts a server of its own (with --jwt-secret-file): drop --url")
		}
	} else if c.Serve == nil {
		return errors.New("no server: set --url, or Config.Serve to run one in this process")
	}
	return nil
}

// validateCluster checks the fields of the cluster phase.
func (c Config) validateCluster() error {
	switch {
	case c.ClusterNodes < 2 || c.ClusterNodes > maxNodes:
		return fmt.Errorf("--cluster-nodes must be 2..%d", maxNodes)
	case c.Executable == "":
		return errors.New("the cluster phase needs the bertsync binary to start its nodes with (Config.Executable)")
	case c.PGURL != "" && !strings.HasPrefix(c.PGURL, "postgres://") && !strings.HasPrefix(c.PGURL, "postgresql://"):
		return fmt.Errorf("--pg-url %q: want postgres://USER@HOST:PORT/DB", c.PGURL)
	}
	return nil
}

// isWSURL reports whether s is a ws:// or wss:// URL with a host.
func isWSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "ws" || u.Scheme == "wss") && u.Host != ""
}

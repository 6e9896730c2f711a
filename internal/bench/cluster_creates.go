package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"
)

// The create half of the cluster phase: durable creates per second
// through the nodes, each client keeping one create in flight as the
// commit phase's do, against pgbench inserting rows of a similar size on
// the same PostgreSQL server, run before and after each of them.

// clusterCreates runs one connection per message of msgs, client i on
// targets[i mod len(targets)], each sending its message and waiting for
// the reply, again and again, for cfg.Duration or cfg.Requests, and keeps
// every round trip's latency. Each reply must be {sync, ok, _}. acked
// counts the acknowledged creates by message, warm-ups included, for the
// check that the database holds each once.
func clusterCreates(ctx context.Context, cfg Config, targets []string, msgs [][]byte, acked []int64) (commitRun, error) {
	conns := make([]*websocket.Conn, len(msgs))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range msgs {
		c, err := dial(ctx, targets[i%len(targets)])
		if err != nil {
			return commitRun{}, fmt.Errorf("client %d: %w", i, err)
		}
		conns[i] = c
	}
	// One warm-up call per connection, fully checked: it also makes the
	// types the run creates on.
	for i, c := range conns {
		reply, err := call(c, msgs[i])
		if err == nil {
			err = explainReply(checkOK(reply), reply)
		}
		if err != nil {
			return commitRun{}, fmt.Errorf("warm-up of client %d: %w", i, err)
		}
		acked[i]++
	}
	res, answered, err := closedLoop(ctx, cfg, conns, msgs, func(i int, reply []byte, err error) error {
		if err == nil && !isOK(reply) {
			err = explainReply(errors.New("not {sync, ok, _}"), reply)
		}
		if err != nil {
			return fmt.Errorf("client %d (on %s): %w", i, targets[i%len(targets)], err)
		}
		return nil
	})
	for i, n := range answered {
		acked[i] += n
	}
	return res, err
}

// pgbenchTable is the table pgbench inserts into; pgbenchScript is its
// one transaction, an INSERT of a row whose bytea holds size bytes.
const pgbenchTable = "bench_pgbench_inserts"

func pgbenchScript(size int) string {
	return fmt.Sprintf("INSERT INTO %s (id, attrs) VALUES (gen_random_uuid()::text, convert_to(repeat('x', %d), 'UTF8'));\n", pgbenchTable, size)
}

// createPgbenchTable makes the table of pgbenchScript in the database db
// reaches, with a primary key and an order index like the documents'.
func createPgbenchTable(ctx context.Context, db string) error {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE TABLE "+pgbenchTable+" (id text PRIMARY KEY, ord bigserial UNIQUE, attrs bytea NOT NULL)")
	return err
}

// pgbenchTPSRE finds pgbench's transactions per second without the time
// its clients took to connect (PostgreSQL 14 and later, then earlier).
var pgbenchTPSRE = regexp.MustCompile(`tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)`)

// parsePgbenchTPS reads the tps of pgbench's report.
func parsePgbenchTPS(out []byte) (float64, error) {
	m := pgbenchTPSRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps in pgbench's output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// pgbenchThreads is pgbench's -j for clients: one thread per core, as
// the bench's own clients run on GOMAXPROCS threads, and no more threads
// than clients.
func pgbenchThreads(clients int) int { return max(1, min(clients, runtime.GOMAXPROCS(0))) }

// pgbenchRun runs pgbench (bin) against the database db for d, rounded to
// whole seconds and at least one: clients clients, one script
// transaction after another, no vacuum.
func pgbenchRun(ctx context.Context, bin, db, script string, clients int, d time.Duration) (float64, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+phaseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-n", "-f", script, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(pgbenchThreads(clients)),
		"-T", strconv.Itoa(secs), db)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	return parsePgbenchTPS(out)
}

// writePgbenchScript writes the script for rows of size bytes into dir.
func writePgbenchScript(dir string, size int) (string, error) {
	path := filepath.Join(dir, "insert.sql")
	return path, os.WriteFile(path, []byte(pgbenchScript(size)), 0o644)
}

// checkStored requires the database db to hold, for each model type of
// want, as many documents as creates were acknowledged on it: none lost,
// none applied twice.
func checkStored(ctx context.Context, db string, want map[string]int64) error {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var errs []error
	for model, n := range want {
		var got int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM docs WHERE model = $1", model).Scan(&got); err != nil {
			return fmt.Errorf("counting the documents of %s: %w", model, err)
		}
		if got != n {
			errs = append(errs, fmt.Errorf("type %s: %d documents stored, %d creates acknowledged", model, got, n))
		}
	}
	return errors.Join(errs...)
}

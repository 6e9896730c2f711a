package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/pgserver"
)

// The cluster phase (issue 10, DESIGN §7) runs cfg.ClusterNodes `bertsync
// serve --store postgres://…` child processes on one database and, as the
// baseline of the same run, one more node alone on another database of
// the same PostgreSQL server. It measures
//
//   - cross-node push latency: subscribers spread over the nodes, one
//     writer on the first, against the same with every subscriber and the
//     writer on the single node; and
//   - durable creates per second through the nodes, against pgbench
//     inserting rows of a similar size on the same server, run before and
//     after each of them.
//
// Every subscriber checks that it gets every push once, in Seq order, and
// the databases must hold each acknowledged create once: any loss or
// duplicate fails the run.

// clusterPG is the PostgreSQL server of a cluster phase.
type clusterPG struct {
	admin   string // URL of a role that may create databases
	pgbench string // the pgbench binary
	where   string // for the report
	stop    func() error
}

// clusterPostgres is cfg.PGURL's server, or one started for the phase.
func clusterPostgres(ctx context.Context, cfg Config) (*clusterPG, error) {
	if cfg.PGURL != "" {
		bin, err := findPgbench()
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(cfg.PGURL)
		if err != nil {
			return nil, fmt.Errorf("--pg-url: %w", err)
		}
		return &clusterPG{admin: cfg.PGURL, pgbench: bin, where: "the server of --pg-url " + u.Redacted(), stop: func() error { return nil }}, nil
	}
	srv, err := pgserver.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL (--pg-url names a running one): %w", err)
	}
	return &clusterPG{
		admin: srv.URL, pgbench: filepath.Join(srv.Bin, "pgbench"),
		where: fmt.Sprintf("PostgreSQL started by the bench (%s, 127.0.0.1:%d, fsync on)", srv.Bin, srv.Port),
		stop:  srv.Stop,
	}, nil
}

// findPgbench is the pgbench of the newest PostgreSQL installed, else the
// one on PATH.
func findPgbench() (string, error) {
	if bin, err := pgserver.FindBin(); err == nil {
		if _, err := os.Stat(filepath.Join(bin, "pgbench")); err == nil {
			return filepath.Join(bin, "pgbench"), nil
		}
	}
	p, err := exec.LookPath("pgbench")
	if err != nil {
		return "", fmt.Errorf("the cluster phase compares with pgbench, which is not installed (scripts/setup.sh installs PostgreSQL): %w", err)
	}
	return p, nil
}

// databaseURL is admin with its database replaced by name.
func databaseURL(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}

// clusterPhase is the cluster phase.
func clusterPhase(ctx context.Context, cfg Config, out io.Writer) (err error) {
	pg, err := clusterPostgres(ctx, cfg)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer func() { err = errors.Join(err, pg.stop()) }()

	var suffix [4]byte
	rand.Read(suffix[:])
	names := []string{"bertsync_bench_" + hex.EncodeToString(suffix[:]) + "_nodes", "bertsync_bench_" + hex.EncodeToString(suffix[:]) + "_single"}
	var dbs []string
	for _, name := range names {
		if err := pgserver.CreateDatabase(ctx, pg.admin, name); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), phaseTimeout)
			defer cancel()
			err = errors.Join(err, pgserver.DropDatabase(dctx, pg.admin, name))
		}()
		db, err := databaseURL(pg.admin, name)
		if err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
		dbs = append(dbs, db)
	}
	nodesDB, singleDB := dbs[0], dbs[1]

	nodes, err := startNodes(ctx, cfg, "node ", nodesDB, cfg.ClusterNodes)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer func() { err = errors.Join(err, stopNodes(nodes)) }()
	single, err := startNodes(ctx, cfg, "single node ", singleDB, 1)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer func() { err = errors.Join(err, stopNodes(single)) }()
	all := slices.Concat(nodes, single)
	// A run that fails because a node died says so.
	failed := func(what string, err error) error {
		return fmt.Errorf("cluster, %s: %w", what, errors.Join(err, nodesGone(all)))
	}
	urls := func(ns []*clusterNode) []string {
		var u []string
		for _, n := range ns {
			u = append(u, n.url())
		}
		return u
	}
	fmt.Fprintf(out, "Many nodes: %d nodes (bertsync serve --store, child processes) on one database, 1 node alone on another database\n", len(nodes))
	fmt.Fprintf(out, "  of the same server, %s\n", pg.where)
	if err := clusterPushes(ctx, cfg, urls(nodes), urls(single), out); err != nil {
		return failed("pushes", err)
	}
	if err := clusterCreateRates(ctx, cfg, pg, nodesDB, singleDB, urls(nodes), urls(single), out); err != nil {
		return failed("creates", err)
	}
	return nil
}

// clusterPushes is the push half of the phase: cfg.Repeat repetitions of
// a run on the single node and one on the nodes, each on a new type.
func clusterPushes(ctx context.Context, cfg Config, nodes, single []string, out io.Writer) error {
	load0 := loadAverage()
	fmt.Fprintf(out, "Cross-node pushes: a writer on node 1 creates one document at a time, %d subscribers, subscriber i on node i mod %d;\n", cfg.Subscribers, len(nodes))
	fmt.Fprintf(out, "  %d rounds, %d repetitions; latency from the create's send to the push, every subscriber\n", cfg.Rounds, cfg.Repeat)
	type series struct {
		label             string
		p50, p99, max     []time.Duration
		vs50, vs99        []float64
		pick              func(pushRun) []time.Duration
		fromSingle, ratio bool
	}
	rows := []*series{
		{label: "1 node, writer and every subscriber on it", pick: func(r pushRun) []time.Duration { return r.all }, fromSingle: true},
		{label: fmt.Sprintf("%d nodes, every subscriber", len(nodes)), pick: func(r pushRun) []time.Duration { return r.all }, ratio: true},
		{label: fmt.Sprintf("%d nodes, subscribers on node 1 (the writer's)", len(nodes)), pick: func(r pushRun) []time.Duration { return r.local }, ratio: true},
		{label: fmt.Sprintf("%d nodes, subscribers on nodes 2-%d", len(nodes), len(nodes)), pick: func(r pushRun) []time.Duration { return r.remote }, ratio: true},
	}
	for rep := range cfg.Repeat {
		model := bert.Atom(fmt.Sprintf("bench_xnode_%d", rep))
		one, err := pushLatency(ctx, cfg, single, model)
		if err != nil {
			return fmt.Errorf("1 node, repetition %d: %w", rep+1, err)
		}
		many, err := pushLatency(ctx, cfg, nodes, model)
		if err != nil {
			return fmt.Errorf("%d nodes, repetition %d: %w", len(nodes), rep+1, err)
		}
		for _, s := range rows {
			run := many
			if s.fromSingle {
				run = one
			}
			lat := s.pick(run)
			if len(lat) == 0 { // fewer subscribers than nodes
				continue
			}
			p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)
			s.p50, s.p99, s.max = append(s.p50, p50), append(s.p99, p99), append(s.max, Percentile(lat, 1))
			s.vs50 = append(s.vs50, float64(p50)/float64(Percentile(one.all, 0.5)))
			s.vs99 = append(s.vs99, float64(p99)/float64(Percentile(one.all, 0.99)))
		}
	}
	fmt.Fprintf(out, "  %-48s %10s %10s %10s %14s %14s\n", "target", "p50", "p99", "max", "p50 vs 1 node", "p99 vs 1 node")
	for _, s := range rows {
		if len(s.p50) == 0 {
			continue
		}
		vs := func(xs []float64) string {
			if !s.ratio {
				return "1.00x"
			}
			return fmt.Sprintf("%.2fx", median(xs))
		}
		fmt.Fprintf(out, "  %-48s %10s %10s %10s %14s %14s\n", s.label, millis(medianDuration(s.p50)), millis(medianDuration(s.p99)),
			millis(medianDuration(s.max)), vs(s.vs50), vs(s.vs99))
	}
	if cfg.Repeat > 1 {
		r := rows[1]
		fmt.Fprintf(out, "  (%d nodes over 1 node, every subscriber, by repetition: p50 %.2f-%.2f, p99 %.2f-%.2f)\n", len(nodes),
			slices.Min(r.vs50), slices.Max(r.vs50), slices.Min(r.vs99), slices.Max(r.vs99))
	}
	fmt.Fprintf(out, "  (medians of %d repetitions, each a 1-node run then a %d-node run on a new type; ratios against the 1-node run's\n", cfg.Repeat, len(nodes))
	fmt.Fprintf(out, "   figure over every subscriber in the same repetition; every subscriber got every push once, in Seq order)\n")
	fmt.Fprintf(out, "  (load average: %s before, %s after)\n\n", load0, loadAverage())
	return nil
}

// clusterCreateRates is the create half of the phase.
func clusterCreateRates(ctx context.Context, cfg Config, pg *clusterPG, nodesDB, singleDB string, nodes, single []string, out io.Writer) error {
	const oneType = "bench_xc"
	spread := func(i int) string { return fmt.Sprintf("%s_%d", oneType, i%cfg.Types) }
	type load struct {
		label   string
		targets []string
		db      string
		model   func(i int) string
		rates   []float64
		vsPg    []float64
		p50s    []time.Duration
		p99s    []time.Duration
	}
	loads := []*load{
		{label: fmt.Sprintf("%d nodes, %d clients, one type", len(nodes), cfg.Clients), targets: nodes, db: nodesDB,
			model: func(int) string { return oneType }},
		{label: fmt.Sprintf("%d nodes, %d clients over %d types", len(nodes), cfg.Clients, cfg.Types), targets: nodes, db: nodesDB, model: spread},
		{label: fmt.Sprintf("1 node, %d clients over %d types", cfg.Clients, cfg.Types), targets: single, db: singleDB, model: spread},
	}
	// Each database's acknowledged creates by type, for checkStored. The
	// two loads on the nodes' database use different types.
	acked := map[string]map[string]int64{nodesDB: {}, singleDB: {}}

	size := 2 * len(commitCreate(oneType)) // the document's record and its event
	dir, err := os.MkdirTemp("", "bertsync-bench-pgbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script, err := writePgbenchScript(dir, size)
	if err != nil {
		return err
	}
	if err := createPgbenchTable(ctx, nodesDB); err != nil {
		return fmt.Errorf("pgbench's table: %w", err)
	}

	how := fmt.Sprintf("%v per run", cfg.Duration)
	if cfg.Requests > 0 {
		how = fmt.Sprintf("%d requests per run, spread over its clients", cfg.Requests)
	}
	load0 := loadAverage()
	fmt.Fprintf(out, "Durable creates through the nodes: one create in flight per client, client i on node i mod %d, %s, %d repetitions;\n", len(nodes), how, cfg.Repeat)
	fmt.Fprintf(out, "  against pgbench on the nodes' database: -c %d -j %d -T %ds -n, one INSERT of a %d-byte row per transaction\n",
		cfg.Clients, pgbenchThreads(cfg.Clients), max(1, int(cfg.Duration.Round(time.Second)/time.Second)), size)
	var tps []float64
	for rep := 0; rep <= cfg.Repeat; rep++ {
		t, err := pgbenchRun(ctx, pg.pgbench, nodesDB, script, cfg.Clients, cfg.Duration)
		if err != nil {
			return err
		}
		tps = append(tps, t)
		if rep > 0 {
			ref := (tps[rep-1] + tps[rep]) / 2
			for _, l := range loads {
				l.vsPg = append(l.vsPg, l.rates[rep-1]/ref)
			}
		}
		if rep == cfg.Repeat {
			break
		}
		for _, l := range loads {
			msgs := make([][]byte, cfg.Clients)
			for i := range msgs {
				msgs[i] = commitCreate(l.model(i))
			}
			counts := make([]int64, cfg.Clients)
			r, err := clusterCreates(ctx, cfg, l.targets, msgs, counts)
			for i, n := range counts {
				acked[l.db][l.model(i)] += n
			}
			if err != nil {
				return fmt.Errorf("%s: %w", l.label, err)
			}
			l.rates = append(l.rates, r.rate())
			l.p50s, l.p99s = append(l.p50s, r.pct(0.5)), append(l.p99s, r.pct(0.99))
		}
	}
	for db, want := range acked {
		if err := checkStored(ctx, db, want); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "  %-48s %10s %10s %14s %10s %10s\n", "target", "creates/s", "vs pgbench", "(min-max)", "p50", "p99")
	fmt.Fprintf(out, "  %-48s %10.0f %9.2fx %14s %10s %10s\n", fmt.Sprintf("pgbench INSERT, %d clients (tps)", cfg.Clients), median(tps), 1.0,
		fmt.Sprintf("(%.0f-%.0f)", slices.Min(tps), slices.Max(tps)), "-", "-")
	for _, l := range loads {
		fmt.Fprintf(out, "  %-48s %10.0f %9.3fx %14s %10s %10s\n", l.label, median(l.rates), median(l.vsPg),
			fmt.Sprintf("(%.3f-%.3f)", slices.Min(l.vsPg), slices.Max(l.vsPg)), millis(medianDuration(l.p50s)), millis(medianDuration(l.p99s)))
	}
	ratios := make([]float64, cfg.Repeat)
	for rep := range ratios {
		ratios[rep] = loads[1].rates[rep] / loads[2].rates[rep]
	}
	fmt.Fprintf(out, "  %d nodes over 1 node, %d clients over %d types: %.2fx (%.2f-%.2f)\n", len(nodes), cfg.Clients, cfg.Types,
		median(ratios), slices.Min(ratios), slices.Max(ratios))
	fmt.Fprintf(out, "  (medians of %d runs; vs pgbench: against the mean of the pgbench runs around it; tps without connection time;\n", cfg.Repeat)
	fmt.Fprintf(out, "   latencies from send to reply; the databases hold every acknowledged create once)\n")
	fmt.Fprintf(out, "  (load average: %s before, %s after)\n\n", load0, loadAverage())
	return nil
}

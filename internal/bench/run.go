package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"
)

// Run validates cfg, runs its phases and prints the report to stdout;
// warnings that do not stop the run go to stderr. It returns when every
// phase is done, when one fails, or soon after ctx ends.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	raiseFileLimit(stderr)
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	base, err := startBaseline()
	if err != nil {
		return fmt.Errorf("baseline server: %w", err)
	}
	defer base.close()

	target := cfg.URL
	where := "running server " + cfg.URL
	// The auth and cluster phases start servers of their own.
	needTarget := slices.ContainsFunc(cfg.Phases, func(p string) bool { return p != "auth" && p != "cluster" })
	if target == "" && !needTarget {
		where = "servers started by each phase"
	}
	if target == "" && needTarget {
		srv, err := startInProcess(ctx, cfg.Serve, cfg.Data, nil)
		if err != nil {
			return fmt.Errorf("in-process server: %w", err)
		}
		defer srv.stop()
		target = "ws://" + srv.addr + "/bullet"
		where = fmt.Sprintf("in-process server (bertsync serve --data %s)", srv.data)
	}

	fmt.Fprintf(stdout, "bertsync bench, %s, %s %s/%s, %d CPUs (GOMAXPROCS %d)\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "bertsync: %s; baseline: gorilla/websocket %s\n\n", where, base.addr)

	// Idle first: its figures are cleanest on a fresh heap.
	if slices.Contains(cfg.Phases, "idle") {
		if err := idlePhase(ctx, cfg, target, base, stdout); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.Phases, "rt") {
		if err := roundTripPhase(ctx, cfg, target, "ws://"+base.addr+"/echo", stdout); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.Phases, "fanout") {
		if err := fanoutPhase(ctx, cfg, target, "ws://"+base.addr+"/hub", stdout); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.Phases, "commit") {
		if err := commitPhase(ctx, cfg, target, "ws://"+base.addr+"/echo", stdout); err != nil {
			return err
		}
	}
	// Last: these start servers of their own.
	if slices.Contains(cfg.Phases, "auth") {
		if err := authPhase(ctx, cfg, stdout); err != nil {
			return err
		}
	}
	if slices.Contains(cfg.Phases, "cluster") {
		if err := clusterPhase(ctx, cfg, stdout); err != nil {
			return err
		}
	}
	return nil
}

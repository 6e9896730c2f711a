package models

import (
	"context"
	"errors"
	"testing"
	"time"
)

// testPGFilesSharedSweep checks, with two nodes' pools on one database,
// that one node sweeps at a time and only when no sweep began within the
// interval, that the lock goes with a sweep whose context ended, and that
// the nodes share when a round ended.
func testPGFilesSharedSweep(t *testing.T, url string) {
	one, other := NewPGFiles(pgFilesPool(t, url)), NewPGFiles(pgFilesPool(t, url))
	ctx := context.Background()

	ran := 0
	led, err := one.LeadSweep(ctx, time.Hour, func(ctx context.Context) error {
		ran++
		led, err := other.LeadSweep(ctx, 0, func(context.Context) error {
			t.Error("the other node swept while one did")
			return nil
		})
		if err != nil || led {
			t.Errorf("the other node during the sweep: led %v, %v; want false", led, err)
		}
		return nil
	})
	if err != nil || !led || ran != 1 {
		t.Fatalf("LeadSweep: led %v, ran %d, %v", led, ran, err)
	}
	// A sweep began less than an hour ago: the next waits.
	led, err = other.LeadSweep(ctx, time.Hour, func(context.Context) error {
		t.Error("a node swept within the interval of the last sweep")
		return nil
	})
	if err != nil || led {
		t.Fatalf("LeadSweep within the interval: led %v, %v; want false", led, err)
	}
	time.Sleep(10 * time.Millisecond)
	led, err = other.LeadSweep(ctx, 10*time.Millisecond, func(context.Context) error { return nil })
	if err != nil || !led {
		t.Fatalf("LeadSweep past the interval: led %v, %v; want true", led, err)
	}

	// A sweep whose context ends returns its error and lets go of the
	// lock all the same.
	cctx, cancel := context.WithCancel(ctx)
	led, err = other.LeadSweep(cctx, 0, func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	})
	if !led || !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled sweep: led %v, %v", led, err)
	}
	led, err = one.LeadSweep(ctx, 0, func(context.Context) error { return nil })
	if err != nil || !led {
		t.Fatalf("after a cancelled sweep: led %v, %v; want the lock free", led, err)
	}

	if at, err := other.SweptBefore(ctx); err != nil || !at.IsZero() {
		t.Fatalf("SweptBefore with no round ended: %v, %v", at, err)
	}
	t1 := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, end := range []time.Time{t1, t1.Add(-time.Hour), t1.Add(-time.Nanosecond)} {
		if err := one.EndRound(ctx, end); err != nil {
			t.Fatal(err)
		}
	}
	if at, err := other.SweptBefore(ctx); err != nil || !at.Equal(t1) {
		t.Fatalf("SweptBefore: %v, %v; want %v, the latest round's cutoff", at, err, t1)
	}
	t2 := t1.Add(time.Nanosecond)
	if err := other.EndRound(ctx, t2); err != nil {
		t.Fatal(err)
	}
	if at, err := one.SweptBefore(ctx); err != nil || !at.Equal(t2) {
		t.Fatalf("SweptBefore after a later round: %v, %v; want %v", at, err, t2)
	}

	// A database that cannot be reached is unavailable.
	gone := pgFilesPool(t, url)
	gone.Close()
	for name, err := range map[string]error{
		"LeadSweep":   func() error { _, err := NewPGFiles(gone).LeadSweep(ctx, 0, nil); return err }(),
		"EndRound":    NewPGFiles(gone).EndRound(ctx, t2),
		"SweptBefore": func() error { _, err := NewPGFiles(gone).SweptBefore(ctx); return err }(),
	} {
		if e, ok := errors.AsType[*Error](err); !ok || e.Code != CodeUnavailable {
			t.Errorf("%s on a closed pool: %v, want unavailable", name, err)
		}
	}
}

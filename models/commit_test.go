package models

import (
	"context"
	"sync"
	"testing"
	"time"
)

// sleepyBackend is a groupBackend whose every commit takes d, as a sync
// to disk does, and which counts the commits and their writes.
type sleepyBackend struct {
	d       time.Duration
	mu      sync.Mutex
	commits int
}

type nopTx struct{ Tx }

func (nopTx) startWrite()   {}
func (nopTx) changed() bool { return false }
func (nopTx) broken() error { return nil }

func (b *sleepyBackend) transact(apply func(tx groupTx) error) error {
	if err := apply(nopTx{}); err != nil {
		return err
	}
	time.Sleep(b.d)
	b.mu.Lock()
	b.commits++
	b.mu.Unlock()
	return nil
}

func (b *sleepyBackend) storeError(err error) error { return err }

func nopWrite(Tx) error { return nil }

// TestCommitterWaitsForReturningWriters: writers that write again a
// moment after each reply (closed loop, as the clients of a model type)
// share one commit per round, rather than splitting into two groups that
// take turns, each write waiting for two commits.
func TestCommitterWaitsForReturningWriters(t *testing.T) {
	t.Parallel()
	b := &sleepyBackend{d: 10 * time.Millisecond}
	c := newCommitter(b, nil)
	defer c.close()
	const writers, rounds = 8, 30
	ctx := context.Background()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				if err := c.commit(ctx, []Write{nopWrite})[0]; err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond) // the round trip to the client
			}
		})
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	// A few more than one a round: the writers start apart.
	if b.commits > rounds+rounds/5 {
		t.Fatalf("%d commits for %d rounds of %d writers: the groups split", b.commits, rounds, writers)
	}
	t.Logf("%d rounds of %d writers in %d commits", rounds, writers, b.commits)
}

// TestCommitterLoneWriterGoesAtOnce: a lone writer's next write is
// committed at once, not after waiting for company.
func TestCommitterLoneWriterGoesAtOnce(t *testing.T) {
	t.Parallel()
	b := &sleepyBackend{d: 20 * time.Millisecond}
	c := newCommitter(b, nil)
	defer c.close()
	ctx := context.Background()
	for i := range 10 {
		start := time.Now()
		if err := c.commit(ctx, []Write{nopWrite})[0]; err != nil {
			t.Fatal(err)
		}
		// The commit takes 20 ms; waiting for company would add as much.
		if d := time.Since(start); d >= 35*time.Millisecond {
			t.Fatalf("write %d took %v for a commit of %v", i, d, b.d)
		}
	}
}

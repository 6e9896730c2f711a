package models

import (
	"context"
	"sync"
	"testing"
	"time"
)

// sleepyBackend is a groupBackend whose every commit takes d, as a sync
// to disk does, and which counts the commits.
type sleepyBackend struct {
	d       time.Duration
	mu      sync.Mutex
	commits int
}

type nopTx struct{ Tx }

func (nopTx) startWrite()     {}
func (nopTx) endWrite() error { return nil }
func (nopTx) changed() bool   { return false }
func (nopTx) broken() error   { return nil }

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
	// A few more than one a round: the writers start apart, and a busy
	// machine can hold one past the patience. Groups that take turns
	// make two a round.
	if b.commits > rounds*3/2 {
		t.Fatalf("%d commits for %d rounds of %d writers: the groups split", b.commits, rounds, writers)
	}
	t.Logf("%d rounds of %d writers in %d commits", rounds, writers, b.commits)
}

// TestGroupPace: after a lone writer's commit the next write goes at
// once; after a group's, a smaller group waits for the rest, for no
// longer than the last commit took nor maxPatience, and a full one goes.
func TestGroupPace(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	end := start.Add(2 * time.Millisecond)
	var p groupPace
	if d := p.wait(1, start); d != 0 {
		t.Fatalf("before any commit: waits %v", d)
	}
	p.committed(1, 0, start, end)
	if d := p.wait(1, end); d != 0 {
		t.Fatalf("after a lone writer's commit: waits %v", d)
	}
	p.committed(8, 2, start, end)
	if d := p.wait(4, end); d != 2*time.Millisecond {
		t.Fatalf("4 of 10 writes after a 2 ms commit: waits %v, want 2ms", d)
	}
	if d := p.wait(4, end.Add(time.Millisecond)); d != time.Millisecond {
		t.Fatalf("4 of 10 writes 1 ms later: waits %v, want 1ms", d)
	}
	if d := p.wait(4, end.Add(time.Second)); d != 0 {
		t.Fatalf("after the patience ran out: waits %v", d)
	}
	if d := p.wait(10, end); d != 0 {
		t.Fatalf("all 10 writes: waits %v", d)
	}
	p.committed(3, 0, start, start.Add(time.Second))
	if d := p.wait(1, start.Add(time.Second)); d != maxPatience {
		t.Fatalf("after a slow commit: waits %v, want maxPatience %v", d, maxPatience)
	}
}

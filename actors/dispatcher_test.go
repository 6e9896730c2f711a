package actors

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The tests that count goroutines are not parallel: parallel tests start
// only after them, and each first waits for the workers of earlier tests'
// systems to end.

// TestDispatcherRunsEachOnce: every function scheduled, from many
// goroutines and from scheduled functions themselves (as a mailbox run
// schedules the mailboxes it sends to), runs exactly once.
func TestDispatcherRunsEachOnce(t *testing.T) {
	t.Parallel()
	const schedulers, perScheduler = 8, 2000
	d := newWorkerDispatcher(4)
	defer d.stop()
	var runs [schedulers * perScheduler * 2]atomic.Int32
	var wg sync.WaitGroup
	wg.Add(len(runs))
	for g := range schedulers {
		go func() {
			for i := range perScheduler {
				n := 2 * (g*perScheduler + i)
				d.Schedule(func() {
					runs[n].Add(1)
					d.Schedule(func() {
						runs[n+1].Add(1)
						wg.Done()
					})
					wg.Done()
				})
			}
		}()
	}
	waitGroup(t, &wg)
	for n := range runs {
		if c := runs[n].Load(); c != 1 {
			t.Fatalf("function %d ran %d times", n, c)
		}
	}
}

// TestDispatcherParksAndWakes: a worker that finished parks, and the next
// function runs on it rather than on a new goroutine.
func TestDispatcherParksAndWakes(t *testing.T) {
	t.Parallel()
	d := newWorkerDispatcher(1)
	defer d.stop()
	ids := make(chan uint64, 2)
	d.Schedule(func() { ids <- goroutineID() })
	first := <-ids
	eventually(t, "the worker parks", func() bool { return strings.HasPrefix(goroutineState(first), "select") })
	if n := d.idle.Load(); n != 1 {
		t.Fatalf("%d idle workers, want 1", n)
	}
	for range 3 {
		d.Schedule(func() { ids <- goroutineID() })
		if id := <-ids; id != first {
			t.Fatalf("function ran on goroutine %d, not on the parked worker %d", id, first)
		}
		eventually(t, "the worker parks again", func() bool { return strings.HasPrefix(goroutineState(first), "select") })
	}
}

// TestDispatcherBoundsIdleWorkers: a burst starts a worker per busy
// function; once they are done, maxIdle of them stay parked and the rest
// end.
func TestDispatcherBoundsIdleWorkers(t *testing.T) {
	waitWorkers(t, 0)
	const maxIdle, burst = 3, 20
	d := newWorkerDispatcher(maxIdle)
	entered := make(chan struct{}, burst)
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(burst)
	for range burst {
		d.Schedule(func() {
			entered <- struct{}{}
			<-release
			wg.Done()
		})
	}
	for range burst {
		waitSignal(t, entered, "a function of the burst")
	}
	if n := workerGoroutines(); n != burst {
		t.Fatalf("%d workers run %d blocked functions", n, burst)
	}
	close(release)
	waitGroup(t, &wg)
	waitWorkers(t, maxIdle)
	if n := d.idle.Load(); n != maxIdle {
		t.Fatalf("%d idle workers, want %d", n, maxIdle)
	}
	d.stop()
	waitWorkers(t, 0)
}

// TestDispatcherStop: stop ends the parked workers; a function scheduled
// afterwards (a late mailbox run) still runs, and its worker ends after
// it.
func TestDispatcherStop(t *testing.T) {
	waitWorkers(t, 0)
	before := runtime.NumGoroutine()
	d := newWorkerDispatcher(4)
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Add(4)
	for range 4 {
		d.Schedule(func() {
			<-release
			wg.Done()
		})
	}
	close(release)
	waitGroup(t, &wg)
	eventually(t, "four parked workers", func() bool { return d.idle.Load() == 4 })
	d.stop()
	d.stop() // idempotent
	waitWorkers(t, 0)
	eventually(t, "the goroutine count back where it was", func() bool { return runtime.NumGoroutine() <= before })
	if n := d.idle.Load(); n != 0 {
		t.Fatalf("%d idle workers after stop", n)
	}

	ran := make(chan struct{})
	d.Schedule(func() { close(ran) })
	waitSignal(t, ran, "a function scheduled after stop")
	waitWorkers(t, 0)
}

// TestDispatcherNoLeakUnderLoad: many schedulers at once, with functions
// that schedule more, leave at most maxIdle workers, and none once
// stopped.
func TestDispatcherNoLeakUnderLoad(t *testing.T) {
	waitWorkers(t, 0)
	before := runtime.NumGoroutine()
	const maxIdle, schedulers, perScheduler = 4, 16, 5000
	d := newWorkerDispatcher(maxIdle)
	var done atomic.Int64
	var wg sync.WaitGroup
	wg.Add(schedulers * perScheduler)
	var sched sync.WaitGroup
	for range schedulers {
		sched.Go(func() {
			for i := range perScheduler {
				if i%2 == 0 {
					d.Schedule(func() { done.Add(1); wg.Done() })
					continue
				}
				d.Schedule(func() { d.Schedule(func() { done.Add(1); wg.Done() }) })
			}
		})
	}
	sched.Wait()
	waitGroup(t, &wg)
	if n := done.Load(); n != schedulers*perScheduler {
		t.Fatalf("%d functions ran, want %d", n, schedulers*perScheduler)
	}
	eventually(t, "at most maxIdle workers left", func() bool { return workerGoroutines() <= maxIdle })
	if n := d.idle.Load(); n > maxIdle || n < 0 {
		t.Fatalf("idle count %d outside 0..%d", n, maxIdle)
	}
	d.stop()
	waitWorkers(t, 0)
	eventually(t, "the goroutine count back where it was", func() bool { return runtime.NumGoroutine() <= before })
}

// BenchmarkDispatcher compares the worker dispatcher with protoactor's
// default, a goroutine per run, as actors use them: each of GOMAXPROCS
// goroutines schedules a function and waits for it, as a round trip waits
// for its mailbox run, with a shallow stack and with one deep enough
// (64 KiB) that a new goroutine has to grow its stack.
func BenchmarkDispatcher(b *testing.B) {
	for _, work := range []struct {
		name string
		fn   func()
	}{{"shallow", func() {}}, {"deep", func() { deepStack(64) }}} {
		for _, disp := range []struct {
			name string
			new  func() (actor.Dispatcher, func())
		}{
			{"workers", func() (actor.Dispatcher, func()) {
				d := newWorkerDispatcher(idleWorkersPerProc * runtime.GOMAXPROCS(0))
				return d, d.stop
			}},
			{"goroutines", func() (actor.Dispatcher, func()) { return actor.NewDefaultDispatcher(dispatcherThroughput), func() {} }},
		} {
			b.Run(work.name+"/"+disp.name, func(b *testing.B) {
				d, stop := disp.new()
				defer stop()
				b.RunParallel(func(pb *testing.PB) {
					done := make(chan struct{})
					fn := func() {
						work.fn()
						done <- struct{}{}
					}
					for pb.Next() {
						d.Schedule(fn)
						<-done
					}
				})
			})
		}
	}
}

// deepStack uses about n KiB of stack.
//
//go:noinline
func deepStack(n int) byte {
	var buf [1024]byte
	buf[n%len(buf)] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return deepStack(n-1) + buf[n%len(buf)]
}

// eventually waits until cond holds, checking it every millisecond, and
// fails the test if it does not within waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", waitLimit, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitGroup(t testing.TB, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	waitSignal(t, done, "the scheduled functions")
}

// waitWorkers waits until n worker goroutines, of any dispatcher, are
// left.
func waitWorkers(t testing.TB, n int) {
	t.Helper()
	eventually(t, strconv.Itoa(n)+" worker goroutines", func() bool { return workerGoroutines() == n })
}

// workerGoroutines counts the goroutines running workerDispatcher.worker.
func workerGoroutines() int {
	n := 0
	for g := range strings.SplitSeq(allStacks(), "\n\n") {
		if strings.Contains(g, "actors.(*workerDispatcher).worker(") {
			n++
		}
	}
	return n
}

// goroutineState returns the state of goroutine id ("running",
// "select", …) as a stack dump shows it, or "" if it is gone.
func goroutineState(id uint64) string {
	prefix := "goroutine " + strconv.FormatUint(id, 10) + " ["
	for g := range strings.SplitSeq(allStacks(), "\n\n") {
		if rest, ok := strings.CutPrefix(g, prefix); ok {
			state, _, _ := strings.Cut(rest, "]")
			return state
		}
	}
	return ""
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// goroutineID returns the id of the calling goroutine, from the first
// line of its stack ("goroutine 7 [running]:").
func goroutineID() uint64 {
	var buf [64]byte
	line := buf[:runtime.Stack(buf[:], false)]
	line = bytes.TrimPrefix(line, []byte("goroutine "))
	id, _, _ := bytes.Cut(line, []byte(" "))
	n, err := strconv.ParseUint(string(id), 10, 64)
	if err != nil {
		panic("unexpected stack header " + string(buf[:]))
	}
	return n
}

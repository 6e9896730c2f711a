package actors

import (
	"sync"
	"sync/atomic"
)

// dispatcherThroughput is how many messages a mailbox runs before it
// yields the goroutine, as protoactor's default dispatcher.
const dispatcherThroughput = 300

// idleWorkersPerProc bounds the idle workers per CPU. A push to many
// subscribers schedules that many mailboxes at once; enough parked
// workers take them without starting goroutines (4× faster fan-out to
// 100 sessions than with 4 per CPU), and each costs only its stack.
const idleWorkersPerProc = 64

// workerDispatcher runs actors' mailboxes on parked worker goroutines
// instead of a new goroutine per run, protoactor's default. A new
// goroutine starts with a small stack and grows it (copying it) on most
// runs, since decoding and the handlers go deep; a worker keeps its grown
// stack. Up to maxIdle workers wait for work; more are started when all
// are busy and end when idle ones are plenty.
type workerDispatcher struct {
	work    chan func() // unbuffered: a send succeeds only to a waiting worker
	quit    chan struct{}
	once    sync.Once
	idle    atomic.Int32
	maxIdle int32
}

func newWorkerDispatcher(maxIdle int) *workerDispatcher {
	return &workerDispatcher{work: make(chan func()), quit: make(chan struct{}), maxIdle: int32(maxIdle)}
}

// Schedule runs fn on an idle worker, or on a new one.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.worker(fn)
	}
}

// Throughput implements actor.Dispatcher.
func (d *workerDispatcher) Throughput() int { return dispatcherThroughput }

func (d *workerDispatcher) worker(fn func()) {
	for {
		fn()
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		select {
		case fn = <-d.work:
			d.idle.Add(-1)
		case <-d.quit:
			d.idle.Add(-1)
			return
		}
	}
}

// stop ends the idle workers; busy ones end after their run.
func (d *workerDispatcher) stop() { d.once.Do(func() { close(d.quit) }) }

package models

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Every write of a store goes through one goroutine, the
// committer, which takes what has queued up since its last commit and
// runs it all in one transaction of the store's backend: one commit, and
// one sync to disk, for every write that arrived while the previous
// commit was on disk. A lone write finds the committer waiting and
// commits at once. A group waits for company only when the commit before
// it had some, and then for no longer than that commit took (groupPace):
// its writers are likely to write again. Both stores, bbolt's
// [Store] and PostgreSQL's [PGStore], use this committer; each gives it
// a [groupBackend] that runs a function in one transaction.
//
// A write that fails without having changed anything (a conflict, a
// missing document, a refused check: the usual failures) is passed over
// and the transaction goes on. One that fails after a change rolls the
// transaction back, and it is run again without that write; each rerun
// drops one more write, so a group of n writes runs at most n+1 times and
// commits once. The writes are run again, never re-applied: a rolled back
// transaction leaves nothing behind (see [Write]). A failure of the
// transaction itself (the backend's, not a write's: a lost connection)
// fails every write still in the group.

// maxGroupWrites bounds the writes of one transaction, so that one
// commit's memory and the wait of its first write stay bounded however
// many writers queue up.
const maxGroupWrites = 1024

// commitQueue is how many Commit calls may queue for the committer before
// a caller waits to hand its writes over.
const commitQueue = 256

// groupBackend is what the committer needs of a store.
type groupBackend interface {
	// transact runs apply in one new transaction and commits it if apply
	// returns nil; then it accounts for what the transaction did (the
	// store's counts). An error of apply rolls the transaction back and
	// is returned as it is. transact may run apply again, in a new
	// transaction, when the first could not commit for a reason that a
	// rerun cures (a deadlock with another node).
	transact(apply func(tx groupTx) error) error
	// storeError gives an error of a write or of the transaction its
	// reply code.
	storeError(err error) error
}

// groupTx is a transaction of a groupBackend.
type groupTx interface {
	Tx
	// startWrite marks the start of the next write of the group.
	startWrite()
	// endWrite marks the end of the current write, which succeeded; an
	// error fails it as one of its own would.
	endWrite() error
	// changed reports whether the current write has changed anything.
	changed() bool
	// broken returns the error that ended the transaction, if one did:
	// no write can go on in it, whichever ran into it.
	broken() error
}

// commitRequest is one Commit call waiting for the committer.
type commitRequest struct {
	ctx    context.Context
	writes []Write
	errs   []error
	done   func(errs []error)
}

// errRerun rolls back a transaction in which a write failed after a
// change.
var errRerun = errors.New("models: store: rerun the group without a failed write")

// committer is the group commit of one store.
type committer struct {
	backend groupBackend
	// observe is StoreConfig.ObserveCommit.
	observe func(d time.Duration, writes int)

	commits   chan *commitRequest
	queued    atomic.Int64  // writes handed to commits and not taken yet
	submitMu  sync.RWMutex  // Submit's read lock, close's lock
	closed    chan struct{} // closed by close
	done      chan struct{} // closed when the committer has ended
	closeOnce sync.Once
}

// newCommitter starts the committer of backend.
func newCommitter(backend groupBackend, observe func(time.Duration, int)) *committer {
	c := &committer{
		backend: backend,
		observe: observe,
		commits: make(chan *commitRequest, commitQueue),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.loop()
	return c
}

// close ends the committer once the group it is committing, if any, is
// done, and refuses what is still queued or comes later.
func (c *committer) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		<-c.done
		c.submitMu.Lock()
		c.refuseQueued()
		c.submitMu.Unlock()
	})
}

// commit runs writes in one transaction, shared with the writes of other
// calls made meanwhile (see [EventLog]). It returns when that transaction
// is on disk, whatever ctx does once the writes are handed over: by then
// they may commit, and the caller must learn whether they did.
func (c *committer) commit(ctx context.Context, writes []Write) []error {
	ch := make(chan []error, 1)
	c.submit(ctx, writes, func(errs []error) { ch <- errs })
	return <-ch
}

// submit hands writes to the committer, which calls done with their
// errors (see [EventLog]).
func (c *committer) submit(ctx context.Context, writes []Write, done func(errs []error)) {
	r := &commitRequest{ctx: ctx, writes: writes, errs: make([]error, len(writes)), done: done}
	// Read-locked so that close, once the committer has ended, can
	// answer what is still queued knowing that nothing more comes.
	c.submitMu.RLock()
	defer c.submitMu.RUnlock()
	select {
	case <-c.closed:
		r.refuse(Errorf(CodeUnavailable, "store closed"))
		return
	default:
	}
	c.queued.Add(int64(len(writes)))
	select {
	case c.commits <- r:
		return
	case <-c.closed:
		r.refuse(Errorf(CodeUnavailable, "store closed"))
	case <-ctx.Done():
		r.refuse(Errorf(CodeUnavailable, "store: %w", ctx.Err()))
	}
	c.queued.Add(-int64(len(writes)))
}

func fillErrors(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// loop is the committer. It ends when the store closes, answering what
// is still queued.
func (c *committer) loop() {
	defer close(c.done)
	var group []*commitRequest
	patience := time.NewTimer(time.Hour)
	patience.Stop()
	var pace groupPace
	for {
		group = group[:0]
		n := c.gather(&group, 0)
		if n == 0 {
			select {
			case r := <-c.commits:
				group = append(group, r)
				n = c.gather(&group, c.took(r))
			case <-c.closed:
				c.refuseQueued()
				return
			}
		}
		if d := pace.wait(n, time.Now()); d > 0 {
			patience.Reset(d)
		wait:
			for n < pace.expect {
				select {
				case r := <-c.commits:
					group = append(group, r)
					n = c.gather(&group, n+c.took(r))
				case <-patience.C:
					break wait
				case <-c.closed:
					break wait
				}
			}
			patience.Stop()
		}
		start := time.Now()
		c.commitGroup(group)
		pace.committed(n, int(c.queued.Load()), start, time.Now())
		for i, r := range group {
			r.finish()
			group[i] = nil
		}
	}
}

// maxPatience bounds how long a group waits for the writers of the
// commit before it, whatever that commit took.
const maxPatience = 5 * time.Millisecond

// groupPace is how long the next group waits for company, and for how
// many writes. The writers whose commit just ended are answered now and
// are likely to write again, each about one round trip later; the next
// group waits for as many writes as they and the writers already queued
// make, for no longer than the commit just ended took (maxPatience at
// most). Without the wait, closed-loop writers (each waiting for its
// reply before writing again, as a client of a model type does) split
// into two groups that take turns, and each write waits for two commits:
// the one under way when it arrives, and its own. A lone writer expects
// only itself: its next write goes at once.
type groupPace struct {
	expect int
	until  time.Time
}

// committed sets the pace after a commit of n writes that ran from start
// to end, with queued writes waiting at its end.
func (p *groupPace) committed(n, queued int, start, end time.Time) {
	p.expect = min(n+queued, maxGroupWrites)
	p.until = end.Add(min(end.Sub(start), maxPatience))
}

// wait is how long a group of n writes, gathered at now, waits for the
// rest of the writes the pace expects; zero when it goes at once.
func (p *groupPace) wait(n int, now time.Time) time.Duration {
	if n >= p.expect {
		return 0
	}
	return max(p.until.Sub(now), 0)
}

// took accounts for r, taken from commits, and returns its writes.
func (c *committer) took(r *commitRequest) int {
	c.queued.Add(-int64(len(r.writes)))
	return len(r.writes)
}

// gather adds the queued requests to group while it holds fewer than
// maxGroupWrites writes, n so far, and returns how many it holds.
func (c *committer) gather(group *[]*commitRequest, n int) int {
	for n < maxGroupWrites {
		select {
		case r := <-c.commits:
			*group = append(*group, r)
			n += c.took(r)
		default:
			return n
		}
	}
	return n
}

// finish hands r's errors to its caller.
func (r *commitRequest) finish() { r.done(r.errs) }

// refuse answers r with err for every write, none of them run.
func (r *commitRequest) refuse(err error) { r.done(fillErrors(r.errs, err)) }

// refuseQueued answers the Commit calls still queued at close.
func (c *committer) refuseQueued() {
	for {
		select {
		case r := <-c.commits:
			r.refuse(Errorf(CodeUnavailable, "store closed"))
		default:
			return
		}
	}
}

// commitGroup runs the writes of group in one transaction and commits it,
// setting each request's errors.
func (c *committer) commitGroup(group []*commitRequest) {
	// dropped marks the writes left out of the transaction: given up
	// before their turn, or failed after a change. A write that failed
	// cleanly is run again in a rerun, since what made it fail may have
	// been a write that is now dropped.
	dropped := make([][]bool, len(group))
	writes := 0
	for i, r := range group {
		dropped[i] = make([]bool, len(r.writes))
		writes += len(r.writes)
		if err := r.ctx.Err(); err != nil {
			for j := range r.writes {
				dropped[i][j] = true
				r.errs[j] = Errorf(CodeUnavailable, "store: %w", err)
			}
		}
	}
	start := time.Now()
	for {
		err := c.backend.transact(func(tx groupTx) error {
			for i, r := range group {
				for j, w := range r.writes {
					if dropped[i][j] {
						continue
					}
					tx.startWrite()
					err := w(tx)
					if err == nil {
						err = tx.endWrite()
					}
					if r.errs[j] = nil; err == nil {
						continue
					}
					if berr := tx.broken(); berr != nil {
						return berr
					}
					r.errs[j] = c.backend.storeError(err)
					if tx.changed() {
						dropped[i][j] = true
						return errRerun
					}
				}
			}
			return nil
		})
		if err == errRerun {
			continue
		}
		if err != nil {
			err = c.backend.storeError(err)
			for i, r := range group {
				for j := range r.writes {
					if !dropped[i][j] {
						r.errs[j] = err
					}
				}
			}
			return
		}
		if c.observe != nil {
			c.observe(time.Since(start), writes)
		}
		return
	}
}

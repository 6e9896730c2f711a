package actors

import (
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// Group commit in the model actor. A change or a broadcast is not run at
// once: it is staged, and handed to the event log when the actor's
// mailbox holds no more messages (or maxStaged are staged): every request
// that was waiting behind the first one is staged too, and they commit
// in one transaction of the event log, which may share it with other
// types' (models' commit.go). A lone request finds the mailbox empty and
// is handed over at once: it waits for no one.
//
// The actor does not wait for the commit: it goes on staging, and the
// next batch joins the log's next transaction while the first is on
// disk. The log tells the actor when a commit is done (committedMsg),
// and the actor answers the batches in the order it handed them
// over: each request's event is pushed, in Seq order, and each request is
// answered, a failed one alone with its error. A request that must see
// the type as the requests before it left it (a read, a subscribe, an
// owner's check) waits, with every request behind it, until the commits
// in flight are done (barrier): each is served as if alone, in order.
//
// In the transaction each staged request runs its change, if it has one
// (the document model's: the change and its event commit together), and
// appends its event, which gets its Seq there.

// maxStaged bounds the requests one commit of a model actor holds, so
// that the first of them waits for a bounded number of others.
const maxStaged = 256

// staged is one request waiting for the next commit.
type staged struct {
	r *modelRequest
	// change is a Stager's change; nil when the event's props are msg
	// already (a broadcast, or a Go handler's reply).
	change models.Change
	event  bert.Atom
	// msg is the reply and the event's props: set by the write when the
	// request has a change.
	msg    any
	except *actor.PID
	// limit bounds the push in bytes (not positive: no limit).
	limit int
	// push and seq are the event, set by the write.
	push *pushMsg
	seq  int64
}

// stage queues st for the next commit.
func (a *modelActor) stage(ctx actor.Context, st *staged) {
	st.r.staged = true
	a.m.pending = append(a.m.pending, st)
}

// flushIfDone commits what is staged once no message waits in the
// mailbox, or once maxStaged are. It runs after every message.
func (a *modelActor) flushIfDone(ctx actor.Context) {
	m := a.m
	if len(m.pending) > 0 && (len(m.pending) >= maxStaged || mailboxDrained(m.mailbox)) {
		a.flush(ctx)
	}
}

// mailboxDrained reports whether mb holds no message to run after the
// current one. protoactor counts a message after queuing it, so the
// actor can run a message before it is counted and then see a count of
// -1: that is empty too, and no further run comes to flush what the
// message staged.
func mailboxDrained(mb actor.Mailbox) bool {
	return mb == nil || mb.UserMessageCount() <= 0
}

// inflightCommit is a batch handed to the event log, in order.
type inflightCommit struct {
	batch []*staged
	errs  []error
	done  chan struct{} // closed once errs is set
}

// committedMsg tells a model actor that a commit it handed over is done.
type committedMsg struct{}

// The waiter of a commit may tell an actor that stopped.
func (*committedMsg) IgnoreDeadLetterLogging() {}

// flush hands what is staged to the event log as one batch.
func (a *modelActor) flush(ctx actor.Context) {
	m := a.m
	batch := m.pending
	if len(batch) == 0 {
		return
	}
	m.pending = nil
	writes := make([]models.Write, len(batch))
	for i, st := range batch {
		writes[i] = a.write(st)
	}
	// The commit outlives this call: the context is released once it is
	// done, not when flush returns.
	hctx, release := a.handlerContext()
	c := &inflightCommit{batch: batch, done: make(chan struct{})}
	m.inflight = append(m.inflight, c)
	root, self := m.sys.as.Root, ctx.Self()
	m.sys.cfg.Log.Submit(hctx, writes, func(errs []error) {
		// On the committer's goroutine, which must not block: a
		// mailbox post.
		c.errs = errs
		release()
		close(c.done)
		root.Send(self, &committedMsg{})
	})
}

// committed answers the batches at the head of the commits in flight
// that are done, then serves the requests that waited for them.
func (a *modelActor) committed(ctx actor.Context) {
	m := a.m
	for len(m.inflight) > 0 {
		c := m.inflight[0]
		select {
		case <-c.done:
		default:
			return
		}
		m.inflight[0] = nil
		m.inflight = m.inflight[1:]
		a.answerCommit(ctx, c)
	}
	a.resume(ctx)
}

// answerCommit pushes the events of a committed batch and answers its
// requests.
func (a *modelActor) answerCommit(ctx actor.Context, c *inflightCommit) {
	for i, st := range c.batch {
		if err := c.errs[i]; err != nil {
			a.replyResult(ctx, st.r, nil, err)
			continue
		}
		a.publish(ctx, st.seq, st.push, st.except)
		if st.event == "broadcast" {
			a.reply(ctx, st.r, st.seq, nil)
		} else {
			a.reply(ctx, st.r, st.msg, nil)
		}
	}
}

// barrier hands over what is staged and reports whether r must wait for
// the commits in flight; if so it is kept, first in line (a request
// behind others never gets here: Receive keeps it behind them).
func (a *modelActor) barrier(ctx actor.Context, r *modelRequest) bool {
	m := a.m
	a.flush(ctx)
	if len(m.inflight) == 0 {
		return false
	}
	r.staged = true // its reservation lasts until it is served
	m.deferred = append([]*modelRequest{r}, m.deferred...)
	return true
}

// resume serves the requests that waited, in order, while no commit is
// in flight.
func (a *modelActor) resume(ctx actor.Context) {
	m := a.m
	for len(m.deferred) > 0 && len(m.inflight) == 0 {
		r := m.deferred[0]
		m.deferred[0] = nil
		m.deferred = m.deferred[1:]
		r.staged = false
		a.handle(ctx, r)
	}
}

// settle commits and answers everything the actor holds, waiting for its
// commits: for an actor about to stop.
func (a *modelActor) settle(ctx actor.Context) {
	m := a.m
	for {
		a.flush(ctx)
		if len(m.inflight) == 0 {
			return
		}
		for _, c := range m.inflight {
			<-c.done
		}
		a.committed(ctx)
	}
}

// write returns the write of st in the event log's transaction: its
// change, then its event.
func (a *modelActor) write(st *staged) models.Write {
	m := a.m
	msg := st.msg
	return func(tx models.Tx) (err error) {
		defer func() {
			// A panic here is on the store's committer: make it this
			// write's error, not the process's end.
			if p := recover(); p != nil {
				m.sys.log.Error("actors: model handler's change panicked", "model", m.name, "method", st.r.req.Method,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = fmt.Errorf("the %s handler's change panicked: %v", m.name, p)
			}
		}()
		st.msg = msg
		if st.change != nil {
			reply, err := st.change(tx)
			if err != nil {
				return err
			}
			st.msg = models.ReplyTerm(reply)
		}
		st.seq, err = tx.Append(m.name, func(seq int64) ([]byte, error) {
			return a.encodePush(st, seq)
		})
		return err
	}
}

// encodePush makes the push of st's event with Seq seq.
func (a *modelActor) encodePush(st *staged, seq int64) ([]byte, error) {
	m := a.m
	term := bert.Tuple{atomSync, st.event, m.atom, st.msg, seq}
	data, err := bert.Marshal(term)
	if err != nil {
		if st.event == "broadcast" {
			return nil, models.Errorf(models.CodeBadRequest, "the broadcast props cannot be encoded: %v", err)
		}
		// Nothing is committed: no change whose attributes no one could
		// read.
		return nil, models.Errorf(models.CodeInternal, "the %s handler's reply cannot be encoded: %v", m.name, err)
	}
	if limits.Exceeds(len(data), st.limit) {
		return nil, models.Errorf(models.CodeTooLarge, "%s of %d bytes exceeds the message limit of %d bytes", st.event, len(data), st.limit)
	}
	st.push = &pushMsg{model: m.name, data: data, term: term}
	return data, nil
}

package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// handlerContext is the context of one handler call: its parent with the
// request's deadline. context.WithTimeout would start and stop a runtime
// timer on every request (a fifth of a round trip's allocations, and
// timer-heap work on the request path) although most handlers only ask
// Err, or nothing. This one starts the timer, through
// context.WithDeadline, only when Done is called; Err compares the clock
// with the deadline until then.
type handlerContext struct {
	parent   context.Context
	deadline time.Time

	once   sync.Once
	inner  atomic.Pointer[context.Context] // set by once, when Done is first called
	cancel context.CancelFunc
}

var _ context.Context = (*handlerContext)(nil)

func newHandlerContext(parent context.Context, d time.Duration) *handlerContext {
	return &handlerContext{parent: parent, deadline: time.Now().Add(d)}
}

// Deadline returns the earlier of the request's deadline and the parent's.
func (c *handlerContext) Deadline() (time.Time, bool) {
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

func (c *handlerContext) Done() <-chan struct{} {
	c.once.Do(func() {
		inner, cancel := context.WithDeadline(c.parent, c.deadline)
		c.cancel = cancel
		c.inner.Store(&inner)
	})
	return (*c.inner.Load()).Done()
}

func (c *handlerContext) Err() error {
	if inner := c.inner.Load(); inner != nil {
		// Done was called: agree with its channel.
		return (*inner).Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *handlerContext) Value(key any) any { return c.parent.Value(key) }

// release frees the timer, if Done started one; the model actor calls it
// when the handler has returned. The context is then cancelled, as
// WithTimeout's cancel would leave it, for any goroutine the handler left
// behind.
func (c *handlerContext) release() {
	c.once.Do(func() { c.inner.Store(&releasedContext) })
	if c.cancel != nil {
		c.cancel()
	}
}

// releasedContext is what a released handlerContext that never started a
// timer reports: cancelled.
var releasedContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

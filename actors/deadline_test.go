package actors

import (
	"context"
	"errors"
	"testing"
	"time"
)

// handlerContext behaves as context.WithTimeout would, whether or not
// Done is called, and is cancelled once released.
func TestHandlerContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")

	c := newHandlerContext(parent, 20*time.Millisecond)
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline = %v", err)
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) > 20*time.Millisecond {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	if c.Value(key{}) != "v" {
		t.Fatal("Value does not reach the parent")
	}
	time.Sleep(30 * time.Millisecond)
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline, Done never called = %v", err)
	}
	c.release()

	c = newHandlerContext(parent, 20*time.Millisecond)
	select {
	case <-c.Done():
	case <-time.After(waitLimit):
		t.Fatal("Done not closed at the deadline")
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after Done = %v", err)
	}
	c.release()

	c = newHandlerContext(parent, time.Hour)
	c.release()
	select {
	case <-c.Done():
	default:
		t.Fatal("Done of a released context is open")
	}
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err of a released context = %v", err)
	}

	// The parent's earlier deadline and cancellation win.
	early, cancel := context.WithTimeout(context.Background(), time.Minute)
	c = newHandlerContext(early, time.Hour)
	if d, _ := c.Deadline(); time.Until(d) > time.Minute {
		t.Fatalf("Deadline() = %v, want the parent's", d)
	}
	cancel()
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after the parent's cancel = %v", err)
	}
	c.release()
}

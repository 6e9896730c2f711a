package gateway

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/outqueue"
)

// Every transport queues what its session sends in one [outqueue.Queue],
// bounded by [Config.MaxQueue] messages and [Config.MaxQueueSize] bytes,
// and decides itself how the bytes go out: the WebSocket writer as
// frames, long-polls one message per response, EventSource as events.

// noMessageLimit stands for an unlimited [actors.Config].MaxMessageSize
// in the transports' read arithmetic, which doubles it (a text frame's
// wire size) and leaves room for more.
const noMessageLimit = math.MaxInt / 4

// queueFrame adds f to q for the client. A full queue makes the client a
// slow consumer: the error wraps [actors.ErrSlowConsumer] and says which
// bound it passed, and the session ends.
func queueFrame(q *outqueue.Queue, f actors.Frame, transport string) error {
	err := q.Add(outqueue.Item{Data: f.Data, Text: f.Text, Shared: !f.Reply})
	if err == nil {
		return nil
	}
	if _, full := errors.AsType[*outqueue.FullError](err); full {
		return fmt.Errorf("gateway: %s: %w: %w", transport, err, actors.ErrSlowConsumer)
	}
	if errors.Is(err, outqueue.ErrClosed) {
		return fmt.Errorf("gateway: %s: %w", transport, actors.ErrTransportClosed)
	}
	return err
}

// wireText returns it as a text message carries it: its bytes as a UTF-8
// binary string, converted once for every subscriber when it is a push.
func (s *Server) wireText(it outqueue.Item) []byte {
	if it.Shared {
		return s.pushTexts.text(it.Data)
	}
	return appendBinaryString(make([]byte, 0, binaryStringLen(it.Data)), it.Data)
}

// writeDeadline is the deadline of a write that starts now, or the zero
// time (none) when [Config.WriteTimeout] is negative.
func (s *Server) writeDeadline() time.Time {
	if d := s.cfg.WriteTimeout; d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

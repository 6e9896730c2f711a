package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/models"
)

// The WebSocket transport. Each connection has one reader goroutine (the
// handler's own) and one writer goroutine; the writer is the only one to
// write data frames, and every read and write has a deadline.
//
// Oversized messages: gorilla/websocket ends the connection when a message
// exceeds its read limit, but a too-large message should get an error
// reply and leave the connection alive. So the reader takes each message
// with NextReader and reads at most the limit itself; the rest of an
// oversized message is read and thrown away, and the client gets
// {sync, error, {too_large, …}}. gorilla's own limit is set to
// discardFactor times ours, so a client cannot make the server read an
// unbounded message: beyond that the connection is closed with 1009.

const (
	// discardFactor times the wire limit is the largest message read and
	// discarded; a larger one closes the connection.
	discardFactor = 16
	// closeGracePeriod is how long, after sending a close frame, the
	// server waits for the client's close frame before dropping the TCP
	// connection (dropping at once could reset it and lose our last
	// frames in the client's receive buffer).
	closeGracePeriod = 2 * time.Second
)

// wsConn is one WebSocket client; it implements [actors.Transport].
type wsConn struct {
	srv  *Server
	conn *websocket.Conn
	sess *actors.Session

	// queue holds the outbound frames, at most Config.MaxQueue; it
	// grows with the backlog only, so an idle connection holds none.
	// ready (capacity 1) wakes the writer.
	qmu   sync.Mutex
	queue []actors.Frame
	ready chan struct{}
	// closing is closed by shutdown; reason is set before.
	closing   chan struct{}
	closeOnce sync.Once
	reason    actors.CloseReason
	// writerDone is closed when the writer goroutine returns.
	writerDone chan struct{}
}

var _ actors.Transport = (*wsConn)(nil)

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !s.track(1) {
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.track(-1)
		// Upgrade has answered with the reason (400, 405 …).
		s.log.Debug("gateway: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &wsConn{
		srv:        s,
		conn:       conn,
		ready:      make(chan struct{}, 1),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	s.addConn(c)
	// A session born during the actors' shutdown closes c at once; the
	// writer then sends a close frame and the reader ends.
	c.sess = s.sys.NewSession(c)
	go c.writePump()
	// The reader gets a goroutine of its own so that this one returns:
	// net/http then lets go of the connection's request buffers (8 KiB
	// and the request), which an idle WebSocket would otherwise keep.
	go func() {
		defer s.track(-1)
		defer s.removeConn(c)
		c.readPump()
	}()
}

// Send queues f for the writer. It fails at once when the queue is full.
func (c *wsConn) Send(f actors.Frame) error {
	select {
	case <-c.closing:
		return actors.ErrTransportClosed
	default:
	}
	c.qmu.Lock()
	if len(c.queue) >= c.srv.cfg.MaxQueue {
		c.qmu.Unlock()
		return fmt.Errorf("gateway: websocket queue of %d frames full: %w", c.srv.cfg.MaxQueue, actors.ErrSlowConsumer)
	}
	c.queue = append(c.queue, f)
	c.qmu.Unlock()
	select {
	case c.ready <- struct{}{}:
	default: // the writer is already due to wake
	}
	return nil
}

// takeQueue returns the whole backlog and empties the queue.
func (c *wsConn) takeQueue() []actors.Frame { return c.swapQueue(nil) }

// swapQueue returns the whole backlog and gives the queue next, an empty
// slice whose array the writer is done with.
func (c *wsConn) swapQueue(next []actors.Frame) []actors.Frame {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	q := c.queue
	c.queue = next
	return q
}

// keptQueueCap bounds the queue array the writer hands back for reuse.
// Reusing it spares each push to each subscriber an allocation; keeping
// only a small one keeps an idle connection small after a backlog.
const keptQueueCap = 4

// Close asks the writer to send what is queued, then a close frame, and
// to end the connection. A slow consumer is cut at once: its queue is
// dropped and a write blocked on its full socket fails now rather than at
// its deadline.
func (c *wsConn) Close(reason actors.CloseReason) {
	c.shutdown(reason)
	if reason == actors.SlowConsumer || reason == actors.TransportError {
		c.conn.NetConn().SetWriteDeadline(time.Now())
	}
}

func (c *wsConn) shutdown(reason actors.CloseReason) {
	c.closeOnce.Do(func() {
		c.reason = reason
		close(c.closing)
	})
}

// readPump reads messages until the connection fails or closes, then ends
// the session.
func (c *wsConn) readPump() {
	defer func() {
		c.shutdown(actors.ClientClosed)
		c.sess.Close()
		// Let the writer finish its close frame before the socket goes.
		<-c.writerDone
		c.conn.Close()
	}()
	cfg := &c.srv.cfg
	max := cfg.MaxMessageSize
	wireMax := 2 * max // a text frame takes up to two bytes per byte
	c.conn.SetReadLimit(int64(discardFactor) * int64(wireMax))
	c.extendReadDeadline()
	c.conn.SetPongHandler(func(string) error {
		c.extendReadDeadline()
		c.sess.Touch()
		return nil
	})
	for {
		mt, r, err := c.conn.NextReader()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
				!errors.Is(err, net.ErrClosed) {
				c.srv.log.Debug("gateway: websocket read ended", "err", err)
			}
			return
		}
		c.extendReadDeadline()
		text := mt == websocket.TextMessage
		limit := max
		if text {
			limit = wireMax
		}
		data, n, err := readAtMost(r, limit)
		if err != nil {
			c.srv.log.Debug("gateway: websocket read failed", "err", err)
			return
		}
		if n > int64(limit) {
			c.reply(text, models.CodeTooLarge, fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", n, limit))
			continue
		}
		if !text {
			c.sess.Deliver(actors.Frame{Data: data})
			continue
		}
		switch {
		case isBinaryString(data):
			b, err := decodeBinaryString(data)
			if err != nil {
				c.reply(true, models.CodeBadRequest, "BERT text frame: "+err.Error())
				continue
			}
			if len(b) > max {
				c.reply(true, models.CodeTooLarge, fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", len(b), max))
				continue
			}
			c.sess.Deliver(actors.Frame{Data: b, Text: true})
		case string(data) == "ping":
			c.control(pongFrame)
		default:
			c.reply(true, models.CodeBadRequest, `text frame is neither a BERT term (first character U+0083) nor "ping"`)
		}
	}
}

var pongFrame = actors.Frame{Data: []byte("pong"), Text: true}

// reply answers a message the gateway could not read with an error, in
// the frame type of the message. It goes through the session so that it
// keeps its place among the replies.
func (c *wsConn) reply(text bool, code models.Code, msg string) {
	c.sess.Deliver(actors.Frame{Text: text, Err: models.Errorf(code, "%s", msg)})
}

// control queues a frame the gateway answers itself. A full queue means a
// slow client; the frame is dropped and the session will cut the client
// on its next send.
func (c *wsConn) control(f actors.Frame) {
	if err := c.Send(f); err != nil {
		c.srv.log.Debug("gateway: websocket control frame dropped", "err", err)
	}
}

func (c *wsConn) extendReadDeadline() {
	select {
	case <-c.closing:
		return // the writer has set the close grace deadline
	default:
	}
	if d := c.srv.cfg.PongTimeout; d > 0 {
		c.conn.SetReadDeadline(time.Now().Add(d))
	}
}

// readBufs holds the buffers readAtMost reads small messages into.
var readBufs = sync.Pool{New: func() any { return new([readSmall]byte) }}

// readSmall is the size of a message readAtMost copies out of a pooled
// buffer; requests are mostly far smaller.
const readSmall = 512

// readAtMost reads r to its end, keeping at most limit bytes; n is the
// length of the whole message. The bytes past limit are discarded.
func readAtMost(r io.Reader, limit int) (data []byte, n int64, err error) {
	// A small message costs one allocation of its own size instead of a
	// bytes.Buffer's 512 bytes and more.
	small := readBufs.Get().(*[readSmall]byte)
	defer readBufs.Put(small)
	m, err := io.ReadFull(r, small[:min(limit+1, readSmall)])
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return bytes.Clone(small[:m]), int64(m), nil
	case err != nil:
		return nil, int64(m), err
	case m <= limit:
		// The message fills the buffer; read the rest below.
	default:
		// Already over the limit.
		rest, err := io.Copy(io.Discard, r)
		return nil, int64(m) + rest, err
	}
	var buf bytes.Buffer
	buf.Write(small[:m])
	more, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1-int64(m)))
	n = int64(m) + more
	if err != nil {
		return nil, n, err
	}
	if n <= int64(limit) {
		return buf.Bytes(), n, nil
	}
	rest, err := io.Copy(io.Discard, r)
	return nil, n + rest, err
}

// writePump writes the queued frames, pings, and finally the close frame.
// The writing is done by methods of wsWriter, so that this frame, on the
// stack of every idle connection's writer, stays small.
func (c *wsConn) writePump() {
	defer close(c.writerDone)
	cfg := &c.srv.cfg
	var tick <-chan time.Time
	if cfg.PingInterval > 0 {
		t := time.NewTicker(cfg.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	w := wsWriter{c: c}
	for {
		select {
		case <-c.ready:
			if err := w.flush(); err != nil {
				c.writeFailed(err)
				return
			}
		case <-tick:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				c.writeFailed(err)
				return
			}
		case <-c.closing:
			w.close()
			return
		}
	}
}

// wsWriter is the state of a connection's writer goroutine.
type wsWriter struct {
	c *wsConn
	// scratch holds a reply converted to a text frame's binary string.
	scratch []byte
	// spare is an empty queue array the writer is done with, handed back
	// to the queue on the next wakeup.
	spare []actors.Frame
}

// flush writes the whole backlog, which one wakeup of the writer takes.
func (w *wsWriter) flush() error {
	q := w.c.swapQueue(w.spare)
	w.spare = nil
	for _, f := range q {
		if err := w.write(f); err != nil {
			return err
		}
	}
	if cap(q) <= keptQueueCap {
		clear(q) // let the frames' bytes go
		w.spare = q[:0]
	}
	if cap(w.scratch) > 64<<10 {
		w.scratch = nil
	}
	return nil
}

func (w *wsWriter) write(f actors.Frame) error {
	c := w.c
	c.conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	mt, data := websocket.BinaryMessage, f.Data
	switch {
	case f.Text && f.TextWire != nil:
		// A push, converted once for all its subscribers.
		mt, data = websocket.TextMessage, f.TextWire
	case f.Text:
		mt = websocket.TextMessage
		w.scratch = appendBinaryString(w.scratch[:0], f.Data)
		data = w.scratch
	}
	mw, err := c.conn.NextWriter(mt)
	if err != nil {
		return err
	}
	if _, err := mw.Write(data); err != nil {
		return err
	}
	return mw.Close()
}

// close writes what is queued, unless the client is cut off, then the
// close frame.
func (w *wsWriter) close() {
	c := w.c
	if c.reason != actors.SlowConsumer && c.reason != actors.TransportError {
		for _, f := range c.takeQueue() {
			if err := w.write(f); err != nil {
				c.writeFailed(err)
				return
			}
		}
	}
	code, text := closeCode(c.reason)
	c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text),
		time.Now().Add(c.srv.cfg.WriteTimeout))
	// The reader ends on the client's close frame or this deadline.
	c.conn.SetReadDeadline(time.Now().Add(closeGracePeriod))
}

// writeFailed ends the connection after a failed write.
func (c *wsConn) writeFailed(err error) {
	c.srv.log.Debug("gateway: websocket write failed", "err", err)
	c.shutdown(actors.TransportError)
	// Wake the reader, which ends the session.
	c.conn.Close()
}

// closeCode is the WebSocket close status for a session's end.
func closeCode(r actors.CloseReason) (int, string) {
	switch r {
	case actors.ServerShutdown, actors.IdleTimeout:
		return websocket.CloseGoingAway, r.String()
	case actors.SlowConsumer:
		return websocket.ClosePolicyViolation, r.String()
	case actors.InternalError:
		return websocket.CloseInternalServerErr, r.String()
	}
	return websocket.CloseNormalClosure, ""
}

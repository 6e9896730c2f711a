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
	"golang.org/x/time/rate"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/outqueue"
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

	// queue holds the outbound frames for the writer, bounded by
	// Config.MaxQueue and MaxQueueSize; it grows with the backlog only,
	// so an idle connection holds none.
	queue outqueue.Queue
	// limiter is the connection's message rate bucket (nil: no limit);
	// only the reader uses it.
	limiter *rate.Limiter
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
	// Counted before the upgrade, so that a refusal is an HTTP answer.
	release, ok := s.admitConn(w, r)
	if !ok {
		s.track(-1)
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		s.track(-1)
		// Upgrade has answered with the reason (400, 405 …).
		s.log.Debug("gateway: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &wsConn{
		srv:        s,
		conn:       conn,
		limiter:    s.newLimiter(),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.queue.Init(s.cfg.queueLimits())
	// A session born during the actors' shutdown closes c at once; the
	// writer then sends a close frame and the reader ends.
	c.sess = s.sys.NewSession(c, identityOf(r).sessionOptions()...)
	s.addConn(c)
	go c.writePump()
	// The reader gets a goroutine of its own so that this one returns:
	// net/http then lets go of the connection's request buffers (8 KiB
	// and the request), which an idle WebSocket would otherwise keep.
	go func() {
		defer s.track(-1)
		defer release()
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
	return queueFrame(&c.queue, f, "websocket")
}

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
	max := c.srv.maxMessage
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
		if !c.srv.allowMessage(c.limiter) {
			// Answered in its place among the replies; a ping over
			// the rate goes unanswered, it has no place there.
			if !text || string(data) != "ping" {
				c.reply(text, models.CodeRateLimited, c.srv.rateLimitedMessage())
			}
			continue
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
		case <-c.queue.Ready():
			if err := w.flush(); err != nil {
				c.writeFailed(err)
				return
			}
		case <-tick:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, c.srv.writeDeadline()); err != nil {
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
	// batch is the backlog one wakeup takes; its array is reused.
	batch []outqueue.Item
}

// flush writes the whole backlog, which one wakeup of the writer takes.
func (w *wsWriter) flush() error {
	w.batch = w.c.queue.TakeAll(w.batch[:0])
	for _, it := range w.batch {
		if err := w.write(it); err != nil {
			return err
		}
	}
	clear(w.batch) // let the frames' bytes go
	if cap(w.batch) > keptBatchCap {
		w.batch = nil
	}
	if cap(w.scratch) > 64<<10 {
		w.scratch = nil
	}
	return nil
}

// keptBatchCap bounds the batch array the writer keeps between wakeups,
// so that an idle connection stays small after a backlog.
const keptBatchCap = 4

func (w *wsWriter) write(it outqueue.Item) error {
	c := w.c
	c.conn.SetWriteDeadline(c.srv.writeDeadline())
	mt, data := websocket.BinaryMessage, it.Data
	switch {
	case it.Text && it.Shared:
		mt, data = websocket.TextMessage, c.srv.pushTexts.text(it.Data)
	case it.Text:
		mt = websocket.TextMessage
		w.scratch = appendBinaryString(w.scratch[:0], it.Data)
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
		if err := w.flush(); err != nil {
			c.writeFailed(err)
			return
		}
	}
	c.queue.Close()
	code, text := closeCode(c.reason)
	c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text),
		c.srv.writeDeadline())
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
	case actors.TokenExpired:
		return closeTokenExpired, r.String()
	}
	return websocket.CloseNormalClosure, ""
}

// closeTokenExpired is the WebSocket close code of a session whose
// credentials expired (DESIGN §6), in the range for applications: 4000
// plus the HTTP status a request would get.
const closeTokenExpired = 4401

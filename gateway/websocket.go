package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/outqueue"
	"github.com/bertsync/bertsync/models"
)

// The WebSocket transport. Each connection has one reader goroutine, and
// a writer while it has frames to send: an idle connection holds no
// goroutine to write and no write buffer. The writers are the goroutines
// of a pool shared by the server's connections (wsWriters): a connection
// with frames queued waits for one in a run queue, and a worker writes the
// connection's whole backlog, then moves on. At most one worker writes to
// a connection at a time, so it is the only one to write frames but the
// pong of a client's ping (gorilla's WriteControl may run beside a data
// frame); pings are written by the writer, which the server's ping ticker
// calls for each connection. Every read and write has a deadline.
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
	// limiter is the connection's message rate bucket, made on its first
	// message (nil then means no limit); only the reader uses it.
	limiter *rate.Limiter
	limited bool
	// closing is closed by shutdown, and closed set, for the checks of
	// every frame; reason is set before.
	closing   chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	reason    actors.CloseReason
	// writing is set while a worker writes for the connection or it
	// waits for one in the run queue; it stays set once the close frame
	// is written, so that no worker writes after it.
	writing atomic.Bool
	// pingDue asks the writer for a ping (Server.startPings).
	pingDue atomic.Bool
	// writerDone is done when the last write, the close frame, is.
	writerDone sync.WaitGroup

	// The reader's state for waiting on the socket while gorilla has
	// nothing buffered (see wsNetConn): the socket and what was read
	// from it, the bytes of the frames taken, and the wait's callback.
	nc       *wsNetConn
	raw      syscall.RawConn
	consumed int64
	readable func(uintptr) bool
	// readStopped is set when a message read inside the wait ended the
	// connection.
	readStopped bool
	// closeReceived is set when the client's close frame ended it. The
	// writer reads it too: its write may fail once the client has gone
	// after its close frame.
	closeReceived atomic.Bool
	// readDone lets go of what the handler took for the connection.
	readDone func()
}

var _ actors.Transport = (*wsConn)(nil)

// wsReadBuffer is the read buffer of a connection, which it holds for
// its life: large enough for a frame header and most requests; a larger
// message is read through it or, in large reads, past it.
const wsReadBuffer = 128

// initWebSocket sets up what the WebSocket transport shares between
// connections: the upgrader and the writers.
func (s *Server) initWebSocket() {
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  wsReadBuffer,
		WriteBufferSize: 4096,
		// A pool lets connections hold no write buffer between writes;
		// pushes need none at all (prepared frames).
		WriteBufferPool: &sync.Pool{},
		// The origin is checked before the upgrade, for every transport,
		// so that a rejection carries its reason.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	s.writers = newWSWriters()
}

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
	hj := &countingHijacker{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		release()
		s.track(-1)
		// Upgrade has answered with the reason (400, 405 …).
		s.log.Debug("gateway: websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &wsConn{
		srv:     s,
		conn:    conn,
		nc:      hj.nc,
		raw:     rawConnOf(hj.nc),
		closing: make(chan struct{}),
	}
	c.queue.Init(s.cfg.queueLimits())
	c.writerDone.Add(1)
	s.startPings()
	// A session born during the actors' shutdown closes c at once; a
	// writer then sends a close frame and the reader ends.
	c.sess = s.sys.NewSession(c, identityOf(r).sessionOptions()...)
	s.addConn(c)
	// The reader gets a goroutine of its own so that this one returns:
	// net/http then lets go of the connection's request buffers (8 KiB
	// and the request), which an idle WebSocket would otherwise keep.
	c.readDone = func() {
		s.removeConn(c)
		release()
		s.track(-1)
	}
	c.readSetup()
	go c.awaitMessage()
}

// Send queues f for the writer. It fails at once when the queue is full.
// It is safe for concurrent use, with itself and with Close: the session
// queues its pushes from the goroutines of the model actors
// ([actors.PushSender]).
func (c *wsConn) Send(f actors.Frame) error {
	if c.closed.Load() {
		return actors.ErrTransportClosed
	}
	if err := queueFrame(&c.queue, f, "websocket"); err != nil {
		return err
	}
	c.kick()
	return nil
}

// SendPush queues a push, as Send; see [actors.PushSender].
func (c *wsConn) SendPush(f actors.Frame) error { return c.Send(f) }

var _ actors.PushSender = (*wsConn)(nil)

// kick gets c a writer unless it has one.
func (c *wsConn) kick() {
	if c.writing.CompareAndSwap(false, true) {
		c.srv.writers.schedule(c)
	}
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
		c.closed.Store(true)
		close(c.closing)
	})
	// A writer sends what is queued and the close frame.
	c.kick()
}

func (c *wsConn) isClosing() bool { return c.closed.Load() }

// startPings starts, with the first WebSocket, the server's pings: every
// Config.PingInterval each connection's writer is asked for one, so that
// a connection holds no timer of its own. They stop when the server's
// shutdown begins.
func (s *Server) startPings() {
	d := s.cfg.PingInterval
	if d <= 0 {
		return
	}
	s.writers.pings.Do(func() {
		go func() {
			t := time.NewTicker(d)
			defer t.Stop()
			var conns []*wsConn
			for {
				select {
				case <-s.quit:
					return
				case <-t.C:
				}
				s.mu.Lock()
				for c := range s.conns {
					conns = append(conns, c)
				}
				s.mu.Unlock()
				for _, c := range conns {
					c.pingDue.Store(true)
					c.kick()
				}
				clear(conns)
				conns = conns[:0]
			}
		}()
	})
}

// awaitMessage waits for the client's next message and reads on. It is
// the reader of an idle connection: on a plain socket it waits in a
// shallow frame (see wsNetConn) on a goroutine of its own, started when
// the reader before it found nothing more to read, so that the stack it
// holds is a new goroutine's, the smallest, not one grown by reading.
// Messages that arrive whole are read inside the wait (onReadable), which
// ends only when the connection does or a read holds more than whole
// messages. The stack that reading them grows is shrunk by the collector
// while the goroutine waits: the frames of the wait are then a small part
// of it.
func (c *wsConn) awaitMessage() {
	if c.raw != nil {
		if err := c.raw.Read(c.readable); err != nil {
			c.readEnded(err)
			c.endRead()
			return
		}
		if c.readStopped {
			c.endRead()
			return
		}
	}
	c.readMessages()
}

// readMessages reads messages until the connection fails or closes, or,
// on a plain socket, until nothing more is buffered: a new goroutine then
// waits for the next.
func (c *wsConn) readMessages() {
	for {
		if !c.readMessage() {
			c.endRead()
			return
		}
		if c.raw != nil && c.nc.in == c.consumed {
			go c.awaitMessage()
			return
		}
	}
}

// endRead ends the session once reading has stopped, lets the writer
// finish its close frame and closes the socket. After the client's close
// frame the replies to the messages before it still go out, for up to
// closeGracePeriod, before the server's close frame: a client may send a
// message and its close in one write and still read the reply (RFC 6455
// §5.5.1).
func (c *wsConn) endRead() {
	if c.closeReceived.Load() {
		c.sess.Drain()
		cut := time.AfterFunc(closeGracePeriod, c.endSession)
		defer cut.Stop()
	} else {
		c.endSession()
	}
	c.writerDone.Wait()
	c.conn.Close()
	c.readDone()
}

// endSession ends the session at once, dropping the replies in flight,
// and has the writer send the close frame.
func (c *wsConn) endSession() {
	c.shutdown(actors.ClientClosed)
	c.sess.Close()
}

// readSetup sets the read limit, deadline and control frame handlers.
func (c *wsConn) readSetup() {
	c.conn.SetReadLimit(int64(discardFactor) * int64(2*c.srv.maxMessage))
	c.extendReadDeadline()
	c.conn.SetPongHandler(func(appData string) error {
		c.consumed += controlFrameLen(appData)
		c.extendReadDeadline()
		c.sess.Touch()
		return nil
	})
	// gorilla's default close handler answers with a close frame at
	// once; the writer sends it instead, after the replies (endRead).
	c.conn.SetCloseHandler(func(int, string) error {
		c.closeReceived.Store(true)
		return nil
	})
	c.conn.SetPingHandler(func(appData string) error {
		c.consumed += controlFrameLen(appData)
		// gorilla's default handler: answer with a pong, ignoring a
		// connection already closing.
		err := c.conn.WriteControl(websocket.PongMessage, []byte(appData), c.srv.writeDeadline())
		if err == websocket.ErrCloseSent {
			return nil
		}
		if e, ok := err.(net.Error); ok && e.Timeout() {
			return nil
		}
		return err
	})
	if c.raw != nil {
		c.readable = c.onReadable
	}
}

// onReadable is the reader's wait for data (syscall.RawConn's Read):
// true once it has read what the socket has into nc's pending bytes, or
// met an end or error that NextReader is to find; false to wait. It reads
// rather than waits first, since a readiness seen before the wait began
// is not remembered.
//
// When what it read is whole messages, and no more than the socket had,
// it reads them itself and waits again, without leaving the wait: a
// readiness that comes while it reads them is remembered within one wait,
// so the next read needs no read first to find the socket empty. That
// saves a system call and a goroutine per message of a busy connection.
// A message that is not whole is left to gorilla, outside the wait, which
// may read the socket for the rest of it.
func (c *wsConn) onReadable(fd uintptr) bool {
	nc := c.nc
	for {
		if len(nc.pending) > 0 {
			return true
		}
		buf := pendingBufs.Get().(*[pendingSize]byte)
		n, ok := readSocket(fd, buf[:])
		if n <= 0 {
			pendingBufs.Put(buf)
			return ok
		}
		nc.pendingBuf, nc.pending = buf, buf[:n]
		messages, whole := wholeMessages(nc.pending)
		if !whole {
			return true
		}
		nc.inWait = true
		for i := 0; i < messages && !c.readStopped; i++ {
			c.readStopped = !c.readMessage()
		}
		nc.inWait = false
		if c.readStopped || len(nc.pending) > 0 || nc.in != c.consumed {
			// Ended, or control frames after the last message, or frames
			// counted short (see wsNetConn), which gorilla reads outside
			// the wait.
			return true
		}
		if n < pendingSize {
			return false // the socket had no more
		}
	}
}

// wholeMessages reports whether p is a run of whole frames, each data
// frame a message of its own (final, not a continuation), and how many
// data frames it holds. Whatever else a frame holds wrong is gorilla's to
// find: only the lengths matter here.
func wholeMessages(p []byte) (messages int, ok bool) {
	for len(p) > 0 {
		if len(p) < 2 {
			return 0, false
		}
		final, opcode := p[0]&0x80 != 0, p[0]&0x0f
		size, header := uint64(p[1]&0x7f), 2
		switch size {
		case 126:
			if len(p) < 4 {
				return 0, false
			}
			size, header = uint64(binary.BigEndian.Uint16(p[2:])), 4
		case 127:
			if len(p) < 10 {
				return 0, false
			}
			size, header = binary.BigEndian.Uint64(p[2:]), 10
		}
		if p[1]&0x80 != 0 {
			header += 4 // the mask
		}
		if len(p) < header || size > uint64(len(p)-header) {
			return 0, false
		}
		switch {
		case opcode >= websocket.CloseMessage: // a control frame
		case (opcode == websocket.TextMessage || opcode == websocket.BinaryMessage) && final:
			messages++
		default:
			return 0, false
		}
		p = p[header+int(size):]
	}
	return messages, true
}

// readEnded logs why the reading stopped, unless the client or the
// server closed the connection.
func (c *wsConn) readEnded(err error) {
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) &&
		!errors.Is(err, net.ErrClosed) {
		c.srv.log.Debug("gateway: websocket read ended", "err", err)
	}
}

// readMessage reads one message and hands it on; false when the
// connection is done.
func (c *wsConn) readMessage() bool {
	max := c.srv.maxMessage
	wireMax := 2 * max // a text frame takes up to two bytes per byte
	mt, r, err := c.conn.NextReader()
	if err != nil {
		c.readEnded(err)
		return false
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
		return false
	}
	c.consumed += dataFrameLen(n)
	if !c.limited {
		// Made on the first message: an idle connection holds none.
		c.limiter, c.limited = c.srv.newLimiter(), true
	}
	if !c.srv.allowMessage(c.limiter) {
		// Answered in its place among the replies; a ping over the rate
		// goes unanswered, it has no place there.
		if !text || string(data) != "ping" {
			c.reply(text, models.CodeRateLimited, c.srv.rateLimitedMessage())
		}
		return true
	}
	if n > int64(limit) {
		c.reply(text, models.CodeTooLarge, fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", n, limit))
		return true
	}
	if !text {
		c.sess.Deliver(actors.Frame{Data: data})
		return true
	}
	switch {
	case isBinaryString(data):
		b, err := decodeBinaryString(data)
		if err != nil {
			c.reply(true, models.CodeBadRequest, "BERT text frame: "+err.Error())
			return true
		}
		if len(b) > max {
			c.reply(true, models.CodeTooLarge, fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes", len(b), max))
			return true
		}
		c.sess.Deliver(actors.Frame{Data: b, Text: true})
	case string(data) == "ping":
		c.control(pongFrame)
	default:
		c.reply(true, models.CodeBadRequest, `text frame is neither a BERT term (first character U+0083) nor "ping"`)
	}
	return true
}

// The reader of an idle connection waits for data in a shallow frame, a
// syscall.RawConn's Read on a goroutine started for the wait, rather
// than inside gorilla's NextReader on the goroutine that read the last
// message: that one's stack has grown to twice the smallest size while
// reading (and the collector does not shrink a stack in use by more than
// a quarter), a new one's has not. It costs a goroutine start and a stack
// growth each time a connection goes from idle to reading.
// That is only safe while gorilla's read buffer holds nothing, or the
// reader would wait on the socket for a frame already read into it. So
// the reader counts the bytes gorilla read from the socket (wsNetConn.in)
// and those of the frames it has taken (consumed), and waits on the
// socket only when the two are equal. consumed counts each message as one
// masked frame of its length and each control frame as one of its
// payload: a message that came in several frames (or with a longer length
// encoding than needed) counts less than it took, so that the counts only
// ever err toward "something is buffered", where the reader just waits
// inside NextReader as before. A connection that is not a plain socket
// (TLS) always does.

// wsNetConn is the socket under a WebSocket connection, counting the bytes
// read from it; only the connection's reader reads.
type wsNetConn struct {
	net.Conn
	in int64
	// pending are bytes the reader's wait read from the socket, which
	// Read hands gorilla first, in pendingBuf (from pendingBufs).
	pending    []byte
	pendingBuf *[pendingSize]byte
	// inWait is set while the reader reads messages inside its wait on
	// the socket (wsConn.onReadable), which holds the socket's read lock:
	// a read of the socket then would never return.
	inWait bool
}

// errReadInWait is what a read of the socket inside the reader's wait
// gets: the frames were taken for whole and were not.
var errReadInWait = errors.New("gateway: websocket: a frame read inside the socket wait was not whole")

func (c *wsNetConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			pendingBufs.Put(c.pendingBuf)
			c.pending, c.pendingBuf = nil, nil
		}
		c.in += int64(n)
		return n, nil
	}
	if c.inWait {
		return 0, errReadInWait
	}
	n, err := c.Conn.Read(p)
	c.in += int64(n)
	return n, err
}

// pendingBufs hold what a reader's wait reads, until gorilla takes it: an
// idle connection holds none.
var pendingBufs = sync.Pool{New: func() any { return new([pendingSize]byte) }}

// pendingSize is as much as one wait reads: most requests whole.
const pendingSize = 1024

// countingHijacker gives gorilla's Upgrade a wsNetConn around the
// hijacked socket.
type countingHijacker struct {
	http.ResponseWriter
	nc *wsNetConn
}

func (h *countingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.nc = &wsNetConn{Conn: conn}
	return h.nc, brw, nil
}

// dataFrameLen is the wire size of a message of n bytes as one masked
// frame from a client: 2 bytes of header, 2 or 8 more for a length past
// 125 or 65535, the 4-byte mask and the payload.
func dataFrameLen(n int64) int64 {
	switch {
	case n > 65535:
		return 14 + n
	case n > 125:
		return 8 + n
	}
	return 6 + n
}

// controlFrameLen is the wire size of a control frame from a client whose
// payload is appData (at most 125 bytes).
func controlFrameLen(appData string) int64 { return 6 + int64(len(appData)) }

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
	if c.closed.Load() {
		return // the writer has set the close grace deadline
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

// wsWriters is the server's pool of WebSocket writers. A connection with
// frames to send goes to an idle worker, or waits in the run queue; a
// worker writes the connection's whole backlog, then takes the next from
// the run queue, or waits idle for writerLinger and ends. Workers are
// started when none is idle and there are fewer than minWriters, or the
// run queue is long for the workers there are, or it has waited
// writerStall with no worker taking from it: every worker is then blocked
// on a client that does not read (for at most Config.WriteTimeout). So a
// fan-out to thousands of connections wakes a few goroutines rather than
// one per connection, and idle connections hold none.
type wsWriters struct {
	mu sync.Mutex
	// run is the run queue, run[head:] waiting; each connection is in
	// it at most once (wsConn.writing).
	run  []*wsConn
	head int
	// idle are the idle workers' hands, each a channel of capacity 1.
	idle    []chan *wsConn
	workers int
	// lastTake is when a worker last took from run; stall fires while
	// run is not empty (stallArmed).
	lastTake   time.Time
	stall      *time.Timer
	stallArmed bool
	// pings starts the server's ping ticker once (Server.startPings).
	pings sync.Once
}

const (
	// minWriters workers are started before the run queue's length is
	// considered.
	minWriters = 4
	// writerBacklog is the run queue's length per worker past which
	// another worker starts.
	writerBacklog = 64
	// writerStall is how long the run queue may wait with no worker
	// taking from it before another worker starts.
	writerStall = 10 * time.Millisecond
	// writerLinger is how long an idle worker waits for work.
	writerLinger = time.Second
)

func newWSWriters() *wsWriters {
	p := &wsWriters{}
	p.stall = time.AfterFunc(time.Hour, p.checkStall)
	p.stall.Stop()
	return p
}

// schedule hands c, which has c.writing set, to an idle worker or puts it
// in the run queue.
func (p *wsWriters) schedule(c *wsConn) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		hand := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		hand <- c // capacity 1, and only this call sends to it
		return
	}
	p.run = append(p.run, c)
	start := p.workers < minWriters || len(p.run)-p.head > writerBacklog*p.workers
	if start {
		p.workers++
	} else if !p.stallArmed {
		p.stallArmed = true
		p.stall.Reset(writerStall)
	}
	p.mu.Unlock()
	if start {
		go p.worker()
	}
}

// checkStall starts a worker when the run queue has waited writerStall
// with no worker taking from it, and looks again while it is not empty.
func (p *wsWriters) checkStall() {
	p.mu.Lock()
	waiting := len(p.run) - p.head
	start := waiting > 0 && time.Since(p.lastTake) >= writerStall
	if start {
		p.workers++
	}
	p.stallArmed = waiting > 0
	if p.stallArmed {
		p.stall.Reset(writerStall)
	}
	p.mu.Unlock()
	if start {
		go p.worker()
	}
}

// take returns the next connection of the run queue, or nil.
func (p *wsWriters) take() *wsConn {
	if p.head == len(p.run) {
		return nil
	}
	c := p.run[p.head]
	p.run[p.head] = nil
	p.head++
	if p.head == len(p.run) {
		p.run, p.head = p.run[:0], 0
		if cap(p.run) > keptRunCap {
			p.run = nil
		}
	}
	p.lastTake = time.Now()
	return c
}

// keptRunCap bounds the run queue's array kept once it is empty.
const keptRunCap = 1024

func (p *wsWriters) worker() {
	var w wsWriter
	hand := make(chan *wsConn, 1)
	linger := time.NewTimer(writerLinger)
	defer linger.Stop()
	for {
		p.mu.Lock()
		c := p.take()
		if c == nil {
			p.idle = append(p.idle, hand)
		}
		p.mu.Unlock()
		if c == nil {
			linger.Reset(writerLinger)
			select {
			case c = <-hand:
			case <-linger.C:
				p.mu.Lock()
				if i := slices.Index(p.idle, hand); i >= 0 {
					p.idle = slices.Delete(p.idle, i, i+1)
					p.workers--
					p.mu.Unlock()
					return
				}
				p.mu.Unlock()
				c = <-hand // handed a connection as the wait ended
			}
		}
		w.serve(c)
		w.trim()
	}
}

// wsWriter is a worker's state, reused for every connection it writes
// for.
type wsWriter struct {
	// scratch holds a reply converted to a text frame's binary string.
	scratch []byte
	// batch is the backlog of one connection; its array is reused.
	batch []outqueue.Item
}

// serve writes c's backlog, or the close frame once c is closing;
// c.writing is set. What comes meanwhile puts c back at the end of the
// run queue, so that a busy connection does not keep its worker from the
// others.
func (w *wsWriter) serve(c *wsConn) {
	if c.isClosing() {
		w.close(c) // c.writing stays set: the connection is done
		return
	}
	if c.pingDue.Swap(false) {
		if err := c.conn.WriteControl(websocket.PingMessage, nil, c.srv.writeDeadline()); err != nil {
			c.writeFailed(err)
			c.finish()
			return
		}
	}
	if err := w.flush(c); err != nil {
		c.writeFailed(err)
		c.finish()
		return
	}
	c.writing.Store(false)
	// What came after the backlog was taken, and a shutdown since, found
	// c.writing set and left it to this writer.
	if (c.queue.Len() > 0 || c.isClosing()) && c.writing.CompareAndSwap(false, true) {
		c.srv.writers.schedule(c)
	}
}

// flush writes the whole backlog of c.
func (w *wsWriter) flush(c *wsConn) error {
	w.batch = c.queue.TakeAll(w.batch[:0])
	for _, it := range w.batch {
		if err := w.write(c, it); err != nil {
			clear(w.batch)
			return err
		}
	}
	clear(w.batch) // let the frames' bytes go
	return nil
}

// trim lets go of buffers a large backlog grew.
func (w *wsWriter) trim() {
	if cap(w.batch) > keptBatchCap {
		w.batch = nil
	}
	if cap(w.scratch) > 64<<10 {
		w.scratch = nil
	}
}

// keptBatchCap bounds the batch array a worker keeps between
// connections.
const keptBatchCap = 256

func (w *wsWriter) write(c *wsConn, it outqueue.Item) error {
	c.conn.SetWriteDeadline(c.srv.writeDeadline())
	if it.Shared {
		// A push: its frame is made once for every subscriber.
		pm, err := c.srv.pushTexts.frame(it.Data, it.Text)
		if err != nil {
			return err
		}
		return c.conn.WritePreparedMessage(pm)
	}
	mt, data := websocket.BinaryMessage, it.Data
	if it.Text {
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
func (w *wsWriter) close(c *wsConn) {
	defer c.finish()
	if c.reason != actors.SlowConsumer && c.reason != actors.TransportError {
		if err := w.flush(c); err != nil {
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

// finish records that c's writes are over, for the reader.
func (c *wsConn) finish() {
	c.queue.Close()
	c.writerDone.Done()
}

// writeFailed ends the connection after a failed write.
func (c *wsConn) writeFailed(err error) {
	c.srv.log.Debug("gateway: websocket write failed", "err", err)
	reason := actors.TransportError
	if c.closeReceived.Load() {
		// The client closed first and went without waiting for the
		// replies to what it sent before its close frame.
		reason = actors.ClientClosed
	}
	c.shutdown(reason)
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
	case actors.StreamGap:
		return websocket.CloseTryAgainLater, r.String()
	case actors.TokenExpired:
		return closeTokenExpired, r.String()
	}
	return websocket.CloseNormalClosure, ""
}

// closeTokenExpired is the WebSocket close code of a session whose
// credentials expired (DESIGN §6), in the range for applications: 4000
// plus the HTTP status a request would get.
const closeTokenExpired = 4401

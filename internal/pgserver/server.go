package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// readyTimeout bounds a start: initdb's cluster comes up in well under
	// a second, crash recovery after Kill in a few.
	readyTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown before the server is killed.
	stopTimeout = 60 * time.Second
	// logTailSize is how much of the server's log [Server.Log] returns.
	logTailSize = 64 << 10
	// settings are appended to postgresql.conf once, after initdb. The
	// port is given on the command line so that a start can move to
	// another one when the first pick was taken meanwhile.
	settings = `
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
`
)

// Server is a PostgreSQL server started by [Start].
type Server struct {
	// URL reaches the "postgres" database as the superuser "postgres",
	// who needs no password from 127.0.0.1.
	URL string
	// Port is the TCP port on 127.0.0.1; it stays the same across Restart.
	Port int
	// Dir is the temporary directory that holds the data directory
	// (Dir/data) and the server's log (Dir/postgres.log).
	Dir string
	// Bin is the directory of the PostgreSQL binaries used.
	Bin string

	data    string
	logPath string
	cred    *runAs
	proc    *process
}

// process is one run of the postmaster.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster has exited
	err  error         // its exit status, once done is closed
}

// errPortInUse is a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// errStillInUse is a start that failed because processes of a killed
// server have not exited yet.
var errStillInUse = errors.New("previous server still in use")

// Start starts a fresh PostgreSQL server: initdb into a new temporary
// directory, as the user nobody when this process runs as root (the
// directory chowned to it), listening on 127.0.0.1 on a free port, no
// unix socket, fsync on. ctx bounds the start only: the server runs until
// [Server.Stop]. On error nothing is left behind.
func Start(ctx context.Context) (_ *Server, err error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(os.TempDir(), "pgserver-")
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	s := &Server{Dir: dir, Bin: bin, data: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "postgres.log"), cred: cred}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, cred.uid, cred.gid); err != nil {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", s.data, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = cred.sysProcAttr(false)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgserver: initdb: %w\n%s", err, out)
	}
	if err := appendFile(filepath.Join(s.data, "postgresql.conf"), settings); err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	// A free port found by binding :0 may be taken by someone else before
	// the postmaster binds it: then try another.
	for attempt := 0; ; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
		s.URL = s.DBURL("postgres")
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == 4 {
			return nil, fmt.Errorf("pgserver: %w", err)
		}
	}
}

// Shutdown stops the server (fast shutdown: sessions are ended, work in
// progress rolled back, committed work checkpointed) and waits for it,
// keeping its data directory for [Server.Restart]. It does nothing when
// the server is not running. A server that does not stop within a minute
// is killed, and the error says so.
func (s *Server) Shutdown() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	var err error
	if serr := p.cmd.Process.Signal(syscall.SIGINT); serr != nil && !errors.Is(serr, os.ErrProcessDone) {
		err = fmt.Errorf("pgserver: stop: %w", serr)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		killGroup(p)
		<-p.done
		err = fmt.Errorf("pgserver: the server did not stop within %v and was killed", stopTimeout)
	}
	return err
}

// Stop shuts the server down and removes its directory: the end of the
// server. It may be called more than once.
func (s *Server) Stop() error {
	err := s.Shutdown()
	if s.Dir != "" {
		if rerr := os.RemoveAll(s.Dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("pgserver: %w", rerr))
		}
	}
	return err
}

// Restart shuts the server down if it runs and starts it again on the
// same port and data directory. After [Server.Kill] this is crash
// recovery.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Shutdown(); err != nil {
		return err
	}
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("pgserver: restart: %w", err)
	}
	return nil
}

// Kill crashes the server: SIGKILL of the postmaster and of every process
// it started, with no shutdown, and waits for the postmaster to exit. The
// caller may then Restart it.
func (s *Server) Kill() {
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	children := childrenOf(p.cmd.Process.Pid) // before they are orphans
	killGroup(p)
	killAndWait(children)
	<-p.done
}

// DBURL is the URL of the database name on this server, as the superuser.
func (s *Server) DBURL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, url.PathEscape(name))
}

// Log is the end of the server's log (its last 64 KiB), for error
// reports.
func (s *Server) Log() string {
	log := s.readLog(0)
	if len(log) > logTailSize {
		log = "...\n" + log[len(log)-logTailSize:]
	}
	return log
}

// LogPath is the file the server logs to.
func (s *Server) LogPath() string { return s.logPath }

// start runs the postmaster and waits until it accepts connections.
func (s *Server) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, 200*time.Millisecond) {
		err := s.startOnce(ctx)
		if !errors.Is(err, errStillInUse) {
			return err
		}
		// The processes of a killed server are exiting; their shared
		// memory goes with them.
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w after %v: %w", err, readyTimeout, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

func (s *Server) startOnce(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	offset, err := logf.Seek(0, 2)
	if err != nil {
		logf.Close()
		return err
	}
	// Not CommandContext: ctx bounds the start, not the server's life.
	cmd := exec.Command(filepath.Join(s.Bin, "postgres"), "-D", s.data, "-p", strconv.Itoa(s.Port))
	cmd.Dir = s.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so that Kill reaches every process of the
	// server; and, where the system can, no server outlives a process
	// that dies.
	cmd.SysProcAttr = s.cred.sysProcAttr(true)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("postgres: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()

	for backoff := 5 * time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
		err := ping(ctx, s.URL)
		if err == nil {
			s.proc = p
			return nil
		}
		select {
		case <-p.done:
			log := s.readLog(offset)
			switch {
			case strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use"):
				return fmt.Errorf("%w: %d", errPortInUse, s.Port)
			case strings.Contains(log, "is still in use") || strings.Contains(log, "already running"):
				return errStillInUse
			}
			return fmt.Errorf("postgres exited (%v) before accepting connections:\n%s", p.err, log)
		case <-ctx.Done():
			killGroup(p)
			<-p.done
			return fmt.Errorf("postgres did not accept connections: %w (last: %v)\n%s", ctx.Err(), err, s.readLog(offset))
		case <-time.After(backoff):
		}
	}
}

// ping connects to u once, within a second, and pings.
func ping(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func (s *Server) readLog(offset int64) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	return string(b[offset:])
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

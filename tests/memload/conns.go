package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// connsScenario has one client, 127.0.0.1, open as many WebSockets as it
// can, up to o.conns: o.firstProcs processes of this program (so that the
// client is not bound by one process's descriptor limit), each stopping
// at that limit or after o.giveUp refusals in a row, and each answering
// the server's pings as a browser would. Holding them all, it starts a
// second client, another process dialling from 127.0.0.2 (another
// address to the server), which connects and reads.
func connsScenario(s *server, o options) ([]figure, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	before, err := s.resetPeak()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	type holder struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		line  string
	}
	holders := make([]*holder, o.firstProcs)
	per := (o.conns + o.firstProcs - 1) / o.firstProcs
	var wg sync.WaitGroup
	var errs []error
	var mu sync.Mutex
	for i := range holders {
		cmd := exec.Command(self, "-hold", s.url(), "-conns", strconv.Itoa(per), "-give-up", strconv.Itoa(o.giveUp))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		h := &holder{cmd: cmd, stdin: stdin}
		holders[i] = h
		wg.Go(func() {
			line, err := bufio.NewReader(stdout).ReadString('\n')
			h.line = strings.TrimSpace(line)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("holder %d: %w", i, err))
				mu.Unlock()
			}
		})
	}
	defer func() {
		for _, h := range holders {
			h.stdin.Close() // the holder closes its connections and exits
			h.cmd.Wait()
		}
	}()
	wg.Wait()
	took := time.Since(t0)
	serverFiles := s.openFiles()
	second := runSecondClient(self, s.url())
	outcomes := map[string]int{}
	var perProc []string
	for _, h := range holders {
		perProc = append(perProc, h.line)
		for item := range strings.SplitSeq(h.line, ", ") {
			if i := strings.LastIndex(item, " "); i > 0 {
				n, _ := strconv.Atoi(item[i+1:])
				outcomes[item[:i]] += n
			}
		}
	}
	var tally []string
	for _, k := range sortedKeys(outcomes) {
		tally = append(tally, fmt.Sprintf("%s %d", k, outcomes[k]))
	}
	figs := []figure{
		s.growth("RSS growth: the first client's connections, then the second client", before, ""),
		{label: "connections the first client got", value: float64(outcomes["open"]), unit: "connections",
			answer: strings.Join(tally, ", "),
			detail: fmt.Sprintf("%d process(es): %s; in %v; the server then held %d descriptors", o.firstProcs, strings.Join(perProc, " / "), took.Round(time.Second), serverFiles)},
		{label: "second client (127.0.0.2) served", value: b2f(strings.HasPrefix(second, "served")), unit: "(1 = yes)", answer: second},
	}
	for _, err := range errs {
		figs[1].detail += "; " + err.Error()
	}
	return figs, nil
}

// holdConns is one process of the first client: it opens up to o.conns
// WebSockets from 127.0.0.1, prints what became of the attempts on one
// line, and holds the connections open, answering pings, until its stdin
// ends.
func holdConns(url string, o options) {
	var (
		mu       sync.Mutex
		conns    []*websocket.Conn
		outcomes = map[string]int{}
		attempts atomic.Int64
		inARow   atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() && attempts.Add(1) <= int64(o.conns) {
				// Small buffers: the client holds thousands of these.
				c, status, err := dialFrom(context.Background(), url, "127.0.0.1", 5*time.Second, 256)
				why := "open"
				if err != nil {
					why = refusal(status, err)
				}
				mu.Lock()
				outcomes[why]++
				if err == nil {
					conns = append(conns, c)
				}
				mu.Unlock()
				switch {
				case err == nil:
					inARow.Store(0)
					// Reading makes gorilla answer the server's pings,
					// which keeps the connection open as long as a
					// browser's would be.
					go func() {
						for {
							if _, _, err := c.ReadMessage(); err != nil {
								return
							}
						}
					}()
				case why == "EMFILE at the client":
					stop.Store(true)
				case inARow.Add(1) >= int64(o.giveUp):
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	var tally []string
	for _, k := range sortedKeys(outcomes) {
		tally = append(tally, fmt.Sprintf("%s %d", k, outcomes[k]))
	}
	fmt.Println(strings.Join(tally, ", "))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// runSecondClient runs this program again as the second client and
// returns what it says.
func runSecondClient(self, url string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, self, "-second-client", url).Output()
	if err != nil {
		return fmt.Sprintf("not run: %v %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// secondClient is the second client: it connects from 127.0.0.2 and
// reads a collection.
func secondClient(url string) string {
	t0 := time.Now()
	c, status, err := dialFrom(context.Background(), url, "127.0.0.2", 10*time.Second, 0)
	if err != nil {
		return fmt.Sprintf("not served: %s after %v", refusal(status, err), time.Since(t0).Round(100*time.Millisecond))
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, h, err := call(c, request("read", "idle", []byte{106}))
	if err != nil {
		return "connected, not served: " + err.Error()
	}
	return "served: read " + h
}

// refusal names why a dial failed, in words the same for every
// connection (no addresses or ports).
func refusal(status int, err error) string {
	msg := err.Error()
	switch {
	case status != 0:
		return fmt.Sprintf("HTTP %d", status)
	case strings.Contains(msg, "too many open files"):
		return "EMFILE at the client"
	case strings.Contains(msg, "timeout"):
		return "timeout"
	case strings.Contains(msg, "reset by peer"):
		return "reset"
	case strings.Contains(msg, "refused"):
		return "TCP refused"
	case strings.Contains(msg, "EOF"):
		return "EOF"
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/gorilla/websocket"
)

// callUsage is the help text of `bertsync call`.
const callUsage = `usage: bertsync call [flags] URL TERM...

Connects to a bertsync (or Bullet/BERT) server over WebSocket, sends each
TERM, written as Erlang term text, as one BERT message, and prints every
reply and push as Erlang text, one per line. It sends the next term once the
previous one is answered, and exits 0 once every term has its reply
({sync, ok, ...} and {sync, error, ...} alike). Pushes that arrive
meanwhile are printed as they come.

URL is ws://HOST:PORT/bullet (http:// and https:// are taken as ws:// and
wss://; a bare HOST:PORT means ws://HOST:PORT/bullet).

examples:
  bertsync call ws://127.0.0.1:8080/bullet '{sync, create, character, [{name, <<"Frodo">>}]}'
  bertsync call --listen 127.0.0.1:8080 '{sync, subscribe, character, []}'

exit status: 0 when every term got its reply (or --listen ended by an
interrupt), 1 on connection errors and timeouts, 2 on bad flags or terms.

flags:
`

// callOptions are the flags of `bertsync call`.
type callOptions struct {
	text    bool
	listen  bool
	pretty  bool
	timeout time.Duration
	profile bert.Profile
	origin  string
}

// runCall implements `bertsync call`.
func runCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts callOptions
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, callUsage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&opts.text, "text", false, "send BERT-JS style text frames (one character per byte) instead of binary frames")
	fs.BoolVar(&opts.listen, "listen", false, "after the replies, keep printing pushes until interrupted or disconnected")
	fs.BoolVar(&opts.pretty, "pretty", false, "print terms over several indented lines when they do not fit in 80 columns")
	fs.DurationVar(&opts.timeout, "timeout", 5*time.Second, "how long to wait for the connection and for each reply")
	profile := fs.String("profile", "bertjs", "encoding of the sent terms: bertjs (what BERT-JS sends) or erlang (what term_to_binary sends)")
	fs.StringVar(&opts.origin, "origin", "", "Origin header of the handshake (none by default, which servers treat as a non-browser client)")

	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if opts.profile, err = bert.ParseProfile(*profile); err != nil {
		fmt.Fprintf(stderr, "bertsync call: --profile: %v\n", err)
		return 2
	}
	if opts.timeout <= 0 {
		fmt.Fprintln(stderr, "bertsync call: --timeout must be positive")
		return 2
	}
	if len(pos) == 0 || (len(pos) == 1 && !opts.listen) {
		fmt.Fprintln(stderr, "bertsync call: need a URL and at least one TERM (or --listen)")
		fs.Usage()
		return 2
	}
	target, err := callURL(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "bertsync call: %v\n", err)
		return 2
	}
	msgs := make([][]byte, 0, len(pos)-1)
	for i, text := range pos[1:] {
		term, err := erltext.Parse(text)
		if err != nil {
			fmt.Fprintf(stderr, "bertsync call: term %d %q: %v\n", i+1, text, err)
			return 2
		}
		b, err := bert.Append(nil, term, opts.profile)
		if err != nil {
			fmt.Fprintf(stderr, "bertsync call: term %d %q: %v\n", i+1, text, err)
			return 2
		}
		msgs = append(msgs, b)
	}
	if err := call(ctx, target, msgs, opts, stdout); err != nil {
		fmt.Fprintf(stderr, "bertsync call: %v\n", err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns the latter. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// callURL turns the URL argument into a ws:// or wss:// URL.
func callURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", s, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("URL %q: scheme must be ws, wss, http or https", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q has no host", s)
	}
	if u.Path == "" {
		u.Path = "/bullet"
	}
	return u.String(), nil
}

// callMessage is one message read from the server, or the error that
// ended the connection.
type callMessage struct {
	text bool
	data []byte
	err  error
}

// call connects, sends each message in turn, printing everything received,
// and waits for one reply per message (then pushes, with --listen).
func call(ctx context.Context, target string, msgs [][]byte, opts callOptions, out io.Writer) error {
	dialer := websocket.Dialer{HandshakeTimeout: opts.timeout, Proxy: http.ProxyFromEnvironment}
	hdr := http.Header{}
	if opts.origin != "" {
		hdr.Set("Origin", opts.origin)
	}
	dctx, cancel := context.WithTimeout(ctx, opts.timeout)
	conn, resp, err := dialer.DialContext(dctx, target, hdr)
	cancel()
	if err != nil {
		if resp != nil {
			// The server's reason, such as a refused Origin, is in the body.
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if reason := strings.TrimSpace(string(body)); reason != "" {
				return fmt.Errorf("connect %s: %w (HTTP %s: %s)", target, err, resp.Status, reason)
			}
			return fmt.Errorf("connect %s: %w (HTTP %s)", target, err, resp.Status)
		}
		return fmt.Errorf("connect %s: %w", target, err)
	}
	defer conn.Close()

	// One reader goroutine; it ends when the connection is closed below.
	in := make(chan callMessage, 16)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(in)
		for {
			typ, data, err := conn.ReadMessage()
			select {
			case in <- callMessage{text: typ == websocket.TextMessage, data: data, err: err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	p := callPrinter{out: out, pretty: opts.pretty}
	for i, m := range msgs {
		typ, payload := websocket.BinaryMessage, m
		if opts.text {
			typ, payload = websocket.TextMessage, appendChars(nil, m)
		}
		conn.SetWriteDeadline(time.Now().Add(opts.timeout))
		if err := conn.WriteMessage(typ, payload); err != nil {
			return fmt.Errorf("send term %d: %w", i+1, err)
		}
		if err := p.untilReply(ctx, in, opts.timeout, i+1); err != nil {
			return err
		}
	}
	if opts.listen {
		if err := p.listen(ctx, in); err != nil {
			return err
		}
	}
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return p.err
}

// callPrinter prints what the server sends.
type callPrinter struct {
	out    io.Writer
	pretty bool
	err    error // the first message that could not be decoded
}

// untilReply prints messages until one is a reply.
func (p *callPrinter) untilReply(ctx context.Context, in <-chan callMessage, timeout time.Duration, n int) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-in:
			if !ok || m.err != nil {
				return fmt.Errorf("connection ended before the reply to term %d: %v", n, callReadError(m.err))
			}
			if p.print(m) {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("no reply to term %d within %v", n, timeout)
		case <-ctx.Done():
			return fmt.Errorf("interrupted waiting for the reply to term %d", n)
		}
	}
}

// listen prints messages until ctx ends (success) or the connection does.
func (p *callPrinter) listen(ctx context.Context, in <-chan callMessage) error {
	for {
		select {
		case m, ok := <-in:
			if !ok || m.err != nil {
				if m.err != nil && websocket.IsCloseError(m.err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
					return nil
				}
				return fmt.Errorf("connection ended: %v", callReadError(m.err))
			}
			p.print(m)
		case <-ctx.Done():
			return nil
		}
	}
}

func callReadError(err error) error {
	if err == nil {
		return errors.New("closed")
	}
	return err
}

// print writes one message and reports whether it was a reply.
func (p *callPrinter) print(m callMessage) bool {
	data := m.data
	if m.text {
		if !utf8.Valid(data) || !strings.HasPrefix(string(data), "\u0083") {
			// Not BERT: a control message such as "pong"; print it as text.
			fmt.Fprintf(p.out, "%s\n", data)
			return false
		}
		b, ok := charsToBytes(string(data))
		if !ok {
			p.fail(fmt.Errorf("text frame is not a binary string: %q", data))
			return false
		}
		data = b
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		p.fail(fmt.Errorf("undecodable message % x: %w", data, err))
		return false
	}
	var text string
	var err error
	if p.pretty {
		text, err = erltext.FormatPretty(term)
	} else {
		text, err = erltext.Format(term)
	}
	if err != nil {
		p.fail(fmt.Errorf("cannot print message % x: %w", data, err))
		return false
	}
	fmt.Fprintln(p.out, text)
	return isReply(term)
}

func (p *callPrinter) fail(err error) {
	fmt.Fprintf(p.out, "%% %v\n", err)
	if p.err == nil {
		p.err = err
	}
}

// isReply reports whether term is {sync, ok|error, _} or {sync, ok|error, _, Ref}.
func isReply(term any) bool {
	t, ok := term.(bert.Tuple)
	if !ok || (len(t) != 3 && len(t) != 4) || t[0] != bert.Atom("sync") {
		return false
	}
	return t[1] == bert.Atom("ok") || t[1] == bert.Atom("error")
}

// appendChars appends b as a BERT-JS binary string in UTF-8: one character
// U+0000..U+00FF per byte.
func appendChars(dst, b []byte) []byte {
	for _, c := range b {
		dst = utf8.AppendRune(dst, rune(c))
	}
	return dst
}

// charsToBytes is the inverse of appendChars.
func charsToBytes(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF || r == utf8.RuneError {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

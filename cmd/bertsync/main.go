// Command bertsync is the bertsync server and its tools.
//
//	bertsync serve   run the server
//	bertsync call    send terms to a server and print the replies
//	bertsync term    convert between Erlang term text and BERT bytes
//	bertsync bench   measure a running server against a baseline
//	bertsync version print the version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command runs one subcommand and returns the process exit status.
type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	commands := map[string]command{
		"serve":   runServe,
		"call":    runCall,
		"term":    runTerm,
		"bench":   runBench,
		"version": runVersion,
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bertsync: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd(ctx, args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: bertsync <command> [flags]

commands:
  serve   run the server (bertsync serve -h for flags)
  call    send Erlang-text terms to a server over WebSocket, print replies and pushes
  term    convert one term: "term decode" (BERT → Erlang text), "term encode" (text → BERT)
  bench   load a running server and print figures against a gorilla/websocket echo baseline
  version print the version: module version, VCS revision and time
`)
}

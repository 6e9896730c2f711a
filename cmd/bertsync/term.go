package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// maxTermText bounds the Erlang text "term encode" reads, as the decoder
// bounds bytes. Parsed terms take a few times the memory of their text
// (a list element is an interface value), so the bound is not larger.
const maxTermText = bert.DefaultMaxSize

const termUsage = `usage:
  bertsync term decode [--pretty]                    BERT bytes on stdin → Erlang text on stdout
  bertsync term encode [--profile erlang|bertjs]     Erlang text on stdin → BERT bytes on stdout

decode reads exactly one external-format term (it starts with byte 131)
and prints it as Erlang writes it, so that erl_parse reads it back.
encode reads one term in Erlang syntax (a final '.' is optional) and
writes it as term_to_binary would (profile erlang, the default) or as
BERT-JS decodes it (profile bertjs).
`

// runTerm converts one term between the external format and Erlang text.
func runTerm(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, termUsage)
		return 2
	}
	switch args[0] {
	case "decode":
		return termDecode(args[1:], stdin, stdout, stderr)
	case "encode":
		return termEncode(args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, termUsage)
		return 0
	}
	fmt.Fprintf(stderr, "bertsync term: unknown subcommand %q\n%s", args[0], termUsage)
	return 2
}

func termDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bertsync term decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pretty := fs.Bool("pretty", false, "print the term over several indented lines, as Erlang's ~p does")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bertsync term decode: unexpected argument %q (the term comes on stdin)\n", fs.Arg(0))
		return 2
	}
	data, err := readLimited(stdin, bert.DefaultMaxSize)
	if err != nil {
		fmt.Fprintf(stderr, "bertsync term decode: %v\n", err)
		return 1
	}
	if len(data) == 0 {
		fmt.Fprintln(stderr, "bertsync term decode: empty input: expected one external-format term (starting with byte 131) on stdin")
		return 1
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		fmt.Fprintf(stderr, "bertsync term decode: %v\n", err)
		return 1
	}
	format := erltext.Format
	if *pretty {
		format = erltext.FormatPretty
	}
	text, err := format(term)
	if err != nil {
		fmt.Fprintf(stderr, "bertsync term decode: %v\n", err)
		return 1
	}
	if _, err := io.WriteString(stdout, text+"\n"); err != nil {
		fmt.Fprintf(stderr, "bertsync term decode: writing output: %v\n", err)
		return 1
	}
	return 0
}

func termEncode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bertsync term encode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profileName := fs.String("profile", "erlang", "encoding profile: erlang (term_to_binary's forms) or bertjs (what BERT-JS decodes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bertsync term encode: unexpected argument %q (the term comes on stdin)\n", fs.Arg(0))
		return 2
	}
	profile, err := bert.ParseProfile(*profileName)
	if err != nil {
		fmt.Fprintf(stderr, "bertsync term encode: %v\n", err)
		return 2
	}
	text, err := readLimited(stdin, maxTermText)
	if err != nil {
		fmt.Fprintf(stderr, "bertsync term encode: %v\n", err)
		return 1
	}
	if len(bytes.TrimSpace(text)) == 0 {
		fmt.Fprintln(stderr, "bertsync term encode: empty input: expected one term in Erlang syntax on stdin")
		return 1
	}
	term, err := erltext.Parse(string(text))
	if err != nil {
		fmt.Fprintf(stderr, "bertsync term encode: %v\n", err)
		return 1
	}
	out, err := bert.Append(nil, term, profile)
	if err != nil {
		fmt.Fprintf(stderr, "bertsync term encode: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "bertsync term encode: writing output: %v\n", err)
		return 1
	}
	return 0
}

// errInputTooLarge reports stdin past the limit; reading stops there.
var errInputTooLarge = errors.New("input too large")

// readLimited reads all of r, failing once it passes limit bytes rather
// than buffering an unbounded stream.
func readLimited(r io.Reader, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes on stdin", errInputTooLarge, limit)
	}
	return data, nil
}

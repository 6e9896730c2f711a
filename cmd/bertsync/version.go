package main

import (
	"context"
	"fmt"
	"io"

	"github.com/bertsync/bertsync/internal/metrics"
)

// runVersion prints the binary's version, as the Go toolchain stamped it
// (docs/operations.md#version): the module version, and the VCS revision,
// its time and whether the tree was modified when the build had them.
func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "bertsync version: unexpected argument %q\n", args[0])
		return 2
	}
	fmt.Fprintln(stdout, "bertsync", metrics.ReadBuild())
	return 0
}

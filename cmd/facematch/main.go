// Command facematch runs the Face Match API and its operator commands; see `facematch help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/facematch/facematch/cli"
	"github.com/facematch/facematch/matcher"
)

func main() {
	matcher.UseFastBLAS()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "facematch:", err)
	}
	// 2 for a flag or variable that does not parse, 1 for any other failure.
	os.Exit(cli.ExitCode(err))
}

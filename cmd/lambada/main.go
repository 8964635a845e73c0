// Command lambada runs Lambada, a self-hosted AWS Lambda-compatible function
// platform: `lambada serve` starts a node, `lambada invoke` invokes a
// function as `aws lambda invoke` does, `lambada logs` prints a function's
// log lines, `lambada bench` measures a node beside its floors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lambada-dev/lambada/bench"
)

const usage = `Usage: lambada <command> [arguments]

Commands:
  serve    run a Lambada node (the Lambda API on 127.0.0.1:9001 by default)
  invoke   invoke a function, as 'aws lambda invoke' does
  logs     print a function's log lines, and follow them (--follow)
  bench    measure warm and cold invocations and a burst beside their floors

Run 'lambada <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return (&serveCommand{Stderr: stderr}).Run(ctx, args[1:])
	case "invoke":
		return (&invokeCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "logs":
		return (&logsCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "bench":
		return (&benchCommand{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case bench.FloorCommand: // hidden: `lambada bench` runs this binary as its floor server
		bench.ServeFloor()
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("lambada: unknown command %q", args[0])
}

// Package fntest lets a test binary stand in for the stashflow binary. The
// local engine runs hook and verdict steps as `stashflow fn <name> ...`, and
// under the operator's controllers in a test "stashflow" is the test binary
// itself (controllers.Config.LocalCommands defaults it to the running
// executable). A TestMain that calls Dispatch first runs the real built-in
// Function then, as `stashflow fn` would, instead of the test suite again.
package fntest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Dispatch runs `fn <name> args...` and exits when the process was started
// as a step; otherwise it returns and the tests run.
func Dispatch() {
	if len(os.Args) < 2 || os.Args[1] != "fn" {
		return
	}
	os.Exit(run(os.Args[2:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "fn: a function name is required")
		return 2
	}
	reg, err := functions.Builtin()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fn, err := reg.New(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fs := pflag.NewFlagSet(args[0], pflag.ContinueOnError)
	fn.Flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	outputDir := os.Getenv(outputs.DirEnv)
	if outputDir == "" {
		outputDir = outputs.Dir
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := step.NewEnv(os.Stderr)
	if _, err := functions.Execute(ctx, fn, env, outputDir); err != nil {
		msg, usage := functions.Fail(err, env)
		fmt.Fprintln(os.Stderr, msg)
		if usage {
			return 2
		}
		return 1
	}
	return 0
}

// Command stashflow is the one stashflow binary: the operator, the local
// runner, the Function step runtime and the user-facing commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stashflow/stashflow/internal/deathsig"
)

// Exit codes, documented in docs/cli.md.
const (
	exitOK          = 0
	exitFailed      = 1 // the run or the command failed
	exitUsage       = 2 // bad flags, arguments or input files
	exitInterrupted = 130
)

// usageError marks an error caused by how the command was called.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func main() {
	args := completerArgs(os.Args)
	// The local engine runs every step under this binary as its guard
	// (internal/deathsig): no flags, no signal handling of our own.
	if len(args) > 1 && args[1] == deathsig.GuardArg {
		os.Exit(deathsig.Guard(args[2:]))
	}
	execFn(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, args))
}

// completerName is the executable kubectl (1.26 and later) runs to complete
// the arguments of the plugin kubectl-stashflow, with those arguments.
const completerName = "kubectl_complete-stashflow"

// completerArgs turns a run as completerName into cobra's completion
// request, `stashflow __complete ARGS…`, before anything looks at the
// arguments: completing `kubectl stashflow fn …` runs no Function.
func completerArgs(args []string) []string {
	if len(args) == 0 || filepath.Base(args[0]) != completerName {
		return args
	}
	return append([]string{args[0], cobra.ShellCompRequestCmd}, args[1:]...)
}

func run(ctx context.Context, args []string) int {
	root := newRootCommand()
	// Installed as kubectl-stashflow, kubectl runs it as a plugin: help and
	// usage say "kubectl stashflow" (cobra's display name; the command's
	// name, which completion scripts use, stays stashflow).
	if strings.HasPrefix(filepath.Base(args[0]), "kubectl-") {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl stashflow"}
	}
	root.SetArgs(args[1:])
	err := root.ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command "), strings.HasPrefix(err.Error(), "required flag(s) "):
		// cobra's own unknown-command and required-flag errors carry no type.
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintf(os.Stderr, "interrupted: %v\n", err)
		return exitInterrupted
	default:
		var ce exitCoder
		if errors.As(err, &ce) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintf(os.Stderr, "error: %s\n", msg)
			}
			return ce.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return exitFailed
	}
}

// exitCoder is an error that carries its own exit code.
type exitCoder interface {
	error
	ExitCode() int
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "stashflow",
		Short:         "Backup and restore for Kubernetes, run as DAGs on Argo Workflows or locally",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = versionString()
	root.SetVersionTemplate("stashflow {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newVersionCommand())
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	// cobra's completion command, added now so that its argument check
	// is a usage error too.
	root.InitDefaultCompletionCmd()
	usageArgs(root)
	return root
}

// usageArgs makes every command's argument check a usage error (exit 2),
// as flag errors are.
func usageArgs(cmd *cobra.Command) {
	if cmd.HasParent() && cmd.HasSubCommands() && !cmd.Runnable() {
		// cobra prints the help of a group (catalog, completion) given an
		// unknown subcommand, and exits 0; it is a usage error.
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())}
			}
			return c.Help()
		}
	}
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		usageArgs(sub)
	}
}

// subcommands are registered by the files that define them (fn.go, run.go, ...).
var subcommands []func() *cobra.Command

package fncli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Exit codes of a step (docs/functions.md, the runtime contract).
const (
	ExitFailed      = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// Failure is a failed `stashflow fn`: its one-line reason, and whether the
// step was called wrongly (exit 2) rather than failed (exit 1).
type Failure struct {
	Msg   string
	Usage bool
}

func (e Failure) Error() string { return e.Msg }

// ExitCode is the step's exit code.
func (e Failure) ExitCode() int {
	if e.Usage {
		return ExitUsage
	}
	return ExitFailed
}

func usage(err error) error { return Failure{Msg: err.Error(), Usage: true} }

// NewCommand builds `fn`: one subcommand per registered Function, each
// with that Function's flags. See docs/functions.md.
func NewCommand() *cobra.Command {
	reg, regErr := functions.Builtin()
	var list bool
	var memoryLimit string
	outputDir := os.Getenv(outputs.DirEnv)
	if outputDir == "" {
		outputDir = outputs.Dir
	}
	cmd := &cobra.Command{
		Use:   "fn <function> [flags]",
		Short: "Run one Function step (the step runtime)",
		Long: `Run one Function step. Outputs are written as files into the output directory
($` + outputs.DirEnv + `, default ` + outputs.Dir + `); on failure the step exits
non-zero with a one-line reason on stderr. See docs/functions.md.`,
		RunE: func(c *cobra.Command, args []string) error {
			if regErr != nil {
				return regErr
			}
			if list {
				w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, n := range reg.Names() {
					fmt.Fprintf(w, "%s\t%s\n", n, reg.Description(n))
				}
				return w.Flush()
			}
			if len(args) == 0 {
				return usage(fmt.Errorf("a function name is required (known: %s)", strings.Join(reg.Names(), ", ")))
			}
			return usage(fmt.Errorf("unknown function %q (known: %s)", args[0], strings.Join(reg.Names(), ", ")))
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the registered Functions")
	cmd.PersistentFlags().StringVar(&outputDir, "output-dir", outputDir, "directory the outputs are written to (env "+outputs.DirEnv+")")
	cmd.PersistentFlags().StringVar(&memoryLimit, functions.MemoryLimitFlag, "",
		"the step's memory limit (e.g. 256Mi; env "+outputs.MemoryLimitEnv+"), split between this process and restic; bounded by the cgroup's; default none")
	if regErr != nil {
		return cmd
	}
	for _, name := range reg.Names() {
		fn, err := reg.New(name)
		if err != nil {
			continue
		}
		args := cobra.NoArgs
		if at, ok := fn.(step.ArgsTaker); ok && at.TakesArgs() {
			args = cobra.ArbitraryArgs
		}
		sub := &cobra.Command{
			Use:   name + " [flags]",
			Short: reg.Description(name),
			Args:  args,
			RunE: func(c *cobra.Command, _ []string) error {
				env := step.NewEnv(c.OutOrStdout())
				stop, err := step.StartCPUProfile(os.Getenv(step.CPUProfileEnv))
				if err != nil {
					return err
				}
				err = functions.ApplySchedPolicy(env)
				if err == nil {
					_, err = functions.ApplyMemoryBudget(fn, env, memoryLimit, c.Flag(functions.MemoryLimitFlag).Changed)
				}
				if err == nil {
					_, err = functions.Execute(c.Context(), fn, env, outputDir)
				}
				stop()
				if err == nil {
					return nil
				}
				msg, isUsage := functions.Fail(err, env)
				return Failure{Msg: msg, Usage: isUsage}
			},
		}
		fn.Flags(sub.Flags())
		sub.Flags().SortFlags = false
		cmd.AddCommand(sub)
	}
	return cmd
}

// Main runs `stashflow fn args...` as the stashflow-fn binary does and
// returns the exit code, with the errors and codes of `stashflow fn`.
func Main(ctx context.Context, args []string) int {
	root := &cobra.Command{Use: "stashflow", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	fn := NewCommand()
	for _, sub := range fn.Commands() {
		if check := sub.Args; check != nil {
			sub.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					return usage(err)
				}
				return nil
			}
		}
	}
	root.AddCommand(fn)
	root.SetArgs(append([]string{"fn"}, args...))
	err := root.ExecuteContext(ctx)
	var f Failure
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintf(os.Stderr, "interrupted: %v\n", err)
		return ExitInterrupted
	case errors.As(err, &f):
		fmt.Fprintf(os.Stderr, "error: %s\n", f.Msg)
		return f.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return ExitFailed
	}
}

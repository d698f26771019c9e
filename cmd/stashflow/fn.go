package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

func init() { subcommands = append(subcommands, newFnCommand) }

// fnFailure is a failed Function run: exit 1 with its one-line reason.
type fnFailure struct{ msg string }

func (e fnFailure) Error() string { return e.msg }
func (fnFailure) ExitCode() int   { return exitFailed }

// newFnCommand builds `stashflow fn`: one subcommand per registered
// Function, each with that Function's flags. See docs/functions.md.
func newFnCommand() *cobra.Command {
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
				return usageError{fmt.Errorf("a function name is required (known: %s)", strings.Join(reg.Names(), ", "))}
			}
			return usageError{fmt.Errorf("unknown function %q (known: %s)", args[0], strings.Join(reg.Names(), ", "))}
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
				_, err = functions.ApplyMemoryBudget(fn, env, memoryLimit, c.Flag(functions.MemoryLimitFlag).Changed)
				if err == nil {
					_, err = functions.Execute(c.Context(), fn, env, outputDir)
				}
				stop()
				if err == nil {
					return nil
				}
				msg, usage := functions.Fail(err, env)
				if usage {
					return usageError{fnFailure{msg}}
				}
				return fnFailure{msg}
			},
		}
		fn.Flags(sub.Flags())
		sub.Flags().SortFlags = false
		cmd.AddCommand(sub)
	}
	return cmd
}

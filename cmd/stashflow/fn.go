package main

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/fncli"
)

func init() { subcommands = append(subcommands, fncli.NewCommand) }

// fnBinary is the binary that links only the light Functions (built from
// ./cmd/stashflow-fn with the stashflow_lean tag, shipped next to this one).
const fnBinary = "stashflow-fn"

// execFn makes `stashflow fn <function> ...` exec stashflow-fn when it sits
// next to this binary and has the Function (all but functions.HeavyNames):
// the step's process then holds the pages of the Functions alone (≈ 20 MiB
// instead of ≈ 60). It returns only when it did not exec; the command then
// runs here, as it does where stashflow-fn is missing.
func execFn(args []string) {
	if len(args) < 3 || args[1] != "fn" || !lightFunction(args[2]) {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	bin := filepath.Join(filepath.Dir(exe), fnBinary)
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		return
	}
	_ = syscall.Exec(bin, append([]string{bin}, args[2:]...), os.Environ())
}

// lightFunction reports whether name is a built-in Function that
// stashflow-fn has.
func lightFunction(name string) bool {
	reg, err := functions.Builtin()
	return err == nil && slices.Contains(reg.Names(), name) && !slices.Contains(functions.HeavyNames, name)
}

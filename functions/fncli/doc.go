// Package fncli is the `stashflow fn` command: one subcommand per
// registered Function, each with that Function's flags, run through the
// Function runtime (memory budget, Validate, Run, outputs). Both binaries
// serve it: stashflow (the name users see) and stashflow-fn, a binary that
// links only the Functions, which `stashflow fn` execs when it sits next to
// it (docs/functions.md, "The stashflow-fn binary").
package fncli

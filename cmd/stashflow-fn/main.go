// Command stashflow-fn is `stashflow fn` in a binary that links only the
// Functions and their runtime (package functions/fncli): a step's own
// process then holds the pages of what it runs, not the operator's, the
// CLI's and Argo's. `stashflow fn` execs it when it sits next to the
// stashflow binary (as in the image), so users and the catalog keep
// calling `stashflow fn`. See docs/functions.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stashflow/stashflow/functions/fncli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := fncli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Command demo is `make demo`: stashflow's main job, end to end, on this
// machine and with nothing but what the Makefile built into ./bin.
//
//  1. start a throwaway etcd and write sample keys into it
//  2. back it up with `stashflow run` (the built-in etcd-backup Task) into a
//     local restic repository
//  3. list the repository's snapshots with `stashflow snapshots`
//  4. restore the snapshot into a new data dir with `stashflow run` (the
//     etcd-restore Task, datadir mode) and start a new etcd from it
//  5. verify every key and value, and clean up
//
// The manifests it writes are printed, so a reader sees exactly what a user
// would write; run it with -keep to look at them afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	keep := flag.Bool("keep", false, "keep the demo's directory (manifests, repository, logs) afterwards")
	keys := flag.Int("keys", 2000, "how many sample keys to write")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, config{keys: *keys, keep: *keep}); err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		os.Exit(1)
	}
}

// Command etcdphases times the phases of etcdutl's snapshot restore of one
// snapshot file, wall and CPU seconds each, to show where a datadir restore
// spends its time (docs/functions.md, Performance):
//
//	go run ./bench/etcdphases SNAPSHOT WORKDIR etcdutl        # etcdutl's restore as a whole (SkipHashCheck)
//	go run ./bench/etcdphases SNAPSHOT WORKDIR phases         # its steps one by one: copy, fsync, three backend opens and closes
//	go run ./bench/etcdphases SNAPSHOT WORKDIR phases-nocopy  # the same after an unmeasured copy
//	go run ./bench/etcdphases SNAPSHOT WORKDIR hash           # sha256 of the whole file
//
// SNAPSHOT is an etcd snapshot file (bench/etcd -workdir keeps one,
// snapshot.db); the restored directory goes to WORKDIR/out-MODE.
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/etcdserver/cindex"
	"go.etcd.io/etcd/server/v3/storage/backend"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"go.uber.org/zap"
)

var t0 time.Time
var cpu0 time.Duration

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func start() { t0, cpu0 = time.Now(), cpu() }
func lap(name string) {
	fmt.Printf("%-40s wall %6.3f s  cpu %6.3f s\n", name, time.Since(t0).Seconds(), (cpu() - cpu0).Seconds())
	start()
}

// must ends the program on an error: a measurement tool has no partial result.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// copyTrimmed copies the snapshot file src to db without its last 32
// bytes (the sha256 trailer), as etcdutl's restore does, and returns db
// open, not yet synced.
func copyTrimmed(src, db string) *os.File {
	in, err := os.Open(src)
	must(err)
	defer in.Close()
	o, err := os.OpenFile(db, os.O_RDWR|os.O_CREATE, 0o600)
	must(err)
	_, err = io.Copy(o, in)
	must(err)
	st, err := o.Stat()
	must(err)
	must(o.Truncate(st.Size() - 32))
	return o
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: etcdphases SNAPSHOT WORKDIR etcdutl|phases|phases-nocopy|hash")
		os.Exit(2)
	}
	src, work, mode := os.Args[1], os.Args[2], os.Args[3]
	lg := zap.NewNop()
	out := filepath.Join(work, "out-"+mode)
	must(os.RemoveAll(out))
	syscall.Sync()
	all := time.Now()
	allCPU := cpu()
	switch mode {
	case "etcdutl":
		start()
		must(snapshot.NewV3(lg).Restore(snapshot.RestoreConfig{SnapshotPath: src, Name: "default", OutputDataDir: out,
			PeerURLs: []string{"http://localhost:2380"}, InitialCluster: "default=http://localhost:2380", InitialClusterToken: "etcd-cluster", SkipHashCheck: true}))
		lap("etcdutl restore (SkipHashCheck)")
	case "hash":
		start()
		f, err := os.Open(src)
		must(err)
		h := sha256.New()
		_, err = io.Copy(h, f)
		must(err)
		_ = f.Close()
		lap("sha256 of the file")
	case "phases", "phases-nocopy":
		start()
		snapDir := filepath.Join(out, "member", "snap")
		must(os.MkdirAll(snapDir, 0o700))
		db := filepath.Join(snapDir, "db")
		o := copyTrimmed(src, db)
		if mode == "phases" {
			lap("copy (io.Copy) + truncate")
			must(o.Sync())
			lap("fsync of the copy")
			_ = o.Close()
		} else {
			// a copy made beforehand, synced: measures what remains
			must(o.Sync())
			_ = o.Close()
			lap("(prep: copy+fsync, not counted)")
		}
		be := backend.NewDefaultBackend(lg, db)
		lap("backend open 1 (MAP_POPULATE, freelist)")
		must(schema.NewMembershipBackend(lg, be).TrimMembershipFromBackend())
		lap("trim membership")
		_ = be.Close()
		lap("backend close 1 (commit, fsync)")
		be = backend.NewDefaultBackend(lg, db)
		lap("backend open 2")
		ics, _ := types.NewURLsMap("default=http://localhost:2380")
		cl, err := membership.NewClusterFromURLsMap(lg, "etcd-cluster", ics)
		must(err)
		cl.SetBackend(schema.NewMembershipBackend(lg, be))
		for _, m := range cl.Members() {
			cl.AddMember(m, true)
		}
		lap("add members")
		_ = be.Close()
		lap("backend close 2")
		be = backend.NewDefaultBackend(lg, db)
		lap("backend open 3")
		cindex.UpdateConsistentIndexForce(be.BatchTx(), 1, 1)
		_ = be.Close()
		lap("cindex + close 3")
	}
	fmt.Printf("%-40s wall %6.3f s  cpu %6.3f s\n", "TOTAL "+mode, time.Since(all).Seconds(), (cpu() - allCPU).Seconds())
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("maxrss %d MiB\n", ru.Maxrss>>10)
	b, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("loadavg %s", b)
}

// Command etcd benchmarks `stashflow fn etcd-backup` and `etcd-restore`
// against the method users would otherwise pick (Stash's: `etcdctl
// snapshot save` to a file, then `restic backup` of the file; for restore
// `restic restore` then `etcdutl snapshot restore`) and against the limits
// (the snapshot stream alone into io.Discard; `restic backup` of the same
// bytes from a file), on one etcd it starts from ./bin and fills with
// -size bytes (keys of -value-size, half random, half compressible).
//
//	go run ./bench/etcd -size 1GiB
//	go run ./bench/etcd -size 64MiB     # smoke test
//	go run ./bench/etcd -size 1GiB -repeat 3 -workdir /tmp/bw   # medians; the loaded etcd is kept for the next run
//	go run ./bench/etcd -size 1GiB -mem-limit 256MiB           # every method's step under a memory limit
//	go run ./bench/etcd -size 1GiB -repeat 3 -backup=false      # the restores only
//	go run ./bench/etcd -size 1GiB -repeat 3 -restore=false -b-env '--pipe-size=4194304'   # a lever as a variant of (b)
//	go run ./bench/etcd -size 1GiB -repeat 3 -backup=false -r-env 'GOGC=100'              # a lever as a variant of (rb)
//
// With -timeline 500ms each run also reports where each process's time went (on a
// core, waiting for one, blocked; the median round of (b) and (c2) as a
// timeline) and each process's peak file-backed RSS.
//
// Every measured run is a separate process; the report gives wall time,
// CPU seconds (the process tree's, from wait4, split between our process
// and restic by sampling /proc), the etcd server's CPU over the run, peak
// RSS of each process (VmHWM sampled from /proc), and peak temporary disk.
// Each backup goes to a fresh repository so that restic's deduplication
// does not favour later runs.
//
// With -mem-limit, each run of Stash's method and of stashflow's step is
// started in a cgroup of its own with that memory limit (a child of the
// benchmark's own cgroup, v2 or v1, removed afterwards) when this machine
// lets us make one: the kernel enforces the limit as in a container, and
// the step learns it from the cgroup. Otherwise the step is told the limit
// ($STASHFLOW_MEMORY_LIMIT) and the report compares the peaks with it. The
// report adds each run's sampled peak of the summed RSS of its processes,
// the cgroup's peak (page cache included) and its OOM kills.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/stashflow/stashflow/bench/internal/measure"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/internal/testservers"
)

const resticPassword = "bench"

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var (
		sizeFlag  = flag.String("size", "1GiB", "bytes of values to load into etcd (e.g. 64MiB, 1GiB)")
		valueFlag = flag.String("value-size", "100KiB", "size of each value")
		workdir   = flag.String("workdir", "", "directory for etcd, repositories and temporary files (default: a new one under $TMPDIR, removed afterwards)")
		gogc      = flag.Bool("gogc-variant", true, "also run (a)'s restic with GOGC="+restic.BackupGOGC+", as (b) runs it")
		restore   = flag.Bool("restore", true, "also measure the restores")
		backup    = flag.Bool("backup", true, "measure the backups (false: one unmeasured etcd-backup writes the snapshot, then only the restores are measured)")
		repeat    = flag.Int("repeat", 1, "rounds of the backup runs, then of the restores (each interleaved); rows show the median round")
		jsonOut   = flag.String("json", "", "also write the results as JSON to this file")
		memLimit  = flag.String("mem-limit", "", "run every method's step under this memory limit (e.g. 256MiB), in a cgroup when one can be made")
		lean      = flag.Bool("lean", true, "build stashflow-fn next to stashflow, as in the image (false: `stashflow fn` runs in the full binary)")
		timeline  = flag.Duration("timeline", 0, "cut each run into stretches this long and report where each process's time went (0: off; reading every thread's schedstat every 20 ms takes ≈ 0.3 of the 2 cores and slows (b) by ≈ 20 %, so leave it off for the ratios)")
		bEnv      = flag.String("b-env", "", "extra runs of (b) with these environments, ';'-separated, each KEY=VALUE[,KEY=VALUE] (e.g. GOGC=100;GOGC=off); an item starting with -- is a flag for etcd-backup instead (e.g. --pipe-size=4194304)")
		rEnv      = flag.String("r-env", "", "extra runs of (rb) in each restore round, as -b-env (an item starting with -- is a flag for etcd-restore)")
	)
	flag.Parse()
	size, err := measure.ParseSize(*sizeFlag)
	if err != nil {
		fatal(fmt.Errorf("-size: %w", err))
	}
	valueSize, err := measure.ParseSize(*valueFlag)
	if err != nil || valueSize <= 0 {
		fatal(fmt.Errorf("-value-size: %w", err))
	}
	b, err := newBench(*workdir, *lean)
	if err != nil {
		fatal(err)
	}
	b.timeline = *timeline
	defer b.close()
	if *repeat < 1 {
		fatal(errors.New("-repeat: at least 1"))
	}
	if *memLimit != "" {
		if b.memLimit, err = measure.ParseSize(*memLimit); err != nil || b.memLimit <= 0 {
			fatal(fmt.Errorf("-mem-limit: %q is not a size", *memLimit))
		}
		if b.cgroups, err = measure.NewCgroups(b.memLimit); err != nil {
			measure.Logf("the limit is not enforced (no cgroup): %v", err)
		}
	}
	o := options{repeat: *repeat, gogcVariant: *gogc, restore: *restore, backup: *backup, jsonOut: *jsonOut,
		bEnv: parseVariants(*bEnv), rEnv: parseVariants(*rEnv)}
	if err := b.run(size, valueSize, o); err != nil {
		b.close() // fatal exits without the deferred close: stop etcd first
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type bench struct {
	root, bin, dir string
	ownDir         bool
	stashflow      string
	self           string
	etcd           *testservers.Etcd
	endpoint       string
	// memLimit is -mem-limit (0: none); cgroups enforces it (nil: not).
	memLimit int64
	cgroups  *measure.Cgroups
	// timeline is -timeline: each run's stretches (0: none).
	timeline time.Duration
}

func newBench(workdir string, lean bool) (*bench, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	b := &bench{root: root, bin: filepath.Join(root, "bin")}
	for _, tool := range []string{"etcd", "restic"} {
		if _, err := os.Stat(filepath.Join(b.bin, tool)); err != nil {
			return nil, fmt.Errorf("%s missing from %s: run make tools", tool, b.bin)
		}
	}
	if workdir == "" {
		if b.dir, err = os.MkdirTemp("", "stashflow-bench-etcd-"); err != nil {
			return nil, err
		}
		b.ownDir = true
	} else {
		b.dir = workdir
		if err := os.MkdirAll(workdir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Setenv("PATH", b.bin+":"+os.Getenv("PATH")); err != nil {
		return nil, err
	}
	b.self, err = os.Executable()
	if err != nil {
		return nil, err
	}
	measure.Logf("building stashflow")
	// stashflow-fn next to it, as in the image: `stashflow fn` execs it.
	if b.stashflow, err = repo.BuildStashflow(b.dir); err != nil {
		return nil, err
	}
	if !lean {
		if err := os.Remove(filepath.Join(b.dir, repo.FnBinary)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *bench) close() {
	if b.etcd != nil {
		b.etcd.Stop()
	}
	if b.ownDir {
		_ = os.RemoveAll(b.dir)
	}
}

// startEtcd starts one member (the tests' etcd starter) with a quota large
// enough for size.
func (b *bench) startEtcd(size int64) error {
	e, err := testservers.NewEtcd(filepath.Join(b.dir, "etcd"), 1, nil)
	if err != nil {
		return err
	}
	quota := max(int64(2)<<30, 3*size)
	e.Extra = []string{"--quota-backend-bytes", strconv.FormatInt(quota, 10)}
	if err := e.Launch(); err != nil {
		return err
	}
	b.etcd, b.endpoint = e, e.Members[0].ClientURL
	// A loaded 1 GiB member takes long to start on a busy machine.
	return e.Serve(2 * time.Minute)
}

func (b *bench) client() (*clientv3.Client, error) { return b.etcd.NewClient() }

// load writes size bytes as values of valueSize: even keys random, odd keys
// compressible.
func (b *bench) load(size, valueSize int64) (int, error) {
	cli, err := b.client()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	n := int(max(1, size/valueSize))
	perTxn := int(max(1, (1<<20)/valueSize))
	var g errgroup.Group
	g.SetLimit(4)
	for start := 0; start < n; start += perTxn {
		g.Go(func() error {
			var ops []clientv3.Op
			for i := start; i < min(n, start+perTxn); i++ {
				v := make([]byte, valueSize)
				if i%2 == 0 {
					_, _ = rand.Read(v)
				} else {
					copy(v, strings.Repeat(fmt.Sprintf("compressible value %d ", i), int(valueSize)/20+1))
				}
				ops = append(ops, clientv3.OpPut(fmt.Sprintf("/bench/%08d", i), string(v)))
			}
			_, err := cli.Txn(context.Background()).Then(ops...).Commit()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	st, err := cli.Status(context.Background(), b.endpoint)
	if err != nil {
		return 0, err
	}
	measure.Logf("etcd holds %d keys, database %d MiB", n, st.DbSize>>20)
	return n, nil
}

// count returns the number of keys in etcd.
func (b *bench) count() (int, error) {
	cli, err := b.client()
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return int(resp.Count), nil
}

// newRepo initialises a fresh local repository and returns its environment.
func (b *bench) newRepo(name string) ([]string, error) {
	dir := filepath.Join(b.dir, "repo-"+name)
	for _, d := range []string{dir, filepath.Join(b.dir, "cache-"+name)} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	env := append(os.Environ(), "RESTIC_REPOSITORY="+dir, "RESTIC_PASSWORD="+resticPassword,
		"RESTIC_CACHE_DIR="+filepath.Join(b.dir, "cache-"+name))
	cmd := exec.Command("restic", "init", "--json")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("restic init: %w: %s", err, out)
	}
	return env, nil
}

func (b *bench) etcdCPU() time.Duration {
	return measure.ServerCPU(b.etcd.Members[0].Pid())
}

// measure runs cmd as one measured step.
func (b *bench) measure(name string, cmd *exec.Cmd, tmpDirs ...string) (*measure.Result, error) {
	// Start every run without dirty pages of the previous one being
	// written back under it.
	syscall.Sync()
	return b.measureNext(name, cmd, tmpDirs...)
}

// measureNext measures the second step of a two-step method (Stash's
// `restic backup` after the snapshot save, etcdutl's restore after `restic
// restore`) right after the first, as a script runs them: no sync in
// between, so the first step's writes are flushed while the second runs,
// as they are inside stashflow's one step.
func (b *bench) measureNext(name string, cmd *exec.Cmd, tmpDirs ...string) (*measure.Result, error) {
	etcdBefore := b.etcdCPU()
	r, err := b.runIn(nil, name, cmd, tmpDirs...)
	if r != nil {
		r.ServerCPU = b.etcdCPU() - etcdBefore
	}
	return r, err
}

// measureStep measures a step of a method (Stash's or ours) under
// -mem-limit: in a cgroup of its own when there is one, else told the
// limit through the environment (stashflow fn reads it; restic and the
// snapshot client ignore it). next: as measureNext, no sync before.
func (b *bench) measureStep(name string, cmd *exec.Cmd, next bool, tmpDirs ...string) (*measure.Result, error) {
	if !next {
		syscall.Sync()
	}
	var cg *measure.Cgroup
	switch {
	case b.memLimit > 0 && b.cgroups != nil:
		var err error
		if cg, err = b.cgroups.Create(); err != nil {
			return nil, err
		}
	case b.memLimit > 0:
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, "STASHFLOW_MEMORY_LIMIT="+strconv.FormatInt(b.memLimit, 10))
	}
	etcdBefore := b.etcdCPU()
	r, err := b.runIn(cg, name, cmd, tmpDirs...)
	if cg != nil {
		err = errors.Join(err, cg.Remove())
	}
	if r != nil {
		r.ServerCPU = b.etcdCPU() - etcdBefore
	}
	return r, err
}

type results struct {
	SizeBytes     int64
	Keys          int
	SnapshotBytes int64
	Rounds        int
	Rows          []*measure.Result
	// AllRounds is every round of each backup row, in order: CPU-seconds
	// compared over all rounds, not only the median's.
	AllRounds   map[string][]*measure.Result `json:",omitempty"`
	Ratios      map[string]float64
	CPUBoundSec float64
	MaxLimitSec float64
	// MemLimit is -mem-limit in bytes; Enforced says a cgroup held it.
	MemLimit int64
	Enforced bool
	// Timeline is -timeline (0: the runs have no timelines).
	Timeline time.Duration
	Targets  map[string]string
	LoadAvg  string // at the end of the run

	// restic's serial start in (c2) and (b), and the floor it sets: the
	// start plus the rest of the bound's CPU over 2 cores.
	ResticStartSec, ResticStartCPUSec, BResticStartSec, FloorSec float64
}

type options struct {
	repeat      int
	gogcVariant bool
	restore     bool
	backup      bool
	jsonOut     string
	bEnv        [][]string // variants of (b): -b-env
	rEnv        [][]string // variants of (rb): -r-env
}

// parseVariants splits a -b-env or -r-env value: ';' between variants,
// ',' between the items of one.
func parseVariants(s string) [][]string {
	var variants [][]string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			variants = append(variants, strings.Split(v, ","))
		}
	}
	return variants
}

// splitExtra splits a variant's items into flags (starting with --) and
// environment entries.
func splitExtra(extra []string) (flags, env []string) {
	for _, e := range extra {
		if strings.HasPrefix(e, "--") {
			flags = append(flags, e)
		} else {
			env = append(env, e)
		}
	}
	return flags, env
}

func (b *bench) run(size, valueSize int64, o options) error {
	_, statErr := os.Stat(filepath.Join(b.dir, "etcd"))
	reuse := statErr == nil
	// Leftovers of an earlier run in the same -workdir.
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case "etcd", "etcd.log", "stashflow", repo.FnBinary, "stashflow-guard":
		default:
			if err := os.RemoveAll(filepath.Join(b.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := b.startEtcd(size); err != nil {
		return err
	}
	var keys int
	if reuse {
		if keys, err = b.count(); err != nil {
			return err
		}
		measure.Logf("reusing the etcd data in %s (%d keys)", b.dir, keys)
	} else {
		measure.Logf("loading %d MiB into etcd", size>>20)
		start := time.Now()
		if keys, err = b.load(size, valueSize); err != nil {
			return err
		}
		measure.Logf("loaded in %v", time.Since(start).Round(time.Millisecond))
	}
	res := &results{SizeBytes: size, Keys: keys, Rounds: o.repeat, Ratios: map[string]float64{}, Targets: map[string]string{},
		MemLimit: b.memLimit, Enforced: b.cgroups != nil, Timeline: b.timeline}
	snapFile := filepath.Join(b.dir, "snapshot.db")

	// Warm the server's page cache and the code paths once.
	if _, err := b.runIn(nil, "warm-up", b.childCmd("discard", b.endpoint)); err != nil {
		return err
	}

	if !o.backup {
		// Only the restores: one etcd-backup, not reported, writes the
		// snapshot they restore.
		if !o.restore {
			return errors.New("-backup=false: needs -restore")
		}
		_, snapID, err := b.backupB("(b) etcd-backup, the restores' snapshot", "b", nil)
		if err != nil {
			return err
		}
		if snapID == "" {
			return errors.New("etcd-backup wrote no snapshot")
		}
		if size, err := os.ReadFile(filepath.Join(b.dir, "out-b", "size")); err == nil {
			res.SnapshotBytes, _ = strconv.ParseInt(strings.TrimSpace(string(size)), 10, 64)
		}
		if err := b.runRestores(o.repeat, snapID, o.rEnv, res); err != nil {
			return err
		}
		return b.finish(res, o)
	}

	// The backup runs, interleaved, o.repeat times; each row reports its
	// median round (by wall time).
	rounds := map[string][]*measure.Result{}
	var order []string
	add := func(r *measure.Result) {
		if _, ok := rounds[r.Name]; !ok {
			order = append(order, r.Name)
		}
		rounds[r.Name] = append(rounds[r.Name], r)
	}
	var snapID string
	for round := range o.repeat {
		measure.Logf("round %d of %d", round+1, o.repeat)
		// (a) Stash's method: snapshot to a file, then restic backup of
		// the file (restic as Stash runs it: its default GOGC).
		saveA, err := b.measureStep("a1 snapshot save → file", b.childCmd("save", b.endpoint, snapFile), false)
		if err != nil {
			return err
		}
		st, err := os.Stat(snapFile)
		if err != nil {
			return err
		}
		res.SnapshotBytes = st.Size()
		envA, err := b.newRepo("a")
		if err != nil {
			return err
		}
		backupA, err := b.measureStep("a2 restic backup file", b.resticCmd(envA, "", "backup", "--json", "--host", "bench", snapFile), true)
		if err != nil {
			return err
		}
		saveA.TempPeak, backupA.TempPeak = st.Size(), st.Size()
		add(saveA)
		add(backupA)
		add(measure.Sum(rowA, saveA, backupA))
		if o.gogcVariant {
			envA2, err := b.newRepo("a-gogc")
			if err != nil {
				return err
			}
			backupA2, err := b.measureStep("a2' restic backup file, GOGC="+restic.BackupGOGC, b.resticCmd(envA2, restic.BackupGOGC, "backup", "--json", "--host", "bench", snapFile), false)
			if err != nil {
				return err
			}
			backupA2.TempPeak = st.Size()
			add(backupA2)
			add(measure.Sum("(a') a1 + a2'", saveA, backupA2))
		}

		// (b) stashflow fn etcd-backup; TMPDIR watched for temporary files;
		// then its variants (-b-env).
		for i, extra := range append([][]string{nil}, o.bEnv...) {
			name := rowB
			if i > 0 {
				name += " " + strings.Join(extra, " ")
			}
			repoName := "b"
			if i > 0 {
				repoName = fmt.Sprintf("b%d", i)
			}
			bRes, id, err := b.backupB(name, repoName, extra)
			if err != nil {
				return err
			}
			add(bRes)
			if id != "" && i == 0 {
				snapID = id
			}
		}

		// (c) the limits.
		c1, err := b.measure(rowC1, b.childCmd("discard", b.endpoint))
		if err != nil {
			return err
		}
		envC, err := b.newRepo("c")
		if err != nil {
			return err
		}
		c2, err := b.measure(rowC2, b.resticCmd(envC, restic.BackupGOGC, "backup", "--json", "--host", "bench", snapFile))
		if err != nil {
			return err
		}
		add(c1)
		add(c2)
	}
	res.AllRounds = rounds
	med := map[string]*measure.Result{}
	for _, name := range order {
		med[name] = measure.Median(rounds[name])
		res.Rows = append(res.Rows, med[name])
	}
	a, bRes, c1, c2 := med[rowA], med[rowB], med[rowC1], med[rowC2]

	if o.restore && snapID != "" {
		if err := b.runRestores(o.repeat, snapID, o.rEnv, res); err != nil {
			return err
		}
	}

	// Ratios and the targets in force (DESIGN.md): b/floor ≤ 1.10 (≈ 0.60×
	// Stash's method, which b/a shows), datadir restore ≤ 0.5× restic
	// restore + etcdutl, step peak ≤ 160 MiB (under a limit: under it),
	// our process ≤ 32 MiB, no temporary disk.
	res.CPUBoundSec = (c1.ServerCPU + c1.CPU + c2.CPU).Seconds() / 2
	if r := c2.Procs["restic"]; r != nil && r.Serial > 0 {
		// restic reads nothing before it has derived the key, locked the
		// repository and loaded the index; that start is serial in (b) too,
		// since the stream cannot run ahead of it (the RSS target).
		res.ResticStartSec, res.ResticStartCPUSec = r.Serial.Seconds(), r.SerialCPU.Seconds()
		res.FloorSec = res.ResticStartSec + (c1.ServerCPU+c1.CPU+c2.CPU-r.SerialCPU).Seconds()/2
		res.Ratios["b/floor"] = bRes.Wall.Seconds() / res.FloorSec
		res.Targets["b/floor ≤ 1.10"] = verdict(res.Ratios["b/floor"] <= 1.10)
	}
	if r := bRes.Procs["restic"]; r != nil {
		res.BResticStartSec = r.Serial.Seconds()
	}
	res.MaxLimitSec = max(c1.Wall, c2.Wall).Seconds()
	res.Ratios["b/a"] = bRes.Wall.Seconds() / a.Wall.Seconds()
	res.Ratios["b/max(c)"] = bRes.Wall.Seconds() / res.MaxLimitSec
	res.Ratios["b/cpu-bound"] = bRes.Wall.Seconds() / res.CPUBoundSec
	res.Targets["temp disk of (b) = 0"] = verdict(bRes.TempPeak == 0)
	ours := bRes.Procs["stashflow-fn"] // exec'd by stashflow fn
	if ours == nil {
		ours = bRes.Procs["stashflow"]
	}
	res.Targets["stashflow RSS ≤ 32 MiB"] = verdict(ours != nil && ours.HWM <= 32<<20)
	if b.memLimit > 0 {
		res.Targets["(b) step ≤ -mem-limit, no OOM kill"] = verdict(bRes.Failed == "" && bRes.OOMKills == 0 && bRes.StepPeak <= b.memLimit)
	} else {
		res.Targets["(b) step peak RSS ≤ 160 MiB"] = verdict(bRes.StepPeak <= 160<<20)
	}
	return b.finish(res, o)
}

// finish reports res (and writes it as JSON with -json).
func (b *bench) finish(res *results, o options) error {
	res.LoadAvg = measure.LoadAvg()
	report(os.Stdout, res)
	if o.jsonOut != "" {
		data, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonOut, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runRestores measures the restores of snapID, rounds times interleaved:
// datadir mode (and its variants, -r-env) against restic restore +
// etcdutl snapshot restore.
func (b *bench) runRestores(rounds int, snapID string, variants [][]string, res *results) error {
	// Restore: datadir mode vs restic restore + etcdutl snapshot
	// restore, as many rounds as the backups, interleaved.
	envB := append(os.Environ(), "RESTIC_REPOSITORY="+filepath.Join(b.dir, "repo-b"), "RESTIC_PASSWORD="+resticPassword,
		"RESTIC_CACHE_DIR="+filepath.Join(b.dir, "cache-b"))
	tmpR := filepath.Join(b.dir, "tmp-r")
	if err := os.MkdirAll(tmpR, 0o755); err != nil {
		return err
	}
	restoredDir := filepath.Join(b.dir, "restore-a-files")
	const rowRB, rowRA1, rowRA2, rowRA = "(rb) stashflow fn etcd-restore --mode datadir", "(ra1) restic restore", "(ra2) etcdutl snapshot restore", "(ra) ra1 + ra2"
	restores := map[string][]*measure.Result{}
	for round := range rounds {
		measure.Logf("restore round %d of %d", round+1, rounds)
		for _, dir := range []string{filepath.Join(b.dir, "restore-b"), filepath.Join(b.dir, "restore-a"), restoredDir} {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		}
		var rBs []*measure.Result
		for i, extra := range append([][]string{nil}, variants...) {
			dataDir := filepath.Join(b.dir, "restore-b")
			if err := os.RemoveAll(dataDir); err != nil {
				return err
			}
			flags, env := splitExtra(extra)
			args := append([]string{"fn", "etcd-restore", "--mode", "datadir", "--snapshot", snapID,
				"--data-dir", dataDir, "--interim-dir", tmpR}, flags...)
			cmdR := exec.Command(b.stashflow, args...)
			cmdR.Env = append(append(envB, "TMPDIR="+tmpR, "STASHFLOW_OUTPUT_DIR="+filepath.Join(b.dir, "out-r")), env...)
			rB, err := b.measure(rbRow(rowRB, i, extra), cmdR, tmpR)
			if err != nil {
				return err
			}
			rBs = append(rBs, rB)
		}
		rA1, err := b.measure(rowRA1, b.resticCmd(envB, "", "restore", snapID, "--target", restoredDir, "--json"), restoredDir)
		if err != nil {
			return err
		}
		rA2, err := b.measureNext(rowRA2, b.childCmd("etcdutl-restore", filepath.Join(restoredDir, "etcd.snapshot"), filepath.Join(b.dir, "restore-a")))
		if err != nil {
			return err
		}
		rA2.TempPeak = rA1.TempPeak
		for _, r := range append(rBs, rA1, rA2, measure.Sum(rowRA, rA1, rA2)) {
			restores[r.Name] = append(restores[r.Name], r)
		}
	}
	rmed := map[string]*measure.Result{}
	var names []string
	for i, extra := range append([][]string{nil}, variants...) {
		names = append(names, rbRow(rowRB, i, extra))
	}
	for _, name := range append(names, rowRA1, rowRA2, rowRA) {
		rmed[name] = measure.Median(restores[name])
		res.Rows = append(res.Rows, rmed[name])
	}
	ratio := rmed[rowRB].Wall.Seconds() / rmed[rowRA].Wall.Seconds()
	res.Ratios["restore b/a"] = ratio
	res.Targets["restore b/a ≤ 0.5"] = verdict(ratio <= 0.5)
	for i, name := range names[1:] {
		res.Ratios[fmt.Sprintf("restore b%d/a", i+1)] = rmed[name].Wall.Seconds() / rmed[rowRA].Wall.Seconds()
	}
	return nil
}

// rbRow names (rb)'s row, or its i-th variant's.
func rbRow(row string, i int, extra []string) string {
	if i == 0 {
		return row
	}
	return fmt.Sprintf("%s [b%d: %s]", row, i, strings.Join(extra, " "))
}

// backupB runs (b), stashflow fn etcd-backup, with extra environment and
// flags (items of extra starting with --), and returns the snapshot id it
// wrote ("" when it failed under the limit).
func (b *bench) backupB(name, repoName string, extra []string) (*measure.Result, string, error) {
	envB, err := b.newRepo(repoName)
	if err != nil {
		return nil, "", err
	}
	tmpB := filepath.Join(b.dir, "tmp-b")
	if err := os.MkdirAll(tmpB, 0o755); err != nil {
		return nil, "", err
	}
	outB := filepath.Join(b.dir, "out-b")
	_ = os.RemoveAll(outB)
	flags, env := splitExtra(extra)
	args := append([]string{"fn", "etcd-backup", "--endpoints", b.endpoint, "--hostname", "bench"}, flags...)
	cmdB := exec.Command(b.stashflow, args...)
	cmdB.Env = append(append(envB, "TMPDIR="+tmpB, "STASHFLOW_OUTPUT_DIR="+outB), env...)
	r, err := b.measureStep(name, cmdB, false, tmpB)
	if err != nil || r.Failed != "" {
		return r, "", err
	}
	id, err := os.ReadFile(filepath.Join(outB, "snapshotID"))
	if err != nil {
		return nil, "", fmt.Errorf("etcd-backup wrote no snapshotID output: %w", err)
	}
	return r, strings.TrimSpace(string(id)), nil
}

// Row names used in ratios.
const (
	rowA  = "(a) Stash: a1 + a2"
	rowB  = "(b) stashflow fn etcd-backup"
	rowC1 = "(c1) snapshot stream → io.Discard"
	rowC2 = "(c2) restic backup file, GOGC=" + restic.BackupGOGC
)

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func (b *bench) childCmd(args ...string) *exec.Cmd {
	return exec.Command(b.self, append([]string{childArg}, args...)...)
}

func (b *bench) resticCmd(env []string, gogc string, args ...string) *exec.Cmd {
	cmd := exec.Command("restic", args...)
	cmd.Env = env
	if gogc != "" {
		cmd.Env = append(cmd.Env, "GOGC="+gogc)
	}
	return cmd
}

// Command databases benchmarks the catalog's database backups against the
// method Stash's addons use: the dump tool piped into `restic backup
// --stdin` (Stash's PostgreSQL and MySQL/MariaDB addons; its Redis addon
// pipes redis-dump-go, which is not installed here, so the Redis baseline
// pipes `redis-cli --rdb -`, the tool our Function runs). It starts one
// throwaway server of each kind (internal/testservers: Debian's
// postgresql, mariadb-server, redis-server), loads -size bytes into it,
// then runs both methods side by side, -repeat interleaved rounds.
//
//	go run ./bench/databases -size 1GiB -repeat 3
//	go run ./bench/databases -size 32MiB -repeat 1 -only redis   # smoke test
//
// Every measured run is a process tree of its own (measure.Run): wall
// time, the tree's CPU (wait4), the server's CPU over the run, per command
// CPU and peak RSS, the largest summed RSS of the tree at one moment, and
// the peak of its TMPDIR. Each backup goes to a fresh repository, so that
// restic's deduplication does not favour later runs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stashflow/stashflow/bench/internal/measure"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/internal/testservers"
)

const resticPassword = "bench"

func main() {
	var (
		sizeFlag = flag.String("size", "1GiB", "bytes of data to load into each server (e.g. 32MiB, 256MiB, 1GiB)")
		repeat   = flag.Int("repeat", 3, "interleaved rounds of both methods; rows show the median round")
		only     = flag.String("only", "postgres,mariadb,redis", "databases to run, comma separated")
		workdir  = flag.String("workdir", "", "directory for repositories and temporary files (default: a new one under $TMPDIR, removed afterwards)")
		jsonOut  = flag.String("json", "", "also write the results as JSON to this file")
	)
	flag.Parse()
	size, err := measure.ParseSize(*sizeFlag)
	if err != nil {
		fatal(err)
	}
	if err := testservers.SetupPATH("restic"); err != nil {
		fatal(err)
	}
	b, err := newBench(*workdir)
	if err != nil {
		fatal(err)
	}
	defer b.close()
	var all []*report
	for _, name := range strings.Split(*only, ",") {
		d, ok := databases[name]
		if !ok {
			b.close()
			fatal(fmt.Errorf("-only: unknown database %q (postgres, mariadb, redis)", name))
		}
		rep, err := b.run(name, d, size, *repeat)
		if err != nil {
			b.close()
			fatal(fmt.Errorf("%s: %w", name, err))
		}
		rep.print(os.Stdout)
		all = append(all, rep)
	}
	if *jsonOut != "" {
		out, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(*jsonOut, out, 0o644); err != nil {
			b.close()
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type bench struct {
	dir, stashflow string
	keep           bool
}

func newBench(workdir string) (*bench, error) {
	b := &bench{dir: workdir, keep: workdir != ""}
	if b.dir == "" {
		var err error
		if b.dir, err = os.MkdirTemp("", "stashflow-bench-databases-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	measure.Logf("building stashflow")
	var err error
	b.stashflow, err = repo.BuildStashflow(filepath.Join(b.dir, "bin"))
	return b, err
}

func (b *bench) close() {
	if !b.keep {
		_ = os.RemoveAll(b.dir)
	}
}

// newRepo makes a fresh repository and returns restic's environment for it.
func (b *bench) newRepo(name string) ([]string, error) {
	dir, cache := filepath.Join(b.dir, "repo-"+name), filepath.Join(b.dir, "cache-"+name)
	for _, d := range []string{dir, cache} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	env := []string{"RESTIC_REPOSITORY=" + dir, "RESTIC_PASSWORD=" + resticPassword, "RESTIC_CACHE_DIR=" + cache}
	cmd := exec.Command("restic", "init", "--json")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("restic init: %w: %s", err, out)
	}
	return env, nil
}

// tmpDir is an empty TMPDIR for one run.
func (b *bench) tmpDir(name string) (string, error) {
	d := filepath.Join(b.dir, "tmp-"+name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o755)
}

// server is one database server loaded for the benchmark.
type server struct {
	// stash is Stash's method as a shell pipeline; ours the Function's
	// argv after the stashflow binary.
	stash string
	ours  []string
	// env reaches both methods (credentials, PATH for the client tools).
	env  []string
	pid  func() int
	stop func()
	// what was loaded, for the report
	loaded string
}

// database starts and loads a server of one kind.
type database func(ctx context.Context, size int64) (*server, error)

var databases = map[string]database{"postgres": startPostgres, "mariadb": startMariaDB, "redis": startRedis}

// Row names.
const (
	rowStash = "(a) Stash: dump | restic backup --stdin"
	rowOurs  = "(b) stashflow fn"
)

type report struct {
	Database  string
	Loaded    string
	DumpBytes int64
	Rounds    int
	LoadAvg   string
	Rows      []*measure.Result
	// WallRatio and CPURatio are (b) over (a), medians.
	WallRatio, CPURatio float64
	Targets             map[string]string
}

func (b *bench) run(name string, start database, size int64, rounds int) (*report, error) {
	ctx := context.Background()
	measure.Logf("%s: starting and loading %d MiB", name, size>>20)
	t0 := time.Now()
	s, err := start(ctx, size)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	measure.Logf("%s: loaded %s in %s", name, s.loaded, time.Since(t0).Round(time.Second))
	rep := &report{Database: name, Loaded: s.loaded, Rounds: rounds, Targets: map[string]string{}}
	var stash, ours []*measure.Result
	for i := range rounds {
		for j := range 2 {
			if (i+j)%2 == 0 { // interleaved: a b, b a, a b, …
				r, err := b.once(name+"-a", rowStash, s, exec.Command("/bin/bash", "-o", "pipefail", "-c", s.stash))
				if err != nil {
					return nil, err
				}
				stash = append(stash, r)
				continue
			}
			outDir := filepath.Join(b.dir, "out-"+name)
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return nil, err
			}
			cmd := exec.Command(b.stashflow, append(append([]string{"fn"}, s.ours...), "--hostname", "bench", "--session", "bench")...)
			cmd.Env = []string{"STASHFLOW_OUTPUT_DIR=" + outDir}
			r, err := b.once(name+"-b", rowOurs+" "+s.ours[0], s, cmd)
			if err != nil {
				return nil, err
			}
			ours = append(ours, r)
			if sz, err := os.ReadFile(filepath.Join(outDir, "size")); err == nil {
				rep.DumpBytes, _ = strconv.ParseInt(strings.TrimSpace(string(sz)), 10, 64)
			}
		}
	}
	a, o := measure.Median(stash), measure.Median(ours)
	rep.Rows = []*measure.Result{a, o}
	rep.WallRatio, rep.CPURatio = o.Wall.Seconds()/a.Wall.Seconds(), o.CPU.Seconds()/a.CPU.Seconds()
	rep.Targets["wall ≤ 1.0× Stash's method"] = verdict(rep.WallRatio <= 1.0)
	// The dump never touches the disk; the MySQL Functions' 0600 option
	// file (credentials, a few hundred bytes) does.
	rep.Targets["no dump bytes on temporary disk (peak ≤ 4 KiB)"] = verdict(o.TempPeak <= 4<<10)
	rep.LoadAvg = measure.LoadAvg()
	return rep, nil
}

// once runs one backup into a fresh repository with an empty TMPDIR.
func (b *bench) once(key, row string, s *server, cmd *exec.Cmd) (*measure.Result, error) {
	env, err := b.newRepo(key)
	if err != nil {
		return nil, err
	}
	tmp, err := b.tmpDir(key)
	if err != nil {
		return nil, err
	}
	cmd.Env = slices.Concat(os.Environ(), env, s.env, cmd.Env, []string{"TMPDIR=" + tmp})
	// Start every run without dirty pages of the previous one being
	// written back under it.
	syscall.Sync()
	before := measure.ServerCPU(s.pid())
	r, err := measure.Run(row, cmd, measure.Options{TmpDirs: []string{tmp}})
	if err != nil {
		return nil, err
	}
	r.ServerCPU = measure.ServerCPU(s.pid()) - before
	return r, nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func (r *report) print(w *os.File) {
	fmt.Fprintf(w, "\n%s: %s; dump %d MiB; %d round(s), median shown; load average at the end %s\n\n",
		r.Database, r.Loaded, r.DumpBytes>>20, r.Rounds, r.LoadAvg)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall s\trounds s\tCPU s (tree)\tserver CPU s\tstep peak RSS MiB\tper process: CPU s / peak RSS MiB (anon)\ttemp disk bytes\t")
	for _, x := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", x.Name, measure.Secs(x.Wall), x.Range, measure.Secs(x.CPU),
			measure.Secs(x.ServerCPU), measure.MiB(x.StepPeak), x.PerProcess(), x.TempPeak)
	}
	_ = tw.Flush() // stdout: like the fmt writes, not worth an error branch
	fmt.Fprintf(w, "\nb/a wall %.3f, CPU %.3f\n", r.WallRatio, r.CPURatio)
	for _, k := range slices.Sorted(maps.Keys(r.Targets)) {
		fmt.Fprintf(w, "target %-32s %s\n", k, r.Targets[k])
	}
}

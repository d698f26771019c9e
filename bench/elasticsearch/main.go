// Command elasticsearch benchmarks the elasticsearch-backup and
// elasticsearch-restore Functions against elasticdump, and the backup
// against restic ingesting the same bytes from a file.
//
// The documents live in estest, the in-repo test double of the
// Elasticsearch 8 API, running inside this process: it is a test server,
// not Elasticsearch, so only client-side costs are compared (every tool
// reads from and writes to the same server, on the same two cores).
//
//	bench/elasticsearch/install-elasticdump.sh     # elasticdump into bin/node_modules
//	go run ./bench/elasticsearch                   # 1,000,000 documents
//	go run ./bench/elasticsearch -docs 20000       # smoke test
//
// Each tool runs as its own process so that its peak RSS and CPU time are
// its own: the Functions run in a child of this program (`fn <name> flags`),
// restic in a grandchild; elasticdump's output is piped into restic.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/bench/internal/measure"
	"github.com/stashflow/stashflow/functions/elasticsearch"
	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/outputs"
)

const resticPassword = "bench-password"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "fn" {
		os.Exit(child(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "launch" {
		os.Exit(launcher())
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	docs, shards    int
	elasticdump     string
	skipElasticdump bool
	skipRestore     bool
	workDir         string
	keep            bool
	restoreArgs     string
	backupArgs      string
	repeat          int
	memLimit        string
}

// result is one measured run.
type result struct {
	name       string
	wall       time.Duration
	docs       int64
	bytes      int64 // bytes into restic (or out of it, for restores)
	rss        int64 // peak RSS of the tool's own process
	resticRSS  int64 // peak RSS of restic, where restic ran
	cpu        time.Duration
	resticCPU  time.Duration
	serverCPU  time.Duration // this process (the test server) during the run
	note       string
	snapshotID string
}

func run() error {
	var c config
	flag.IntVar(&c.docs, "docs", 1_000_000, "documents in the benchmark index")
	flag.IntVar(&c.shards, "shards", 2, "primary shards of the benchmark index (the backup's default slices)")
	flag.StringVar(&c.elasticdump, "elasticdump", "", "elasticdump binary (default <repo>/bin/node_modules/.bin/elasticdump)")
	flag.BoolVar(&c.skipElasticdump, "skip-elasticdump", false, "do not run elasticdump")
	flag.BoolVar(&c.skipRestore, "skip-restore", false, "do not benchmark restores")
	flag.StringVar(&c.workDir, "work-dir", "", "directory for repositories and files (default a temporary one)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory")
	flag.IntVar(&c.repeat, "repeat", 1, "rounds of the two backup runs (stashflow, restic from a file), interleaved; rows and ratios use the median round")
	flag.StringVar(&c.backupArgs, "backup-args", "", "extra flags for elasticsearch-backup, space separated")
	flag.StringVar(&c.restoreArgs, "restore-args", "", "extra flags for elasticsearch-restore, space separated")
	flag.StringVar(&c.memLimit, "mem-limit", "", "also run the backup step and restic from a file under this memory limit (e.g. 256MiB), each in a cgroup of its own when one can be made, and print bench/etcd's table")
	flag.Parse()
	if c.repeat < 1 {
		return fmt.Errorf("-repeat: at least 1")
	}
	var memLimit int64
	if c.memLimit != "" {
		var err error
		if memLimit, err = measure.ParseSize(c.memLimit); err != nil || memLimit <= 0 {
			return fmt.Errorf("-mem-limit: %q is not a size", c.memLimit)
		}
	}

	root, err := repo.Root()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	if _, err := os.Stat(filepath.Join(bin, "restic")); err != nil {
		return fmt.Errorf("%s/restic missing: run make tools", bin)
	}
	if err := os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return err
	}
	if c.elasticdump == "" {
		c.elasticdump = filepath.Join(bin, "node_modules", ".bin", "elasticdump")
	}
	if !c.skipElasticdump {
		if _, err := os.Stat(c.elasticdump); err != nil {
			return fmt.Errorf("%s missing: run bench/elasticsearch/install-elasticdump.sh (or pass -skip-elasticdump)", c.elasticdump)
		}
	}
	if c.workDir == "" {
		if c.workDir, err = os.MkdirTemp("", "bench-elasticsearch-"); err != nil {
			return err
		}
	}
	if !c.keep {
		defer os.RemoveAll(c.workDir)
	}
	b := &bench{c: c, bin: bin, memLimit: memLimit}
	return b.run()
}

type bench struct {
	c        config
	bin      string
	template string
	repos    int
	results  []result
	memLimit int64 // -mem-limit in bytes; 0: no table
}

func (b *bench) run() error {
	fmt.Printf("NOTE: the server is estest, the in-repo test double of the Elasticsearch 8 API (not Elasticsearch):\n")
	fmt.Printf("      only client-side costs are compared. %d CPUs, %s, %s/%s, load average %s.\n\n", runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAvg())

	// The test server lives here: a higher GOGC keeps its garbage
	// collector (millions of documents on the heap) from eating the two
	// cores every tool shares.
	debug.SetGCPercent(400)
	src := estest.New(estest.Options{})
	defer src.Close()
	start := time.Now()
	srcBytes, err := b.fill(src)
	if err != nil {
		return err
	}
	fmt.Printf("source: index \"bench\", %d documents, %d shards, %.1f MB of _source, generated in %s\n\n",
		b.c.docs, b.c.shards, float64(srcBytes)/1e6, time.Since(start).Round(time.Millisecond))
	if err := b.initTemplate(); err != nil {
		return err
	}

	// 1. stashflow backup (streaming into restic).
	repo := b.newRepo()
	sf, err := withServerCPU(func() (result, error) { return b.backup(src.URL, repo) })
	if err != nil {
		return err
	}
	b.add(sf)

	// 2. restic ingesting the same bytes from a file.
	archive := filepath.Join(b.c.workDir, "elasticsearch.tar")
	if err := b.dump(repo, sf.snapshotID, archive); err != nil {
		return err
	}
	rf, err := b.resticFile(archive)
	if err != nil {
		return err
	}
	b.add(rf)
	if b.c.repeat > 1 {
		sfRuns, rfRuns := []result{sf}, []result{rf}
		for range b.c.repeat - 1 {
			r, err := withServerCPU(func() (result, error) { return b.backup(src.URL, b.newRepo()) })
			if err != nil {
				return err
			}
			b.add(r)
			sfRuns = append(sfRuns, r)
			if r, err = b.resticFile(archive); err != nil {
				return err
			}
			b.add(r)
			rfRuns = append(rfRuns, r)
		}
		fmt.Printf("  per round, backup / restic from a file:")
		for i := range sfRuns {
			fmt.Printf(" %.2fx", float64(sfRuns[i].wall)/float64(rfRuns[i].wall))
		}
		fmt.Println()
		snapshotID := sf.snapshotID // the restores read the first round's repository
		sf, rf = median(sfRuns), median(rfRuns)
		sf.snapshotID = snapshotID
		b.results = []result{sf, rf}
	}

	if b.memLimit > 0 {
		if err := b.memTable(src.URL, archive); err != nil {
			return err
		}
	}

	// 3. elasticdump, defaults and tuned, piped into restic.
	var edDefault, edTuned result
	dumpFile := filepath.Join(b.c.workDir, "elasticdump.ndjson")
	if !b.c.skipElasticdump {
		if edDefault, err = withServerCPU(func() (result, error) {
			return b.elasticdumpExport("elasticdump (defaults)", src.URL, nil, "")
		}); err != nil {
			return err
		}
		b.add(edDefault)
		if edTuned, err = withServerCPU(func() (result, error) {
			return b.elasticdumpExport("elasticdump --limit 10000", src.URL, []string{"--limit", "10000"}, dumpFile)
		}); err != nil {
			return err
		}
		b.add(edTuned)
	}

	// 4. Restores.
	var sfRestore, edImport result
	if !b.c.skipRestore {
		dst := estest.New(estest.Options{})
		sfRestore, err = withServerCPU(func() (result, error) {
			return b.runFn("stashflow elasticsearch-restore", repo, "elasticsearch-restore",
				append([]string{"--url", dst.URL, "--snapshot", sf.snapshotID}, strings.Fields(b.c.restoreArgs)...)...)
		})
		dst.Close()
		if err != nil {
			return err
		}
		b.add(sfRestore)
		if !b.c.skipElasticdump {
			dst2 := estest.New(estest.Options{})
			edImport, err = withServerCPU(func() (result, error) { return b.elasticdumpImport(dst2.URL, dumpFile) })
			dst2.Close()
			if err != nil {
				return err
			}
			b.add(edImport)
		}
	}

	b.report()
	fmt.Printf("\nload average at the end: %s (other processes on the machine inflate wall times; CPU columns are per process)\n", loadAvg())
	fmt.Println()
	fmt.Println("goals:")
	ratio := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
	fmt.Printf("  backup vs restic from a file:     %.2fx the time (goal <= 1.2x)\n", ratio(sf.wall, rf.wall))
	if !b.c.skipElasticdump {
		fmt.Printf("  backup vs elasticdump defaults:   %.1fx the docs/s (goal >= 10x)\n", ratio(edDefault.wall, sf.wall))
		fmt.Printf("  backup vs elasticdump --limit 10000: %.1fx the docs/s (goal >= 3x)\n", ratio(edTuned.wall, sf.wall))
		if !b.c.skipRestore {
			fmt.Printf("  restore vs elasticdump import:    %.1fx the docs/s (goal >= 5x)\n", ratio(edImport.wall, sfRestore.wall))
		}
	}
	fmt.Printf("  peak RSS of the backup step:      %s (goal <= 256 MiB; restic excluded)\n", mib(sf.rss))
	if !b.c.skipRestore {
		fmt.Printf("  peak RSS of the restore step:     %s (goal <= 256 MiB; restic excluded)\n", mib(sfRestore.rss))
	}
	return nil
}

// backup runs stashflow's elasticsearch-backup from url into repo.
func (b *bench) backup(url, repo string) (result, error) {
	return b.runFn("stashflow elasticsearch-backup", repo, "elasticsearch-backup",
		append([]string{"--url", url, "--include", "bench", "--hostname", "bench"}, strings.Fields(b.c.backupArgs)...)...)
}

// median is the run of median wall time (the lower middle one of an even
// count).
func median(runs []result) result {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.wall, b.wall) })
	return s[(len(s)-1)/2]
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// selfCPU is this process's CPU time so far (the test server's work).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuOf(&ru)
}

// withServerCPU runs f and records the server's CPU time during it.
func withServerCPU(f func() (result, error)) (result, error) {
	before := selfCPU()
	r, err := f()
	r.serverCPU = selfCPU() - before
	return r, err
}

func (b *bench) add(r result) {
	b.results = append(b.results, r)
	fmt.Printf("  done: %-36s %8s\n", r.name, r.wall.Round(10*time.Millisecond))
}

func (b *bench) report() {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall\tdocs/s\tMB/s\tpeak RSS\tCPU\trestic RSS\trestic CPU\tserver CPU\t")
	for _, r := range b.results {
		docsPerSec, mbPerSec := "-", "-"
		if r.docs > 0 {
			docsPerSec = fmt.Sprintf("%.0f", float64(r.docs)/r.wall.Seconds())
		}
		if r.bytes > 0 {
			mbPerSec = fmt.Sprintf("%.1f", float64(r.bytes)/1e6/r.wall.Seconds())
		}
		rrss, rcpu := "-", "-"
		if r.resticRSS > 0 {
			rrss, rcpu = mib(r.resticRSS), r.resticCPU.Round(10*time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, r.wall.Round(10*time.Millisecond), docsPerSec, mbPerSec,
			mib(r.rss), r.cpu.Round(10*time.Millisecond), rrss, rcpu, r.serverCPU.Round(10*time.Millisecond))
	}
	_ = tw.Flush() // stdout: like the fmt writes, not worth an error branch
	for _, r := range b.results {
		if r.note != "" {
			fmt.Printf("  %s: %s\n", r.name, r.note)
		}
	}
}

func mib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// fill creates the index and generates log-like documents of about 300
// bytes.
func (b *bench) fill(s *estest.TestServer) (int64, error) {
	if err := s.CreateIndex("bench", fmt.Sprintf(`{"settings":{"number_of_shards":%d,"number_of_replicas":0},
		"mappings":{"properties":{"@timestamp":{"type":"date"},"host":{"type":"keyword"},"service":{"type":"keyword"},
		"level":{"type":"keyword"},"status":{"type":"integer"},"bytes":{"type":"long"},"duration_ms":{"type":"float"},
		"user":{"properties":{"id":{"type":"keyword"},"country":{"type":"keyword"}}},"message":{"type":"text"},"tags":{"type":"keyword"}}},
		"aliases":{"bench-logs":{}}}`, b.c.shards)); err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	services := []string{"checkout", "search", "cart", "auth", "catalog", "payments"}
	levels := []string{"info", "info", "info", "warn", "error", "debug"}
	countries := []string{"DE", "FR", "US", "JP", "BR", "IN", "NL"}
	verbs := []string{"GET", "GET", "POST", "PUT", "DELETE"}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var total int64
	err := s.PutGenerated("bench", b.c.docs, func(i int, buf []byte) (string, []byte) {
		ts := t0.Add(time.Duration(i) * 37 * time.Millisecond)
		status := []int{200, 200, 200, 201, 204, 301, 404, 500}[rng.IntN(8)]
		d := rng.Float64() * 250
		buf = fmt.Appendf(buf, `{"@timestamp":%q,"host":"web-%02d","service":%q,"level":%q,"status":%d,"bytes":%d,"duration_ms":%.2f,`+
			`"user":{"id":"u%06d","country":%q},"message":"%s /api/v1/%s/%d returned %d in %.0fms","tags":["prod","eu-west-%d"]}`,
			ts.Format("2006-01-02T15:04:05.000Z"), rng.IntN(40), services[rng.IntN(len(services))], levels[rng.IntN(len(levels))],
			status, rng.IntN(200000), d, rng.IntN(500000), countries[rng.IntN(len(countries))],
			verbs[rng.IntN(len(verbs))], services[rng.IntN(len(services))], rng.IntN(1000000), status, d, 1+rng.IntN(3))
		total += int64(len(buf))
		return fmt.Sprintf("doc-%08d", i), buf
	})
	return total, err
}

func (b *bench) resticEnv(repo string) []string {
	return append(os.Environ(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD="+resticPassword)
}

// initTemplate initialises one repository that every run gets a copy of,
// so that no run pays for `restic init`.
func (b *bench) initTemplate() error {
	b.template = filepath.Join(b.c.workDir, "template-repo")
	cmd := exec.Command(filepath.Join(b.bin, "restic"), "init")
	cmd.Env = b.resticEnv(b.template)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restic init: %w: %s", err, out)
	}
	return nil
}

func (b *bench) newRepo() string {
	b.repos++
	dir := filepath.Join(b.c.workDir, fmt.Sprintf("repo-%d", b.repos))
	if err := os.CopyFS(dir, os.DirFS(b.template)); err != nil {
		panic(err)
	}
	return dir
}

// childReport is what `fn` prints.
type childReport struct {
	Outputs             step.Outputs `json:"outputs"`
	Error               string       `json:"error,omitempty"`
	MaxRSS, ChildMaxRSS int64        // bytes
	RusageMaxRSS        int64
	CPU, ChildCPU       time.Duration
}

// runFn runs a Function in a child process.
func (b *bench) runFn(name, repo, fn string, args ...string) (result, error) {
	cmd := exec.Command(os.Args[0], append([]string{"fn", fn}, args...)...)
	cmd.Env = b.resticEnv(repo)
	var stdout bytes.Buffer
	logf, err := os.Create(filepath.Join(b.c.workDir, strings.ReplaceAll(name, " ", "_")+".log"))
	if err != nil {
		return result{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = &stdout, logf
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	var rep childReport
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		return result{}, fmt.Errorf("%s: %w (output %q, log %s)", name, errors.Join(err, jerr), stdout.String(), logf.Name())
	}
	if rep.Error != "" {
		return result{}, fmt.Errorf("%s: %s (log %s)", name, rep.Error, logf.Name())
	}
	fmt.Fprintf(logf, "rusage maxrss %d, VmHWM %d\n", rep.RusageMaxRSS, rep.MaxRSS)
	r := result{name: name, wall: wall, rss: rep.MaxRSS, resticRSS: rep.ChildMaxRSS, cpu: rep.CPU, resticCPU: rep.ChildCPU,
		snapshotID: rep.Outputs[outputs.SnapshotID]}
	r.docs, _ = strconv.ParseInt(rep.Outputs[elasticsearch.OutputDocuments], 10, 64)
	if v := rep.Outputs[elasticsearch.OutputBytes]; v != "" {
		r.bytes, _ = strconv.ParseInt(v, 10, 64)
	} else {
		r.bytes, _ = strconv.ParseInt(rep.Outputs[outputs.Size], 10, 64)
	}
	return r, nil
}

// child runs one Function in this process and prints a childReport.
func child(args []string) int {
	var fn step.Function
	switch {
	case len(args) > 0 && args[0] == "elasticsearch-backup":
		fn = elasticsearch.NewBackup()
	case len(args) > 0 && args[0] == "elasticsearch-restore":
		fn = elasticsearch.NewRestore()
	default:
		fmt.Fprintln(os.Stderr, "usage: fn elasticsearch-backup|elasticsearch-restore flags")
		return 2
	}
	rep := childReport{}
	fs := pflag.NewFlagSet(args[0], pflag.ContinueOnError)
	fn.Flags(fs)
	err := fs.Parse(args[1:])
	if err == nil {
		err = fn.Validate()
	}
	if err == nil {
		var stop func()
		if stop, err = step.StartCPUProfile(os.Getenv(step.CPUProfileEnv)); err == nil {
			rep.Outputs, err = fn.Run(context.Background(), step.NewEnv(os.Stderr))
			stop()
		}
	}
	if err != nil {
		rep.Error = err.Error()
	}
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	// ru_maxrss of a process started with vfork+exec counts the parent's
	// resident set before the exec (Linux folds the old mm's high-water
	// mark in at exec): VmHWM of /proc/self/status is this image's own.
	rep.MaxRSS, rep.ChildMaxRSS = vmHWM(), kids.Maxrss*1024
	rep.RusageMaxRSS = self.Maxrss * 1024
	rep.CPU, rep.ChildCPU = cpuOf(&self), cpuOf(&kids)
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// vmHWM returns the peak resident set of this process image, in bytes.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func cpuOf(r *syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

func usage(ps *os.ProcessState) (rss int64, cpu time.Duration) {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024, cpuOf(ru)
	}
	return 0, 0
}

// dump writes a snapshot's archive to a file.
func (b *bench) dump(repo, id, file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(b.bin, "restic"), "dump", id, elasticsearch.ArchivePath)
	cmd.Env = b.resticEnv(repo)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("restic dump: %w: %s", err, stderr.String())
	}
	return nil
}

// resticFile backs up a file with restic, GOGC as the backup step gives
// restic.
func (b *bench) resticFile(file string) (result, error) {
	st, err := os.Stat(file)
	if err != nil {
		return result{}, err
	}
	rep, wall, err := b.launch(launchSpec{Cmds: []launchCmd{{
		Argv: []string{filepath.Join(b.bin, "restic"), "backup", "--json", "--host", "bench", file},
		Env:  append(b.resticEnv(b.newRepo()), "GOGC="+restic.BackupGOGC),
	}}})
	if err != nil {
		return result{}, fmt.Errorf("restic backup: %w", err)
	}
	return result{name: "restic backup of the archive file", wall: wall, bytes: st.Size(), resticRSS: rep.Procs[0].MaxRSS, resticCPU: rep.Procs[0].CPU,
		note: "the same bytes as stashflow's archive, from a file (GOGC=" + restic.BackupGOGC + ", as the backup step runs restic)"}, nil
}

// elasticdumpExport runs elasticdump with its output piped into restic
// backup --stdin; with tee set, the output is also written there.
func (b *bench) elasticdumpExport(name, url string, extra []string, tee string) (result, error) {
	rep, wall, err := b.launch(launchSpec{Tee: tee, Cmds: []launchCmd{
		{Argv: append([]string{b.c.elasticdump, "--input=" + url + "/bench", "--output=$", "--type=data", "--quiet"}, extra...), Env: os.Environ()},
		{Argv: []string{filepath.Join(b.bin, "restic"), "backup", "--stdin", "--stdin-filename", "elasticdump.ndjson", "--json", "--host", "bench"},
			Env: append(b.resticEnv(b.newRepo()), "GOGC="+restic.BackupGOGC)},
	}})
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	r := result{name: name, wall: wall, docs: rep.Lines, bytes: rep.Bytes, rss: rep.Procs[0].MaxRSS, cpu: rep.Procs[0].CPU,
		resticRSS: rep.Procs[1].MaxRSS, resticCPU: rep.Procs[1].CPU}
	if rep.Lines != int64(b.c.docs) {
		r.note = fmt.Sprintf("wrote %d lines for %d documents", rep.Lines, b.c.docs)
	}
	return r, nil
}

// elasticdumpImport loads elasticdump's own output into an empty server.
func (b *bench) elasticdumpImport(url, file string) (result, error) {
	rep, wall, err := b.launch(launchSpec{Cmds: []launchCmd{{
		Argv: []string{b.c.elasticdump, "--input=" + file, "--output=" + url + "/bench", "--type=data", "--quiet"}, Env: os.Environ(),
	}}})
	if err != nil {
		return result{}, fmt.Errorf("elasticdump import: %w", err)
	}
	return result{name: "elasticdump import (defaults)", wall: wall, docs: int64(b.c.docs), rss: rep.Procs[0].MaxRSS, cpu: rep.Procs[0].CPU,
		note: "from elasticdump's own NDJSON file (no restic dump in the way)"}, nil
}

// The launcher: tools run under a small re-exec of this program, so that
// their ru_maxrss does not include this process's resident set (Linux
// folds the pre-exec high-water mark of a vfork child into it).
type launchSpec struct {
	Cmds []launchCmd // one command, or two piped: Cmds[0] | Cmds[1]
	Tee  string      // with two commands: also write the stream here
}

type launchCmd struct {
	Argv []string
	Env  []string
}

type launchReport struct {
	Procs []struct {
		MaxRSS int64
		CPU    time.Duration
	}
	Lines, Bytes int64
	Error        string
}

func (b *bench) launch(spec launchSpec) (launchReport, time.Duration, error) {
	var rep launchReport
	in, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "launch")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		return rep, wall, fmt.Errorf("launcher: %w: %s", errors.Join(err, jerr), tail(stderr.String()))
	}
	if rep.Error != "" {
		return rep, wall, errors.New(rep.Error)
	}
	return rep, wall, nil
}

// launcher runs a launchSpec read from stdin and prints a launchReport.
func launcher() int {
	var spec launchSpec
	rep := launchReport{}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	if err := json.NewDecoder(os.Stdin).Decode(&spec); err != nil || len(spec.Cmds) == 0 || len(spec.Cmds) > 2 {
		rep.Error = fmt.Sprintf("bad launch spec: %v", err)
		return 0
	}
	cmds := make([]*exec.Cmd, len(spec.Cmds))
	stderrs := make([]*bytes.Buffer, len(spec.Cmds))
	for i, c := range spec.Cmds {
		cmds[i] = exec.Command(c.Argv[0], c.Argv[1:]...)
		cmds[i].Env = c.Env
		stderrs[i] = &bytes.Buffer{}
		cmds[i].Stderr = stderrs[i]
	}
	fail := func(i int, err error) {
		rep.Error = fmt.Sprintf("%s: %v: %s", filepath.Base(spec.Cmds[i].Argv[0]), err, tail(stderrs[i].String()))
	}
	if len(cmds) == 1 {
		cmds[0].Stdout = io.Discard
		if err := cmds[0].Run(); err != nil {
			fail(0, err)
			return 0
		}
	} else {
		src, err := cmds[0].StdoutPipe()
		if err != nil {
			fail(0, err)
			return 0
		}
		sink, err := cmds[1].StdinPipe()
		if err != nil {
			fail(1, err)
			return 0
		}
		cmds[1].Stdout = io.Discard
		if err := cmds[1].Start(); err != nil {
			fail(1, err)
			return 0
		}
		if err := cmds[0].Start(); err != nil {
			fail(0, err)
			return 0
		}
		counter := &lineCounter{}
		w := io.MultiWriter(sink, counter)
		var teeFile *os.File
		var tee *bufio.Writer
		if spec.Tee != "" {
			teeFile, err = os.Create(spec.Tee)
			if err != nil {
				fail(0, err)
				return 0
			}
			tee = bufio.NewWriterSize(teeFile, 1<<20)
			w = io.MultiWriter(sink, counter, tee)
		}
		n, copyErr := io.Copy(w, src)
		if tee != nil {
			if err := errors.Join(tee.Flush(), teeFile.Close()); err != nil {
				copyErr = errors.Join(copyErr, fmt.Errorf("tee %s: %w", spec.Tee, err))
			}
		}
		rep.Lines, rep.Bytes = counter.lines, n
		waitErr := cmds[0].Wait()
		sink.Close()
		if err := errors.Join(copyErr, waitErr); err != nil {
			_ = cmds[1].Process.Kill()
			_ = cmds[1].Wait()
			fail(0, err)
			return 0
		}
		if err := cmds[1].Wait(); err != nil {
			fail(1, err)
			return 0
		}
	}
	for _, c := range cmds {
		rss, cpu := usage(c.ProcessState)
		rep.Procs = append(rep.Procs, struct {
			MaxRSS int64
			CPU    time.Duration
		}{rss, cpu})
	}
	return 0
}

type lineCounter struct{ lines int64 }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func tail(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var last []string
	for sc.Scan() {
		last = append(last, sc.Text())
		if len(last) > 5 {
			last = last[1:]
		}
	}
	return strings.Join(last, " | ")
}

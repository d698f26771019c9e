package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stashflow/stashflow/bench/internal/measure"
)

// result is one measured run.
type result struct {
	Name     string
	Wall     time.Duration
	CPU      time.Duration    // the process tree's user+system time (wait4)
	EtcdCPU  time.Duration    // the etcd server's over the run
	TempPeak int64            // peak bytes of temporary disk
	Procs    map[string]*proc // by command name
	Range    string           // wall times of all rounds, min–max
	// StepPeak is the largest sum of the tree's RSS at one sample: the
	// step's memory as a container's limit sees it, without page cache.
	StepPeak int64
	// Under -mem-limit: the run's cgroup peak (page cache included),
	// its OOM kills, and whether the run failed (then only the
	// measurements up to the failure are valid).
	CgroupPeak int64
	OOMKills   int
	Failed     string
	// Budget is the step's "memory budget" log line; ResticEnv is the
	// GOMEMLIMIT and GOGC restic ran with (from /proc/<pid>/environ).
	Budget    string
	ResticEnv string
}

// proc is what sampling /proc saw of one command (summed over processes
// with that name).
type proc struct {
	CPU  time.Duration
	HWM  int64 // peak RSS (VmHWM), bytes
	Anon int64 // peak anonymous RSS (RssAnon, sampled), bytes
	// Serial is the start of the process's data phase: the first sample
	// (after the run's start) at which it had read startedBytes, and its
	// CPU by then. Zero if it never read that much.
	Serial, SerialCPU time.Duration
}

// startedBytes is what a process has read (/proc/<pid>/io rchar) once its
// data phase has begun: more than restic reads of its repository's config,
// keys and locks before it reads its input.
const startedBytes = 8 << 20

// procRead returns the bytes pid has read (rchar, any file descriptor).
func procRead(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// procCPU returns utime+stime of pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which is in parentheses).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat %q", s)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bad stat %q", s)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// procHWM returns VmHWM, RssAnon and VmRSS of pid in bytes and its command
// name.
func procHWM(pid int) (int64, int64, int64, string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, "", err
	}
	defer f.Close()
	var hwm, anon, rss int64
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Name:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "Name:"))
		case strings.HasPrefix(line, "VmHWM:"):
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			hwm = kb << 10
		case strings.HasPrefix(line, "RssAnon:"):
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			anon = kb << 10
		case strings.HasPrefix(line, "VmRSS:"):
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			rss = kb << 10
		}
	}
	return hwm, anon, rss, name, sc.Err()
}

// goEnv returns the GOMEMLIMIT and GOGC in pid's environment.
func goEnv(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return ""
	}
	var out []string
	for _, kv := range strings.Split(string(b), "\x00") {
		if strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "GOGC=") {
			out = append(out, kv)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// run starts cmd, samples its process tree every 20 ms until it exits, and
// returns the measurements. The last sample of a process's CPU may miss
// its final ≤ 20 ms; the tree's total CPU is exact (wait4).
func run(name string, cmd *exec.Cmd, tmpDirs ...string) (*result, error) {
	return runIn(nil, name, cmd, tmpDirs...)
}

// runIn is run inside cg (nil: none). A run the cgroup OOM-killed is a
// result with Failed set, not an error.
func runIn(cg *memCgroup, name string, cmd *exec.Cmd, tmpDirs ...string) (*result, error) {
	var stderr, stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if cg != nil {
		cg.wrap(cmd)
	}
	logf("running %s", name)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	type sample struct {
		name              string
		cpu               time.Duration
		hwm, anon         int64
		serial, serialCPU time.Duration
	}
	seen := map[int]*sample{}
	var tempPeak, stepPeak int64
	resticEnv := ""
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
	sampleAll := func() {
		pids := []int{cmd.Process.Pid}
		for i := 0; i < len(pids); i++ {
			pids = append(pids, measure.Children(pids[i])...)
		}
		var sum int64
		for _, pid := range pids {
			hwm, anon, rss, pname, err := procHWM(pid)
			if err != nil || pname == "" {
				continue
			}
			sum += rss
			if pname == "restic" && resticEnv == "" {
				resticEnv = goEnv(pid)
			}
			cpu, err := procCPU(pid)
			if err != nil {
				continue
			}
			s := seen[pid]
			if s == nil {
				s = &sample{name: pname}
				seen[pid] = s
			}
			// The name may change once: a child is sampled under its
			// parent's name between fork and exec.
			if pname != s.name {
				s.name, s.hwm, s.anon, s.serial, s.serialCPU = pname, 0, 0, 0, 0
			}
			s.cpu, s.hwm, s.anon = cpu, max(s.hwm, hwm), max(s.anon, anon)
			if s.serial == 0 && procRead(pid) >= startedBytes {
				s.serial, s.serialCPU = time.Since(start), cpu
			}
		}
		stepPeak = max(stepPeak, sum)
		for _, d := range tmpDirs {
			tempPeak = max(tempPeak, measure.DirSize(d))
		}
	}
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-tick.C:
			sampleAll()
		}
	}
	wall := time.Since(start)
	var cgPeak int64
	var oomKills int
	if cg != nil {
		cgPeak, oomKills = cg.usage()
	}
	if waitErr != nil && oomKills == 0 {
		return nil, fmt.Errorf("%s: %w: %s", name, waitErr, strings.TrimSpace(stderr.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := &result{
		Name:       name,
		Wall:       wall,
		CPU:        time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		TempPeak:   tempPeak,
		Procs:      map[string]*proc{},
		StepPeak:   stepPeak,
		CgroupPeak: cgPeak,
		OOMKills:   oomKills,
		ResticEnv:  resticEnv,
	}
	if waitErr != nil {
		r.Failed = fmt.Sprintf("%v: %s", waitErr, lastLine(stderr.String()))
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, `msg="memory budget"`) || strings.Contains(line, `msg="memory limit below`) {
			r.Budget = line[strings.Index(line, "msg="):]
		}
	}
	for _, d := range tmpDirs {
		r.TempPeak = max(r.TempPeak, measure.DirSize(d))
	}
	var sampledCPU time.Duration
	for pid, s := range seen {
		n := s.name
		if pid == cmd.Process.Pid && strings.HasPrefix(n, "etcd") {
			n = "bench-child"
		}
		p := r.Procs[n]
		if p == nil {
			p = &proc{}
			r.Procs[n] = p
		}
		p.CPU += s.cpu
		p.HWM = max(p.HWM, s.hwm)
		p.Anon = max(p.Anon, s.anon)
		if p.Serial == 0 {
			p.Serial, p.SerialCPU = s.serial, s.serialCPU
		}
		sampledCPU += s.cpu
	}
	// The root process's own CPU is the exact total minus its sampled
	// descendants'.
	rootName := seen[cmd.Process.Pid]
	if rootName != nil {
		n := rootName.name
		if strings.HasPrefix(n, "etcd") {
			n = "bench-child"
		}
		desc := sampledCPU - rootName.cpu
		r.Procs[n].CPU = max(0, r.CPU-desc)
	}
	return r, nil
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// report prints the results as a table.
func report(w io.Writer, res *results) {
	fmt.Fprintf(w, "\netcd: %d keys, %d MiB of values; snapshot %d MiB; %d round(s), median shown; load average at the end %s\n\n",
		res.Keys, res.SizeBytes>>20, res.SnapshotBytes>>20, res.Rounds, res.LoadAvg)
	if res.MemLimit > 0 {
		how := "enforced: each step of (a) and (b) in a cgroup of its own with that limit"
		if !res.Enforced {
			how = "NOT enforced (no cgroup could be made): (b) is told the limit; compare the peaks with it"
		}
		fmt.Fprintf(w, "memory limit %s MiB, %s\n\n", measure.MiB(res.MemLimit), how)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall s\trounds s\tCPU s (tree)\tetcd server CPU s\tper process: CPU s / peak RSS MiB (anon)\tstep peak RSS MiB\tcgroup peak MiB\tOOM kills\ttemp disk MiB\t")
	for _, r := range res.Rows {
		var names []string
		for n := range r.Procs {
			names = append(names, n)
		}
		sort.Strings(names)
		var per []string
		for _, n := range names {
			p := r.Procs[n]
			per = append(per, fmt.Sprintf("%s %s/%s (%s)", n, measure.Secs(p.CPU), measure.MiB(p.HWM), measure.MiB(p.Anon)))
		}
		cg, oom := "-", "-"
		if r.CgroupPeak > 0 {
			cg, oom = measure.MiB(r.CgroupPeak), strconv.Itoa(r.OOMKills)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, measure.Secs(r.Wall), r.Range, measure.Secs(r.CPU), measure.Secs(r.EtcdCPU), strings.Join(per, ", "), measure.MiB(r.StepPeak), cg, oom, measure.MiB(r.TempPeak))
	}
	_ = tw.Flush() // w is stdout: like the fmt writes, not worth an error branch
	fmt.Fprintln(w, "step peak RSS: the largest sum of the run's processes' RSS at one 20 ms sample; cgroup peak: the kernel's, page cache included")
	for _, r := range res.Rows {
		if r.Failed != "" {
			fmt.Fprintf(w, "FAILED %s: %s\n", r.Name, r.Failed)
		}
		if r.Budget != "" || (strings.HasPrefix(r.Name, "(b)") && r.ResticEnv != "") {
			fmt.Fprintf(w, "%s: %s; restic ran with %q\n", r.Name, r.Budget, r.ResticEnv)
		}
	}
	fmt.Fprintf(w, "\nCPU bound on 2 cores = (etcd server + stream client [c1] + restic [c2]) / 2 = %.2f s; max(c) = %.2f s\n", res.CPUBoundSec, res.MaxLimitSec)
	if res.FloorSec > 0 {
		fmt.Fprintf(w, "restic's serial start (key derivation, lock, index; until it has read %d MiB): %.2f s in (c2), %.2f CPU-s; %.2f s in (b)\n", startedBytes>>20, res.ResticStartSec, res.ResticStartCPUSec, res.BResticStartSec)
		fmt.Fprintf(w, "floor = that start + the rest of the bound's CPU over 2 cores = %.2f s (%.2f× the CPU bound)\n", res.FloorSec, res.FloorSec/res.CPUBoundSec)
	}
	var keys []string
	for k := range res.Ratios {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%-14s %.3f\n", k, res.Ratios[k])
	}
	keys = keys[:0]
	for k := range res.Targets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w)
	for _, k := range keys {
		fmt.Fprintf(w, "target %-24s %s\n", k, res.Targets[k])
	}
}

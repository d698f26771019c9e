package measure

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is one measured run.
type Result struct {
	Name string
	Wall time.Duration
	// CPU is the process tree's user+system time (wait4, exact).
	CPU time.Duration
	// ServerCPU is the server's CPU over the run, when the caller
	// measured it (ServerCPU before and after).
	ServerCPU time.Duration
	// TempPeak is the peak bytes of temporary disk in the watched dirs.
	TempPeak int64
	// StepPeak is the largest sum of the tree's RSS at one sample: what
	// the step holds at once, as a container's limit sees it without page
	// cache.
	StepPeak int64
	// Procs is per command name (summed over processes of that name).
	Procs map[string]*Proc
	// Range is the wall times of all rounds, min–max (set by Median).
	Range string
	// Under Options.Cgroup: the cgroup's peak (page cache included) and
	// its OOM kills. Failed is why an OOM-killed run failed; only the
	// measurements up to the failure are valid.
	CgroupPeak int64
	OOMKills   int
	Failed     string
	// Budget is a stashflow step's "memory budget" log line (from
	// "msg="), when its output had one (functions/membudget).
	Budget string
	// With Options.Timeline: where each command's (and each of
	// Options.Servers') time went over the run, the stretches of the
	// run, and the machine's busy cores over it (every process on the
	// machine).
	Sched        map[string]Sched `json:",omitempty"`
	Timeline     []Slice          `json:",omitempty"`
	MachineCores float64          `json:",omitempty"`
}

// Proc is what sampling /proc saw of one command.
type Proc struct {
	CPU  time.Duration
	HWM  int64 // peak RSS (VmHWM), bytes
	Anon int64 // peak anonymous RSS (RssAnon, sampled), bytes
	// File is the peak file-backed RSS (RssFile, sampled: the binary's
	// pages mapped in), bytes: memory no Go memory limit controls.
	File int64
	// Serial is the start of the process's data phase: the first sample
	// (after the run's start) at which it had read Options.StartedBytes,
	// and its CPU by then. Zero if it never read that much.
	Serial, SerialCPU time.Duration
	// Env is Options.Env's variables as the first sampled process of
	// this name had them, "K=V" sorted and space-separated.
	Env string
}

// Options are what Run measures beyond the defaults.
type Options struct {
	// TmpDirs are watched for temporary disk.
	TmpDirs []string
	// StartedBytes, when positive, sets each Proc's Serial.
	StartedBytes int64
	// Env names the environment variables recorded in Proc.Env.
	Env []string
	// RootName, when set, is the name the root process's figures go
	// under (a benchmark that runs itself as a child).
	RootName string
	// Cgroup, when set, is the cgroup the whole tree runs in; a run it
	// OOM-kills is a Result with Failed set, not an error.
	Cgroup *Cgroup
	// Timeline, when positive, records Result.Sched and cuts the run into
	// Result.Timeline's stretches of this length.
	Timeline time.Duration
	// Servers are processes outside the tree (a database server) whose
	// time the timeline also follows, by name.
	Servers map[string]int
}

// userHZ is the clock tick of /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// statCPU returns utime+stime of pid, plus cutime+cstime (its reaped
// children's) when withChildren.
func statCPU(pid int, withChildren bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // after the command name
	if i < 0 || i+2 > len(s) {
		return 0, fmt.Errorf("bad stat %q", s)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 15 {
		return 0, fmt.Errorf("bad stat %q", s)
	}
	n := 2
	if withChildren {
		n = 4
	}
	var ticks int64
	for _, v := range f[11 : 11+n] {
		t, _ := strconv.ParseInt(v, 10, 64)
		ticks += t
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// ServerCPU is a server's CPU so far, its reaped children's included (a
// PostgreSQL backend, a Redis fork): subtract two readings.
func ServerCPU(pid int) time.Duration {
	cpu, _ := statCPU(pid, true)
	return cpu
}

// status returns VmHWM, RssAnon, RssFile and VmRSS of pid in bytes and
// its name.
func status(pid int) (hwm, anon, file, rss int64, name string, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, 0, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		v = strings.TrimSpace(v)
		kb := func() int64 { n, _ := strconv.ParseInt(strings.Fields(v + " 0")[0], 10, 64); return n << 10 }
		switch k {
		case "Name":
			name = v
		case "VmHWM":
			hwm = kb()
		case "RssAnon":
			anon = kb()
		case "RssFile":
			file = kb()
		case "VmRSS":
			rss = kb()
		}
	}
	return hwm, anon, file, rss, name, sc.Err()
}

// Children returns pid's child processes.
func Children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// ParseSize reads a size flag: a number with GiB, MiB, KiB (or G, M, K:
// the same binary units) or B, or a plain number of bytes.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(v, 64)
			return int64(n * float64(u.mult)), err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// DirSize returns the bytes of regular files under dir.
func DirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// sample is one process's running measurements.
type sample struct {
	name              string
	cpu               time.Duration
	hwm, anon, file   int64
	serial, serialCPU time.Duration
	env               string
}

// tree samples a process tree.
type tree struct {
	root     int
	start    time.Time
	opts     Options
	seen     map[int]*sample
	stepPeak int64
	tempPeak int64
	// tl and names (the last sample's pids by name) when Options.Timeline.
	tl    timeline
	names map[int]string
}

func (t *tree) sample() {
	pids := []int{t.root}
	for i := 0; i < len(pids); i++ {
		pids = append(pids, Children(pids[i])...)
	}
	var rssSum int64
	var names map[int]string
	if t.opts.Timeline > 0 {
		names = map[int]string{}
		for n, pid := range t.opts.Servers {
			names[pid] = n
		}
	}
	for _, pid := range pids {
		hwm, anon, file, rss, name, err := status(pid)
		if err != nil || name == "" {
			continue
		}
		if names != nil {
			names[pid] = name
			if pid == t.root && t.opts.RootName != "" {
				names[pid] = t.opts.RootName
			}
		}
		cpu, err := statCPU(pid, false)
		if err != nil {
			continue
		}
		rssSum += rss
		s := t.seen[pid]
		if s == nil {
			s = &sample{name: name}
			t.seen[pid] = s
		}
		// A child is sampled under its parent's name between fork and
		// exec: the name changes once, and the parent's figures go.
		if name != s.name {
			*s = sample{name: name}
		}
		s.cpu, s.hwm, s.anon, s.file = cpu, max(s.hwm, hwm), max(s.anon, anon), max(s.file, file)
		if len(t.opts.Env) > 0 && s.env == "" {
			s.env = environ(pid, t.opts.Env)
		}
		if t.opts.StartedBytes > 0 && s.serial == 0 && readBytes(pid) >= t.opts.StartedBytes {
			s.serial, s.serialCPU = time.Since(t.start), cpu
		}
	}
	t.stepPeak = max(t.stepPeak, rssSum)
	if names != nil {
		// Processes that ended since the last sample keep their totals.
		for pid, n := range t.names {
			if _, ok := names[pid]; !ok {
				names[pid] = n
			}
		}
		t.names = names
		t.tl.add(time.Since(t.start), names)
	}
	for _, d := range t.opts.TmpDirs {
		t.tempPeak = max(t.tempPeak, DirSize(d))
	}
}

// readBytes returns the bytes pid has read (/proc/<pid>/io rchar, any
// file descriptor).
func readBytes(pid int) int64 {
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

// environ returns the variables of names in pid's environment, "K=V"
// sorted and space-separated.
func environ(pid int, names []string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return ""
	}
	var out []string
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, _, ok := strings.Cut(kv, "="); ok && slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// Run starts cmd, samples its process tree every 20 ms until it exits,
// and returns the measurements. A process's last ≤ 20 ms of CPU may be
// missed by sampling; the tree's total is exact, and the root's share is
// the total minus the others'.
func Run(name string, cmd *exec.Cmd, o Options) (*Result, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if o.Cgroup != nil {
		o.Cgroup.wrap(cmd)
	}
	Logf("running %s", name)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := &tree{root: cmd.Process.Pid, start: start, opts: o, seen: map[int]*sample{}}
	if o.Timeline > 0 {
		// The servers' totals so far; the tree's start from zero.
		servers := map[int]string{}
		for n, pid := range o.Servers {
			servers[pid] = n
		}
		t.tl.add(0, servers)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-tick.C:
			t.sample()
		}
	}
	r := &Result{Name: name, Wall: time.Since(start), TempPeak: t.tempPeak, StepPeak: t.stepPeak, Procs: map[string]*Proc{},
		Budget: budgetLine(stdout.String())}
	if o.Cgroup != nil {
		r.CgroupPeak, r.OOMKills = o.Cgroup.usage()
	}
	if o.Timeline > 0 {
		t.tl.add(r.Wall, t.names)
		r.Sched, r.Timeline, r.MachineCores = t.tl.totals(), t.tl.slices(o.Timeline), t.tl.machineCores()
	}
	if waitErr != nil {
		if r.OOMKills == 0 {
			return nil, fmt.Errorf("%s: %w: %s", name, waitErr, strings.TrimSpace(stderr.String()))
		}
		r.Failed = fmt.Sprintf("%v: %s", waitErr, lastLine(stderr.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, d := range o.TmpDirs {
		r.TempPeak = max(r.TempPeak, DirSize(d))
	}
	t.collect(r)
	return r, nil
}

// collect adds the samples to r.Procs by command name.
func (t *tree) collect(r *Result) {
	var others time.Duration
	for pid, s := range t.seen {
		if pid == t.root && t.opts.RootName != "" {
			s.name = t.opts.RootName
		}
		p := r.Procs[s.name]
		if p == nil {
			p = &Proc{Env: s.env}
			r.Procs[s.name] = p
		}
		p.CPU += s.cpu
		p.HWM, p.Anon, p.File = max(p.HWM, s.hwm), max(p.Anon, s.anon), max(p.File, s.file)
		if p.Serial == 0 {
			p.Serial, p.SerialCPU = s.serial, s.serialCPU
		}
		if p.Env == "" {
			p.Env = s.env
		}
		if pid != t.root {
			others += s.cpu
		}
	}
	if root := t.seen[t.root]; root != nil {
		p := r.Procs[root.name]
		p.CPU += max(0, r.CPU-others) - root.cpu
	}
}

// budgetLine returns the step's memory budget line of out from "msg=",
// or "".
func budgetLine(out string) string {
	budget := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="memory budget"`) || strings.Contains(line, `msg="memory limit below`) {
			budget = line[strings.Index(line, "msg="):]
		}
	}
	return budget
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Sum adds two sequential steps of one method into one row: times and
// CPU add up, peaks are the larger.
func Sum(name string, x, y *Result) *Result {
	r := &Result{Name: name, Wall: x.Wall + y.Wall, CPU: x.CPU + y.CPU, ServerCPU: x.ServerCPU + y.ServerCPU,
		TempPeak: max(x.TempPeak, y.TempPeak), StepPeak: max(x.StepPeak, y.StepPeak), Procs: map[string]*Proc{},
		CgroupPeak: max(x.CgroupPeak, y.CgroupPeak), OOMKills: x.OOMKills + y.OOMKills,
		Failed: strings.Trim(x.Failed+"; "+y.Failed, "; ")}
	for _, src := range []*Result{x, y} {
		for n, p := range src.Procs {
			q := r.Procs[n]
			if q == nil {
				q = &Proc{}
				r.Procs[n] = q
			}
			q.CPU += p.CPU
			q.HWM, q.Anon, q.File = max(q.HWM, p.HWM), max(q.Anon, p.Anon), max(q.File, p.File)
		}
	}
	return r
}

// Median returns the round with the median wall time, its Range set to
// the rounds' min–max.
func Median(rs []*Result) *Result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *Result) int { return int(a.Wall - b.Wall) })
	m := sorted[len(sorted)/2]
	if len(rs) > 1 {
		m.Range = fmt.Sprintf("%.2f–%.2f", sorted[0].Wall.Seconds(), sorted[len(sorted)-1].Wall.Seconds())
	}
	return m
}

// LoadAvg returns /proc/loadavg's first three fields: a benchmark on a
// shared machine is only as good as the cores it got.
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Logf writes a timestamped progress line to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// MiB formats bytes as whole MiB.
func MiB(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }

// Secs formats a duration as seconds with two decimals.
func Secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// PerProcess is "name CPU/peak RSS (anon)" for every command, by name.
func (r *Result) PerProcess() string {
	names := slices.Sorted(maps.Keys(r.Procs))
	per := make([]string, len(names))
	for i, n := range names {
		p := r.Procs[n]
		per[i] = fmt.Sprintf("%s %s/%s (%s)", n, Secs(p.CPU), MiB(p.HWM), MiB(p.Anon))
	}
	return strings.Join(per, ", ")
}

// FileLine is "name MiB" of every command's peak file-backed RSS
// (Proc.File), by name.
func (r *Result) FileLine() string {
	names := slices.Sorted(maps.Keys(r.Procs))
	per := make([]string, len(names))
	for i, n := range names {
		per[i] = fmt.Sprintf("%s %s", n, MiB(r.Procs[n].File))
	}
	return strings.Join(per, ", ")
}

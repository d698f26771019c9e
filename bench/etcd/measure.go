package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
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

// procHWM returns VmHWM and RssAnon of pid in bytes and its command name.
func procHWM(pid int) (int64, int64, string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, "", err
	}
	defer f.Close()
	var hwm, anon int64
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
		}
	}
	return hwm, anon, name, sc.Err()
}

// children returns pid's child processes.
func children(pid int) []int {
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

// dirSize returns the bytes of regular files under dir.
func dirSize(dir string) int64 {
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

// run starts cmd, samples its process tree every 20 ms until it exits, and
// returns the measurements. The last sample of a process's CPU may miss
// its final ≤ 20 ms; the tree's total CPU is exact (wait4).
func run(name string, cmd *exec.Cmd, tmpDirs ...string) (*result, error) {
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
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
	var tempPeak int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
	sampleAll := func() {
		pids := []int{cmd.Process.Pid}
		for i := 0; i < len(pids); i++ {
			pids = append(pids, children(pids[i])...)
		}
		for _, pid := range pids {
			hwm, anon, pname, err := procHWM(pid)
			if err != nil || pname == "" {
				continue
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
		for _, d := range tmpDirs {
			tempPeak = max(tempPeak, dirSize(d))
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
	if waitErr != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, waitErr, strings.TrimSpace(stderr.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := &result{
		Name:     name,
		Wall:     wall,
		CPU:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		TempPeak: tempPeak,
		Procs:    map[string]*proc{},
	}
	for _, d := range tmpDirs {
		r.TempPeak = max(r.TempPeak, dirSize(d))
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

func mib(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// report prints the results as a table.
func report(w io.Writer, res *results) {
	fmt.Fprintf(w, "\netcd: %d keys, %d MiB of values; snapshot %d MiB; %d round(s), median shown; load average at the end %s\n\n",
		res.Keys, res.SizeBytes>>20, res.SnapshotBytes>>20, res.Rounds, res.LoadAvg)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall s\trounds s\tCPU s (tree)\tetcd server CPU s\tper process: CPU s / peak RSS MiB (anon)\ttemp disk MiB\t")
	for _, r := range res.Rows {
		var names []string
		for n := range r.Procs {
			names = append(names, n)
		}
		sort.Strings(names)
		var per []string
		for _, n := range names {
			p := r.Procs[n]
			per = append(per, fmt.Sprintf("%s %s/%s (%s)", n, secs(p.CPU), mib(p.HWM), mib(p.Anon)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, secs(r.Wall), r.Range, secs(r.CPU), secs(r.EtcdCPU), strings.Join(per, ", "), mib(r.TempPeak))
	}
	_ = tw.Flush() // w is stdout: like the fmt writes, not worth an error branch
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

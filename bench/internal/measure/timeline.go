package measure

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Where a process's wall time goes, from /proc/<pid>/task/*/schedstat
// (summed over its threads): on a core, runnable but waiting for one
// (run delay: the cores were taken, by the run's other processes or the
// machine's), or neither (blocked: on a pipe, a socket, a lock, a sleep).
// A process that waits for a core is starved by CPU; one that blocks is
// starved by its input or its output.

// sched is one process's schedstat totals over its live threads.
type sched struct {
	onCPU, delay time.Duration
	slices       int64 // times a thread was put on a core
}

// readSched sums /proc/<pid>/task/*/schedstat.
func readSched(pid int) (sched, bool) {
	var s sched
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	ok := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := strings.Fields(string(b))
		if len(v) < 3 {
			continue
		}
		cpu, _ := strconv.ParseInt(v[0], 10, 64)
		delay, _ := strconv.ParseInt(v[1], 10, 64)
		n, _ := strconv.ParseInt(v[2], 10, 64)
		s.onCPU += time.Duration(cpu)
		s.delay += time.Duration(delay)
		s.slices += n
		ok = true
	}
	return s, ok
}

// machineBusy returns the jiffies the whole machine's cores spent not idle
// (/proc/stat: all but idle and iowait) and the number of cores.
func machineBusy() (busy int64, cores int) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 8 && f[0] == "cpu":
			for i, v := range f[1:8] {
				if i == 3 || i == 4 { // idle, iowait
					continue
				}
				n, _ := strconv.ParseInt(v, 10, 64)
				busy += n
			}
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			cores++
		}
	}
	return busy, cores
}

// point is the running totals at one sample: per pid, and the machine's.
type point struct {
	at      time.Duration
	byPid   map[int]sched
	machine int64 // jiffies busy
}

// Sched is where one command's time went over a run (or a stretch of it),
// summed over its processes and threads.
type Sched struct {
	// OnCPU is the time its threads ran; Delay the time they were
	// runnable but waited for a core.
	OnCPU, Delay time.Duration
	// Slices is how often its threads were put on a core: with OnCPU, how
	// long it ran at a time.
	Slices int64
}

// Slice is one stretch of a run's timeline: the cores each command used
// and waited for, and the whole machine's busy cores (every process on
// it, other users' included).
type Slice struct {
	From, To time.Duration
	// Cores is each command's OnCPU over the stretch's wall; Waiting its
	// Delay over the wall (threads, so it can exceed the cores).
	Cores, Waiting map[string]float64
	// Machine is the machine's busy cores.
	Machine float64
}

// timeline records points every sample, for Result.Timeline and Sched.
type timeline struct {
	points []point
	// prev keeps each pid's last totals: a thread that exits takes its
	// figures out of the sum, which must not go backwards.
	prev map[int]sched
	// names is each pid's name at its last sample: a process is counted
	// under the name it ended with (a child that exec'd another binary).
	names map[int]string
}

// add records the totals of pids (named by name) at time at.
func (tl *timeline) add(at time.Duration, pids map[int]string) {
	if tl.prev == nil {
		tl.prev, tl.names = map[int]sched{}, map[int]string{}
	}
	p := point{at: at, byPid: map[int]sched{}}
	p.machine, _ = machineBusy()
	for pid, name := range pids {
		s, ok := readSched(pid)
		if !ok {
			s = tl.prev[pid] // ended: its last totals
		}
		old := tl.prev[pid]
		s.onCPU, s.delay, s.slices = max(s.onCPU, old.onCPU), max(s.delay, old.delay), max(s.slices, old.slices)
		tl.prev[pid], tl.names[pid] = s, name
		p.byPid[pid] = s
	}
	tl.points = append(tl.points, p)
}

// between returns each name's figures from point x to point y.
func (tl *timeline) between(x, y point) map[string]Sched {
	out := map[string]Sched{}
	for pid, s := range y.byPid {
		f := x.byPid[pid]
		t := out[tl.names[pid]]
		t.OnCPU += s.onCPU - f.onCPU
		t.Delay += s.delay - f.delay
		t.Slices += s.slices - f.slices
		out[tl.names[pid]] = t
	}
	return out
}

// totals returns each name's figures between the first and the last point.
func (tl *timeline) totals() map[string]Sched {
	if len(tl.points) < 2 {
		return map[string]Sched{}
	}
	return tl.between(tl.points[0], tl.points[len(tl.points)-1])
}

// slices cuts the points into stretches of every (at least one sample
// each).
func (tl *timeline) slices(every time.Duration) []Slice {
	var out []Slice
	if len(tl.points) < 2 {
		return out
	}
	_, cores := machineBusy()
	from := tl.points[0]
	for i, p := range tl.points[1:] {
		if p.at-from.at < every && i+2 < len(tl.points) {
			continue
		}
		wall := (p.at - from.at).Seconds()
		sl := Slice{From: from.at, To: p.at, Cores: map[string]float64{}, Waiting: map[string]float64{}}
		for name, s := range tl.between(from, p) {
			sl.Cores[name] = s.OnCPU.Seconds() / wall
			sl.Waiting[name] = s.Delay.Seconds() / wall
		}
		if cores > 0 {
			sl.Machine = float64(p.machine-from.machine) / userHZ / wall
		}
		out = append(out, sl)
		from = p
	}
	return out
}

// machineCores is the machine's busy cores between the first and last
// point.
func (tl *timeline) machineCores() float64 {
	if len(tl.points) < 2 {
		return 0
	}
	first, last := tl.points[0], tl.points[len(tl.points)-1]
	wall := (last.at - first.at).Seconds()
	if wall <= 0 {
		return 0
	}
	return float64(last.machine-first.machine) / userHZ / wall
}

// WriteTimeline prints r's timeline (Options.Timeline) as a table: per
// stretch, the cores each command ran on and, in brackets, the cores'
// worth of its threads waiting for one; then the machine's busy cores.
func WriteTimeline(w io.Writer, r *Result) {
	if len(r.Timeline) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(r.Sched))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "s\t")
	for _, n := range names {
		fmt.Fprintf(tw, "%s cores (waiting)\t", n)
	}
	fmt.Fprintln(tw, "run's cores\tmachine's busy cores\t")
	for _, sl := range r.Timeline {
		fmt.Fprintf(tw, "%.1f–%.1f\t", sl.From.Seconds(), sl.To.Seconds())
		sum := 0.0
		for _, n := range names {
			fmt.Fprintf(tw, "%.2f (%.2f)\t", sl.Cores[n], sl.Waiting[n])
			sum += sl.Cores[n]
		}
		fmt.Fprintf(tw, "%.2f\t%.2f\t\n", sum, sl.Machine)
	}
	_ = tw.Flush() // w is stdout or a buffer
}

// SchedLine is "name CPU s, waited s, N slices" per command, by name,
// and the machine's busy cores over the run.
func (r *Result) SchedLine() string {
	names := slices.Sorted(maps.Keys(r.Sched))
	var parts []string
	for _, n := range names {
		s := r.Sched[n]
		parts = append(parts, fmt.Sprintf("%s on a core %s s, waiting for one %s s, %d slices", n, Secs(s.OnCPU), Secs(s.Delay), s.Slices))
	}
	return fmt.Sprintf("%s; machine busy %.2f cores", strings.Join(parts, "; "), r.MachineCores)
}

package measure

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRun: a shell that writes 8 MiB into a watched directory with dd and
// keeps it there while cat reads it and waits: the peak temporary disk is the file, dd is
// sampled by name, and the tree's CPU is the sum of its commands'; the
// options record the environment asked for, the read that starts a data
// phase, the root's name and the step's budget line.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	cmd := exec.Command("sh", "-c", "dd if=/dev/zero of="+f+" bs=1M count=16 2>/dev/null; echo 'time=x level=INFO msg=\"memory budget\" limit=1'; sleep 0.3 | cat "+f+" - >/dev/null; rm "+f)
	cmd.Env = append(os.Environ(), "GOGC=123", "GOMEMLIMIT=1MiB")
	r, err := Run("dd", cmd, Options{TmpDirs: []string{dir}, StartedBytes: 8 << 20, Env: []string{"GOGC", "GOMEMLIMIT"}, RootName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if r.TempPeak != 16<<20 {
		t.Errorf("TempPeak = %d, want %d", r.TempPeak, 16<<20)
	}
	// The root shell's figures go under RootName. A child the shell forks
	// is sampled under the shell's name until it execs, and one that ends
	// before the next sample (rm, 20 ms apart) stays "sh": that entry is
	// the shell's children, not the root.
	if r.Procs["root"] == nil || r.Procs["sleep"] == nil || r.Procs["sleep"].HWM == 0 || r.Procs["sleep"].File == 0 {
		t.Errorf("procs = %s", r.PerProcess())
	}
	if diff := cmp.Diff(`msg="memory budget" limit=1`, r.Budget); diff != "" {
		t.Errorf("budget line (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("GOGC=123 GOMEMLIMIT=1MiB", r.Procs["sleep"].Env); diff != "" {
		t.Errorf("sleep's env (-want +got):\n%s", diff)
	}
	if c := r.Procs["cat"]; c == nil || c.Serial <= 0 || c.Serial > r.Wall {
		t.Errorf("cat, which read 16 MiB and waited: %+v (wall %s)", c, r.Wall)
	}
	if r.Procs["sleep"].Serial != 0 {
		t.Errorf("sleep read nothing, Serial %s", r.Procs["sleep"].Serial)
	}
	var sum time.Duration
	for _, p := range r.Procs {
		sum += p.CPU
	}
	if sum != r.CPU || r.StepPeak == 0 || r.Wall < 300*time.Millisecond {
		t.Errorf("per-process CPU %s, tree %s; step peak %d; wall %s", sum, r.CPU, r.StepPeak, r.Wall)
	}
	if _, err := Run("false", exec.Command("false"), Options{}); err == nil {
		t.Error("a failed command: no error")
	}
}

// TestCgroup: under a 32 MiB cgroup, dd with a 256 MiB buffer is
// OOM-killed: a Result with Failed and the kill counted, not an error; a
// small command in the next cgroup runs and its peak is counted.
func TestCgroup(t *testing.T) {
	cgs, err := NewCgroups(32 << 20)
	if err != nil {
		t.Skipf("no memory cgroup can be made here: %v", err)
	}
	for _, tt := range []struct {
		args []string
		oom  bool
	}{
		{[]string{"dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"}, true},
		{[]string{"dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=16"}, false},
	} {
		cg, err := cgs.Create()
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run("dd", exec.Command(tt.args[0], tt.args[1:]...), Options{Cgroup: cg})
		if rerr := cg.Remove(); rerr != nil {
			t.Error(rerr)
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.args, err)
		}
		if got := r.OOMKills > 0 && r.Failed != ""; got != tt.oom || r.CgroupPeak <= 0 || r.CgroupPeak > 32<<20 {
			t.Errorf("%s: OOM kills %d, failed %q, cgroup peak %d; want an OOM kill: %v", tt.args, r.OOMKills, r.Failed, r.CgroupPeak, tt.oom)
		}
	}
}

func TestMedian(t *testing.T) {
	rs := []*Result{{Name: "a", Wall: 3 * time.Second}, {Name: "b", Wall: time.Second}, {Name: "c", Wall: 2 * time.Second}}
	m := Median(rs)
	if diff := cmp.Diff([]string{"c", "1.00–3.00"}, []string{m.Name, m.Range}); diff != "" {
		t.Errorf("median (-want +got):\n%s", diff)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"1GiB", 1 << 30, false}, {"256MiB", 256 << 20, false}, {"1.5KiB", 1536, false},
		{"2G", 2 << 30, false}, {"16M", 16 << 20, false}, {"4K", 4 << 10, false}, {"100B", 100, false},
		{"4096", 4096, false}, {"lots", 0, true}, {"1.5", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestTimeline: a shell that spins, then sleeps, with this test process
// followed as a server: each command's time on a core is counted under its
// name, the spinning shell's more than sleep's, and the stretches cover
// the run without gaps.
func TestTimeline(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 0.3")
	r, err := Run("spin", cmd, Options{Timeline: 100 * time.Millisecond, Servers: map[string]int{"server": os.Getpid()}, RootName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	root, sleep := r.Sched["root"], r.Sched["sleep"]
	if root.OnCPU <= sleep.OnCPU || root.Slices == 0 {
		t.Errorf("the spinning shell %+v, sleep %+v: want the shell on a core longer", root, sleep)
	}
	if _, ok := r.Sched["server"]; !ok {
		t.Errorf("no figures for the server: %s", r.SchedLine())
	}
	if len(r.Timeline) == 0 {
		t.Fatal("no timeline")
	}
	var at time.Duration
	for i, sl := range r.Timeline {
		if sl.From != at || sl.To <= sl.From {
			t.Errorf("stretch %d: %s–%s after %s", i, sl.From, sl.To, at)
		}
		at = sl.To
	}
	if at != r.Wall {
		t.Errorf("the timeline ends at %s, the run at %s", at, r.Wall)
	}
	var buf bytes.Buffer
	WriteTimeline(&buf, r)
	if !strings.Contains(buf.String(), "root cores (waiting)") {
		t.Errorf("timeline table:\n%s", buf.String())
	}
}

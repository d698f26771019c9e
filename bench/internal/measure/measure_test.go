package measure

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRun: a shell that writes 8 MiB into a watched directory with dd and
// keeps it there a moment: the peak temporary disk is the file, dd is
// sampled by name, and the tree's CPU is the sum of its commands'.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", "dd if=/dev/zero of="+filepath.Join(dir, "f")+" bs=1M count=8 2>/dev/null; sleep 0.2; rm "+filepath.Join(dir, "f"))
	r, err := Run("dd", cmd, dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.TempPeak != 8<<20 {
		t.Errorf("TempPeak = %d, want %d", r.TempPeak, 8<<20)
	}
	if r.Procs["sh"] == nil || r.Procs["sleep"] == nil || r.Procs["sleep"].HWM == 0 {
		t.Errorf("procs = %s", r.PerProcess())
	}
	var sum time.Duration
	for _, p := range r.Procs {
		sum += p.CPU
	}
	if sum != r.CPU || r.StepPeak == 0 || r.Wall < 200*time.Millisecond {
		t.Errorf("per-process CPU %s, tree %s; step peak %d; wall %s", sum, r.CPU, r.StepPeak, r.Wall)
	}
	if _, err := Run("false", exec.Command("false")); err == nil {
		t.Error("a failed command: no error")
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

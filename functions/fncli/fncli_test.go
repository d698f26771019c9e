package fncli

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/internal/schedbatch"
)

// TestMainExitCodes: stashflow-fn answers as `stashflow fn` does: exit 2
// for a step called wrongly, 0 for --list.
func TestMainExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{name: "list", args: []string{"--list"}, want: 0},
		{name: "no function", args: nil, want: ExitUsage},
		{name: "unknown function", args: []string{"nope"}, want: ExitUsage},
		{name: "unknown flag", args: []string{"verdict", "--nope"}, want: ExitUsage},
		{name: "bad memory limit", args: []string{"verdict", "--memory-limit", "lots"}, want: ExitUsage},
		{name: "an argument where none is taken", args: []string{"verdict", "extra"}, want: ExitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Main(context.Background(), tc.args); got != tc.want {
				t.Errorf("Main(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// TestHeavyNames: every name stashflow-fn leaves out is a built-in
// Function of the full build (a renamed Function would otherwise be
// exec'd into a binary that lacks it).
func TestHeavyNames(t *testing.T) {
	reg, err := functions.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range functions.HeavyNames {
		if !slices.Contains(reg.Names(), n) {
			t.Errorf("HeavyNames has %q, which is not a built-in Function", n)
		}
	}
}

// TestSchedBatch: a Function runs under SCHED_BATCH (and so does every
// thread and child its process makes) unless STASHFLOW_SCHED_BATCH=false;
// another value is a usage error. The policy is set before the Function's
// own Validate, so a Validate failure shows it too.
func TestSchedBatch(t *testing.T) {
	policies := func() map[uint32]int {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint32]int{}
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			p, err := schedbatch.Policy(tid)
			if err != nil {
				continue // ended meanwhile
			}
			got[p]++
		}
		return got
	}
	t.Setenv(functions.SchedBatchEnv, "maybe")
	if got := Main(context.Background(), []string{"verdict", "--session", "ns/s"}); got != ExitUsage {
		t.Errorf("%s=maybe: exit %d, want %d", functions.SchedBatchEnv, got, ExitUsage)
	}
	// Earlier runs in this test process applied it: back to the default.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if attr, err := unix.SchedGetAttr(tid, 0); err == nil {
			attr.Policy = 0                     // SCHED_OTHER
			_ = unix.SchedSetAttr(tid, attr, 0) // a thread may have ended
		}
	}
	t.Setenv(functions.SchedBatchEnv, "false")
	_ = Main(context.Background(), []string{"verdict"}) // fails Validate
	if p := policies(); p[schedbatch.PolicyBatch] != 0 {
		t.Errorf("%s=false: thread policies %v, want none SCHED_BATCH", functions.SchedBatchEnv, p)
	}
	t.Setenv(functions.SchedBatchEnv, "")
	_ = Main(context.Background(), []string{"verdict"})
	if p := policies(); len(p) != 1 || p[schedbatch.PolicyBatch] == 0 {
		t.Errorf("default: thread policies %v, want all SCHED_BATCH", p)
	}
}

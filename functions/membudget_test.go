package functions

import (
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/functions/membudget"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

type hungry struct{ fake }

func (*hungry) OwnMemory() int64 { return 100 << 20 }

// TestApplyMemoryBudget: the runtime resolves the step's limit, puts our
// share on this process and hands restic's to restic.Client through the
// environment. Expectations are bounded by this machine's cgroup limit,
// which Resolve applies.
func TestApplyMemoryBudget(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the runtime leaves this process's limit alone")
	}
	cgroup, err := membudget.SelfCgroupLimit()
	if err != nil {
		t.Fatal(err)
	}
	bounded := func(n int64) int64 {
		if cgroup.Bytes > 0 && cgroup.Bytes < n {
			return cgroup.Bytes
		}
		return n
	}
	cases := []struct {
		name      string
		fn        Function
		environ   []string
		flag      string
		flagSet   bool
		wantLimit int64
		wantSelf  int64
		wantErr   string
	}{
		{name: "the variable", fn: &fake{}, environ: []string{outputs.MemoryLimitEnv + "=512Mi"}, wantLimit: bounded(512 << 20)},
		{name: "the flag", fn: &fake{}, environ: []string{outputs.MemoryLimitEnv + "=512Mi"}, flag: "1Gi", flagSet: true, wantLimit: bounded(1 << 30)},
		{name: "a Function's own need", fn: &hungry{}, environ: []string{outputs.MemoryLimitEnv + "=1Gi"}, wantLimit: bounded(1 << 30), wantSelf: 100 << 20},
		{name: "a bad flag is a usage error", fn: &fake{}, flag: "much", flagSet: true, wantErr: `--memory-limit: "much" is not a size`},
	}
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			env := &step.Env{Environ: tc.environ}
			b, err := ApplyMemoryBudget(tc.fn, env, tc.flag, tc.flagSet)
			if tc.wantErr != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || err.Error() != tc.wantErr+" (e.g. 256Mi, 1GiB, 268435456, none)" {
					t.Fatalf("err = %v, want a ValidationError %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Bytes != tc.wantLimit {
				t.Errorf("limit = %d, want %d", b.Bytes, tc.wantLimit)
			}
			if tc.wantSelf != 0 && b.Self != tc.wantSelf {
				t.Errorf("self = %d, want %d", b.Self, tc.wantSelf)
			}
			if got := debug.SetMemoryLimit(-1); got != b.Self {
				t.Errorf("this process's memory limit = %d, want the budget's share %d", got, b.Self)
			}
			want := []string{outputs.ResticMemoryLimitEnv + "=" + strconv.FormatInt(b.Restic, 10)}
			if diff := cmp.Diff(want, env.Environ[len(tc.environ):]); diff != "" {
				t.Errorf("environment added for restic (-want +got):\n%s", diff)
			}
		})
	}
}

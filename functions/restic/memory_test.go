package restic

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/outputs"
)

// TestMemoryLimitEnv: restic's share of the step's budget reaches restic as
// GOMEMLIMIT, with the backup GOGC; what the step's environment sets
// itself wins.
func TestMemoryLimitEnv(t *testing.T) {
	base := []string{"RESTIC_REPOSITORY=/r", "RESTIC_PASSWORD=x", "PATH=/nonexistent"}
	cases := []struct {
		name      string
		environ   []string
		wantLimit int64
		// wantEnv: GOMEMLIMIT and GOGC as a backup's restic sees them.
		wantEnv []string
	}{
		{name: "no budget: no GOMEMLIMIT", wantEnv: []string{"GOGC=" + BackupGOGC}},
		{
			name: "a budget", environ: []string{outputs.ResticMemoryLimitEnv + "=201326592"}, wantLimit: 192 << 20,
			wantEnv: []string{"GOGC=" + BackupGOGC, "GOMEMLIMIT=201326592"},
		},
		{
			name: "the user's GOMEMLIMIT and GOGC win", environ: []string{outputs.ResticMemoryLimitEnv + "=201326592", "GOMEMLIMIT=1GiB", "GOGC=400"}, wantLimit: 192 << 20,
			wantEnv: []string{"GOMEMLIMIT=1GiB", "GOGC=400"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(append(append([]string(nil), base...), tc.environ...), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.MemoryLimit != tc.wantLimit {
				t.Errorf("MemoryLimit = %d, want %d", c.MemoryLimit, tc.wantLimit)
			}
			var got []string
			for _, kv := range c.env("GOGC=" + BackupGOGC) {
				if strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=") {
					got = append(got, kv)
				}
			}
			if diff := cmp.Diff(tc.wantEnv, got); diff != "" {
				t.Errorf("restic's GOMEMLIMIT and GOGC (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := NewClient(append(base, outputs.ResticMemoryLimitEnv+"=lots"), nil); !IsKind(err, KindRepositoryConfig) || !strings.Contains(err.Error(), outputs.ResticMemoryLimitEnv) {
		t.Errorf("a share that is not a number: err = %v, want a configuration error naming %s", err, outputs.ResticMemoryLimitEnv)
	}
}

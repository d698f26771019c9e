package translators_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/translators"
)

// TestRetentionPolicyFields: every field of a retention policy reaches the
// retention step of each target (the retention Function's RETENTION_*
// variables, restic forget's flags), for a BackupConfiguration and a
// BackupBatch.
func TestRetentionPolicyFields(t *testing.T) {
	policy := v1alpha1.RetentionPolicy{
		Name:        "keep-all-kinds",
		KeepLast:    ptr.To[int64](2),
		KeepHourly:  ptr.To[int64](3),
		KeepDaily:   ptr.To[int64](4),
		KeepWeekly:  ptr.To[int64](5),
		KeepMonthly: ptr.To[int64](6),
		KeepYearly:  ptr.To[int64](7),
		KeepTags:    []string{"release", "monthly", "a,b"}, // "a,b": both tags, one rule
		Prune:       true,
		DryRun:      true,
	}
	want := []string{"--keep-last=2", "--keep-hourly=3", "--keep-daily=4", "--keep-weekly=5", "--keep-monthly=6", "--keep-yearly=7", `--keep-tags=release,monthly,"a,b"`, "--prune=true", "--dry-run=true"}
	for _, tt := range []struct {
		kind, file string
		set        func(in *input, p *v1alpha1.RetentionPolicy)
		targets    int
	}{
		{"BackupConfiguration", "etcd-backup-http-hooks.yaml", func(in *input, p *v1alpha1.RetentionPolicy) { configOf(in).Spec.RetentionPolicy = p }, 1},
		{"BackupBatch", "batch-parallel.yaml", func(in *input, p *v1alpha1.RetentionPolicy) { batchOf(in).Spec.RetentionPolicy = p }, 3},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			in := mustLoad(t, tt.file)
			tt.set(in, policy.DeepCopy())
			plan, err := in.translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			var got, wantAll [][]string
			for _, s := range plan.Graph.Steps {
				if s.Labels[translators.LabelFunction] != "retention" {
					continue
				}
				got = append(got, flagsWith(s.Process.Args, "--keep-", "--prune=", "--dry-run="))
			}
			for range tt.targets {
				wantAll = append(wantAll, want)
			}
			if diff := cmp.Diff(wantAll, got); diff != "" {
				t.Errorf("the retention steps' restic forget flags (-want +got):\n%s", diff)
			}
		})
	}
}

package translators_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/translators"
)

// TestRepositoryCheckRun: a Repository's check run is one step, `stashflow
// fn repository-check`, that never creates a repository, succeeds when
// restic check ran (the outputs say what it found) and reads the subset of
// spec.integrityCheck; the refresh run is unchanged.
func TestRepositoryCheckRun(t *testing.T) {
	repo := &v1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "repo"},
		Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{StorageSecretName: "repo-secret", Local: &v1alpha1.LocalSpec{
			HostPath: &corev1.HostPathVolumeSource{Path: "/data"}, MountPath: "/repo",
		}}},
	}
	tests := []struct {
		name        string
		work        translators.RepositoryWork
		args        []string
		outputs     []string
		displayName string
	}{
		{"structure only", translators.RepositoryWork{Check: &translators.RepositoryCheck{}},
			[]string{"fn", "repository-check", "--create=false", "--fail-on-errors=false"},
			[]string{"integrity", "errors", "brokenPacks"}, "check the repository's integrity (restic check)"},
		{"a subset of the data", translators.RepositoryWork{Check: &translators.RepositoryCheck{ReadDataSubset: "1/5"}},
			[]string{"fn", "repository-check", "--create=false", "--fail-on-errors=false", "--read-data-subset=1/5"},
			[]string{"integrity", "errors", "brokenPacks"}, "check the repository's integrity (restic check), reading 1/5 of its data"},
		{"refresh", translators.RepositoryWork{Create: true},
			[]string{"fn", "repository-init", "--create=true"},
			[]string{"created", "exists", "snapshotCount", "totalSize", "firstSnapshotTime", "lastSnapshotTime", "snapshots", "forgottenIDs"}, "open the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := translators.RepositoryRun(repo, "repo-check-1", tt.work, translators.Options{Image: "stashflow:test"})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Steps) != 1 {
				t.Fatalf("%d steps, want 1", len(g.Steps))
			}
			s := g.Steps[0]
			var outs []string
			for _, o := range s.Outputs {
				outs = append(outs, o.Name)
			}
			got := []any{s.Process.Args, outs, s.DisplayName, len(g.Volumes)}
			want := []any{tt.args, tt.outputs, tt.displayName, 1}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("check run (-want +got):\n%s", diff)
			}
		})
	}
}

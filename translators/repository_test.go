package translators_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/argolint"
	"github.com/stashflow/stashflow/pipeline/argo"
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

// TestRepositoryRunKinds: the three runs of a Repository say what they are
// in their labels (the Repository and the kind of run on the Workflow and
// its pods, the Function on the step's template) and how long a finished
// run is kept: a refresh run that succeeded RefreshRunTTL (Argo's
// secondsAfterSuccess), every other one the engine's default. The rendered
// Workflows pass Argo's validation and are goldens.
func TestRepositoryRunKinds(t *testing.T) {
	repo := &v1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "repo"},
		Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{StorageSecretName: "repo-secret", Local: &v1alpha1.LocalSpec{
			HostPath: &corev1.HostPathVolumeSource{Path: "/data"}, MountPath: "/repo",
		}}},
	}
	tests := []struct {
		name     string
		work     translators.RepositoryWork
		kind     string
		function string
		ttl      time.Duration
	}{
		{"refresh", translators.RepositoryWork{Create: true, Forget: []string{"0123abcd"}}, v1alpha1.RepositoryRunRefresh, "repository-init", translators.RefreshRunTTL},
		{"check", translators.RepositoryWork{Check: &translators.RepositoryCheck{ReadDataSubset: "10%"}}, v1alpha1.RepositoryRunCheck, "repository-check", 0},
		{"wipe", translators.RepositoryWork{Wipe: true}, v1alpha1.RepositoryRunWipe, "repository-wipe", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := translators.RepositoryRun(repo, "repo-"+tt.name+"-1", tt.work, translators.Options{Image: testImage})
			if err != nil {
				t.Fatal(err)
			}
			s := g.Steps[0]
			got := []any{g.Labels[v1alpha1.LabelRepository], g.Labels[v1alpha1.LabelRepositoryRun], s.Name, s.Template, s.Labels[translators.LabelFunction], g.SucceededTTL}
			want := []any{"repo", tt.kind, tt.function, tt.function, tt.function, tt.ttl}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("repository, run kind, step, template, function label, succeeded TTL (-want +got):\n%s", diff)
			}
			wf, err := argo.Render(g, argo.Options{})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatalf("Argo rejects the rendered workflow: %v", err)
			}
			out, err := yaml.Marshal(wf)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "repository-"+tt.name+".graph.txt", g.Format())
			golden(t, "repository-"+tt.name+".workflow.yaml", string(out))
		})
	}
}

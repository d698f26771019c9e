package repository

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// TestRunPlan: each kind of Repository run is read under its own step's
// name, and a check or wipe run also under repository-init, the name its
// step had before; the node read is the one the engine reached.
func TestRunPlan(t *testing.T) {
	repo := &v1alpha1.Repository{}
	repo.Namespace, repo.Name = "ns", "repo"
	repo.Spec.Backend.StorageSecretName = "secret"
	repo.Spec.Backend.S3 = &v1alpha1.S3Spec{Endpoint: "http://minio:9000", Bucket: "b"}
	node := func(step string, phase pipeline.Phase) pipeline.NodeStatus {
		return pipeline.NodeStatus{Step: step, Phase: phase}
	}
	tests := []struct {
		name  string
		work  translators.RepositoryWork
		steps []string
		nodes []pipeline.NodeStatus
		want  pipeline.NodeStatus
	}{
		{"refresh", translators.RepositoryWork{Create: true}, []string{"repository-init"},
			[]pipeline.NodeStatus{node("repository-init", pipeline.PhaseSucceeded)}, node("repository-init", pipeline.PhaseSucceeded)},
		{"check", translators.RepositoryWork{Check: &translators.RepositoryCheck{}}, []string{"repository-check", "repository-init"},
			[]pipeline.NodeStatus{node("repository-check", pipeline.PhaseRunning), node("repository-init", pipeline.PhasePending)},
			node("repository-check", pipeline.PhaseRunning)},
		{"check submitted under the old step name", translators.RepositoryWork{Check: &translators.RepositoryCheck{}}, []string{"repository-check", "repository-init"},
			[]pipeline.NodeStatus{node("repository-check", pipeline.PhaseOmitted), node("repository-init", pipeline.PhaseSucceeded)},
			node("repository-init", pipeline.PhaseSucceeded)},
		{"wipe not started", translators.RepositoryWork{Wipe: true}, []string{"repository-wipe", "repository-init"},
			[]pipeline.NodeStatus{node("repository-wipe", pipeline.PhasePending), node("repository-init", pipeline.PhasePending)},
			node("repository-wipe", pipeline.PhasePending)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := translators.RepositoryRun(repo, "repo-run", tt.work, translators.Options{Image: "stashflow"})
			if err != nil {
				t.Fatal(err)
			}
			var steps []string
			for _, s := range runPlan(g).Steps {
				steps = append(steps, s.Name)
			}
			if diff := cmp.Diff(tt.steps, steps); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, runNode(&engine.Run{Nodes: tt.nodes})); diff != "" {
				t.Errorf("node read (-want +got):\n%s", diff)
			}
		})
	}
}

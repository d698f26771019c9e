package translators

import (
	"errors"
	"fmt"
	"path"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// RepositoryStep is the name of the one step of a Repository's run.
const RepositoryStep = "repository-init"

// RepositoryRun is the graph the Repository controller runs for repo, named
// name: one step, `stashflow fn repository-init`, with the repository's
// environment (its Secret's keys as secret references, never values) and,
// for a local backend, its volume, as every session step has them. It opens
// the repository, initialises it if create is true and the backend holds
// none, and reports what it holds (outputs.RepositoryCreated,
// RepositoryExists, SnapshotCount, TotalSize, First/LastSnapshotTime).
// On Argo the step is a pod of the stashflow image; on the local engine a
// child process of the operator.
func RepositoryRun(repo *v1alpha1.Repository, name string, create bool, opts Options) (*pipeline.Graph, error) {
	if repo == nil {
		return nil, errors.New("no Repository")
	}
	p := pipeline.Process{Image: opts.Image, Command: []string{"stashflow"},
		Args: []string{"fn", "repository-init", "--create=" + strconv.FormatBool(create)}}
	addRepository(&p, repo)
	s := pipeline.Step{
		Name:        RepositoryStep,
		DisplayName: "open the repository",
		Template:    RepositoryStep,
		Process:     p,
		Labels:      stepLabels(nil, StepKindFunction, "", RepositoryStep),
	}
	for _, o := range []string{outputs.RepositoryCreated, outputs.RepositoryExists, outputs.SnapshotCount, outputs.TotalSize,
		outputs.FirstSnapshotTime, outputs.LastSnapshotTime} {
		s.Outputs = append(s.Outputs, pipeline.Output{Name: o, Path: path.Join(outputs.Dir, o)})
	}
	g := &pipeline.Graph{
		Name:      name,
		Namespace: repo.Namespace,
		Labels: map[string]string{
			v1alpha1.LabelRepository: repo.Name,
			v1alpha1.LabelManagedBy:  v1alpha1.ManagedByValue,
		},
		Steps: []pipeline.Step{s},
	}
	if l := repo.Spec.Backend.Local; l != nil {
		v := corev1.Volume{Name: repositoryVolume}
		switch {
		case l.HostPath != nil:
			v.HostPath = l.HostPath.DeepCopy()
		case l.PersistentVolumeClaim != nil:
			v.PersistentVolumeClaim = l.PersistentVolumeClaim.DeepCopy()
		}
		g.Volumes = []corev1.Volume{v}
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("the Repository's run is invalid: %w", err)
	}
	return g, nil
}

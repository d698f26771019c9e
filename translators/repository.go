package translators

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// RepositoryStep is the name of the one step of a Repository's run.
const RepositoryStep = "repository-init"

// RepositoryWork is what a Repository's run does beside opening it.
type RepositoryWork struct {
	// Create initialises the repository if the backend holds none.
	Create bool
	// Forget are snapshot ids to forget (restic forget --prune).
	Forget []string
	// Wipe deletes the repository's data instead (repository-wipe): the
	// Repository was deleted with wipeOut.
	Wipe bool
	// Check verifies the repository instead (repository-check): its
	// integrity check.
	Check *RepositoryCheck
}

// RepositoryCheck is an integrity check of a Repository.
type RepositoryCheck struct {
	// ReadDataSubset is restic check's --read-data-subset; empty: the
	// structure only.
	ReadDataSubset string
}

// RepositoryRun is the graph the Repository controller runs for repo, named
// name: one step, `stashflow fn repository-init` (or, with work.Wipe,
// `stashflow fn repository-wipe`), with the repository's environment (its
// Secret's keys as secret references, never values) and, for a local
// backend, its volume, as every session step has them. It opens the
// repository, initialises it if work.Create is true and the backend holds
// none, forgets work.Forget, and reports what it holds
// (outputs.RepositoryCreated, RepositoryExists, SnapshotCount, TotalSize,
// First/LastSnapshotTime, Snapshots, ForgottenIDs). With work.Check it runs
// `stashflow fn repository-check` instead, which never creates a
// repository and succeeds when restic check ran, reporting outputs.Integrity,
// Errors and BrokenPacks. On Argo the step is a
// pod of the stashflow image; on the local engine a child process of the
// operator.
func RepositoryRun(repo *v1alpha1.Repository, name string, work RepositoryWork, opts Options) (*pipeline.Graph, error) {
	if repo == nil {
		return nil, errors.New("no Repository")
	}
	args := []string{"fn", "repository-init", "--create=" + strconv.FormatBool(work.Create)}
	if len(work.Forget) > 0 {
		args = append(args, "--forget="+strings.Join(work.Forget, ","))
	}
	display := "open the repository"
	declared := []string{outputs.RepositoryCreated, outputs.RepositoryExists, outputs.SnapshotCount, outputs.TotalSize,
		outputs.FirstSnapshotTime, outputs.LastSnapshotTime, outputs.Snapshots, outputs.ForgottenIDs}
	switch {
	case work.Wipe:
		args, display, declared = []string{"fn", "repository-wipe"}, "wipe the repository's data (wipeOut)", nil
	case work.Check != nil:
		// The step succeeds when restic check ran, whatever it found: the
		// outputs say what (a failed step reports none).
		args = []string{"fn", "repository-check", "--create=false", "--fail-on-errors=false"}
		display = "check the repository's integrity (restic check)"
		if work.Check.ReadDataSubset != "" {
			args = append(args, "--read-data-subset="+work.Check.ReadDataSubset)
			display += ", reading " + work.Check.ReadDataSubset + " of its data"
		}
		declared = []string{outputs.Integrity, outputs.Errors, outputs.BrokenPacks}
	}
	p := pipeline.Process{Image: opts.Image, Command: []string{"stashflow"}, Args: args}
	addRepository(&p, repo)
	s := pipeline.Step{
		Name:        RepositoryStep,
		DisplayName: display,
		Template:    RepositoryStep,
		Process:     p,
		Labels:      stepLabels(nil, StepKindFunction, "", RepositoryStep),
	}
	for _, o := range declared {
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

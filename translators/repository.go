package translators

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// The one step of a Repository's run is named for the Function it runs:
// the refresh run's step opens the repository (repository-init), a check
// run's checks it, a wipe run's wipes it. (Before, every run's step was
// named RefreshStep; a run is read against the plan it ran, so a check or
// wipe run submitted then is still read under that name.)
const (
	RefreshStep = "repository-init"
	CheckStep   = "repository-check"
	WipeStep    = "repository-wipe"
)

// RefreshRunTTL is how long an engine keeps a Repository's refresh run
// (open, forget, list) once it succeeded. Refresh runs follow every backup
// session into the Repository and come every RefreshInterval: kept the
// engine's default time (Argo: a day), hundreds of Workflows, each holding
// the repository's snapshot list in its outputs, would pile up per
// Repository. The controller reads a run's outcome as soon as the run
// ends (it watches its Workflows); the outcome lives on in the
// Repository's status, its Snapshot objects and its events. A refresh run
// that failed, and every check and wipe run, is kept the engine's default
// time. (If the operator is down longer than this when a refresh ends, the
// run is gone when it looks: it is run again, which a refresh allows, being
// idempotent, forgets included; nothing is marked failed.)
const RefreshRunTTL = 10 * time.Minute

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
// `stashflow fn repository-wipe`), named for its Function (RefreshStep,
// CheckStep, WipeStep), with the repository's environment (its
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
// operator. The graph's labels name the Repository (v1alpha1.LabelRepository)
// and the kind of run (LabelRepositoryRun: refresh, check or wipe), its step
// is named and labelled for the Function it runs, and a refresh run that succeeded
// is kept RefreshRunTTL (Graph.SucceededTTL).
func RepositoryRun(repo *v1alpha1.Repository, name string, work RepositoryWork, opts Options) (*pipeline.Graph, error) {
	if repo == nil {
		return nil, errors.New("no Repository")
	}
	args := []string{"fn", "repository-init", "--create=" + strconv.FormatBool(work.Create)}
	if len(work.Forget) > 0 {
		args = append(args, "--forget="+strings.Join(work.Forget, ","))
	}
	display, function, kind, ttl := "open the repository", RefreshStep, v1alpha1.RepositoryRunRefresh, RefreshRunTTL
	declared := []string{outputs.RepositoryCreated, outputs.RepositoryExists, outputs.SnapshotCount, outputs.TotalSize,
		outputs.FirstSnapshotTime, outputs.LastSnapshotTime, outputs.Snapshots, outputs.ForgottenIDs}
	switch {
	case work.Wipe:
		args, display, declared = []string{"fn", "repository-wipe"}, "wipe the repository's data (wipeOut)", nil
		function, kind, ttl = WipeStep, v1alpha1.RepositoryRunWipe, 0
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
		function, kind, ttl = CheckStep, v1alpha1.RepositoryRunCheck, 0
	}
	p := pipeline.Process{Image: opts.Image, Command: []string{"stashflow"}, Args: args}
	addRepository(&p, repo)
	s := pipeline.Step{
		Name:        function,
		DisplayName: display,
		Template:    function,
		Process:     p,
		Labels:      stepLabels(nil, StepKindFunction, "", function),
	}
	for _, o := range declared {
		s.Outputs = append(s.Outputs, pipeline.Output{Name: o, Path: path.Join(outputs.Dir, o)})
	}
	g := &pipeline.Graph{
		Name:      name,
		Namespace: repo.Namespace,
		Labels: map[string]string{
			v1alpha1.LabelRepository:    repo.Name,
			v1alpha1.LabelRepositoryRun: kind,
			v1alpha1.LabelManagedBy:     v1alpha1.ManagedByValue,
		},
		SucceededTTL: ttl,
		Steps:        []pipeline.Step{s},
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

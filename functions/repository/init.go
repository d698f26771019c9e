package repository

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// InitName is the registered name of the repository-init Function.
const InitName = "repository-init"

// OutputCreated is "true" when repository-init created the repository.
const OutputCreated = outputs.RepositoryCreated

// Init is the repository-init Function: it opens the repository and, with
// --create (the default), initialises it if it does not exist yet, under the
// init lock; then it reports what the repository holds (snapshot count,
// stored size, times of the oldest and newest snapshot). The Repository
// controller runs it once before any session uses a Repository, and again
// to refresh the Repository's status; with --create=false (a Repository no
// backup uses) a missing repository is reported as exists=false, not
// created.
type Init struct {
	create bool
}

// NewInit returns a fresh repository-init Function.
func NewInit() *Init { return &Init{create: true} }

// Description implements step.Describer.
func (*Init) Description() string {
	return "open the restic repository, initialise it if it does not exist yet (restic init, once, under the init lock) and report its snapshot count and size"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (*Init) DeclaredOutputs() []string {
	return []string{outputs.RepositoryCreated, outputs.RepositoryExists, outputs.SnapshotCount, outputs.TotalSize,
		outputs.FirstSnapshotTime, outputs.LastSnapshotTime}
}

// Flags implements step.Function.
func (f *Init) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&f.create, "create", true, "initialise the repository if the backend holds none (false: report exists=false)")
}

// Validate implements step.Function.
func (*Init) Validate() error { return nil }

// Run implements step.Function.
func (f *Init) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	// Most runs find the repository: list its snapshots first, and take
	// the init path (under the init lock) only when the backend holds none.
	created := false
	snaps, err := repo.Snapshots(ctx, restic.Filter{})
	if restic.IsKind(err, restic.KindNoRepository) {
		if !f.create {
			env.Logger().Info("no repository in the backend, not created")
			return step.Outputs{outputs.RepositoryCreated: "false", outputs.RepositoryExists: "false"}, nil
		}
		if created, err = repo.EnsureRepository(ctx); err != nil {
			return nil, err
		}
		snaps, err = repo.Snapshots(ctx, restic.Filter{})
	}
	if err != nil {
		return nil, err
	}
	st, err := repo.Stats(ctx, "raw-data")
	if err != nil {
		return nil, err
	}
	out := step.Outputs{
		outputs.RepositoryCreated: strconv.FormatBool(created),
		outputs.RepositoryExists:  "true",
		outputs.SnapshotCount:     strconv.Itoa(len(snaps)),
		outputs.TotalSize:         strconv.FormatUint(st.TotalSize, 10),
	}
	if len(snaps) > 0 { // oldest first
		out[outputs.FirstSnapshotTime] = snaps[0].Time.UTC().Format(time.RFC3339)
		out[outputs.LastSnapshotTime] = snaps[len(snaps)-1].Time.UTC().Format(time.RFC3339)
	}
	env.Logger().Info("repository ready", "created", created, "snapshots", len(snaps))
	return out, nil
}

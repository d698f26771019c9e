package repository

import (
	"context"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// InitName is the registered name of the repository-init Function.
const InitName = "repository-init"

// OutputCreated is "true" when repository-init created the repository.
const OutputCreated = "created"

// Init is the repository-init Function: it initialises the repository if it
// does not exist yet, under the init lock, and does nothing else. The
// translators put it before the members of a Parallel BackupBatch into a
// repository that has no backup yet, so that one step initialises it
// before several start at once.
type Init struct{}

// NewInit returns a fresh repository-init Function.
func NewInit() *Init { return &Init{} }

// Description implements step.Describer.
func (*Init) Description() string {
	return "initialise the restic repository if it does not exist yet (restic init, once, under the init lock)"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (*Init) DeclaredOutputs() []string { return []string{OutputCreated} }

// Flags implements step.Function.
func (*Init) Flags(*pflag.FlagSet) {}

// Validate implements step.Function.
func (*Init) Validate() error { return nil }

// Run implements step.Function.
func (*Init) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	created, err := repo.EnsureRepository(ctx)
	if err != nil {
		return nil, err
	}
	env.Logger().Info("repository ready", "created", created)
	return step.Outputs{OutputCreated: strconv.FormatBool(created)}, nil
}

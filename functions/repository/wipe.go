package repository

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// WipeName is the registered name of the repository-wipe Function.
const WipeName = "repository-wipe"

// resticLayout are the entries restic writes in a repository's directory.
var resticLayout = []string{"config", "keys", "data", "index", "snapshots", "locks"}

// Wipe is the repository-wipe Function: it deletes a local restic
// repository's data (a Repository deleted with wipeOut: true). It first
// opens the repository with the password, so that it never deletes a
// directory this repository's Secret cannot open, then removes restic's
// entries (config, keys, data, index, snapshots, locks) and the directory
// if that leaves it empty; other files in the directory are kept. A backend
// that holds no repository is already wiped. Only local repositories (a
// path, or local:<path>) are supported: the API refuses wipeOut for the
// other backends.
type Wipe struct{}

// NewWipe returns a fresh repository-wipe Function.
func NewWipe() *Wipe { return &Wipe{} }

// Description implements step.Describer.
func (*Wipe) Description() string {
	return "delete a local restic repository's data (restic's files only), after opening it with its password"
}

// Flags implements step.Function.
func (*Wipe) Flags(*pflag.FlagSet) {}

// Validate implements step.Function.
func (*Wipe) Validate() error { return nil }

// Run implements step.Function.
func (*Wipe) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	dir, ok := localPath(repo.Location)
	if !ok {
		return nil, fmt.Errorf("repository-wipe: %s is not a local repository; only local repositories can be wiped", restic.RedactLocation(repo.Location))
	}
	err = repo.Open(ctx)
	switch {
	case restic.IsKind(err, restic.KindNoRepository):
		env.Logger().Info("no repository in the backend: nothing to wipe")
		return step.Outputs{}, nil
	case err != nil:
		return nil, err
	}
	var errs []error
	for _, name := range resticLayout {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, name)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("repository-wipe: %w", err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		env.Logger().Info("repository directory kept: it holds other files", "directory", dir)
	}
	env.Logger().Info("repository wiped", "directory", dir)
	return step.Outputs{}, nil
}

// localPath is the directory of a local restic repository location.
func localPath(loc string) (string, bool) {
	loc = strings.TrimPrefix(loc, "local:")
	if !filepath.IsAbs(loc) {
		return "", false
	}
	return filepath.Clean(loc), true
}

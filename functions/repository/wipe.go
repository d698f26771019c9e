package repository

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// WipeName is the registered name of the repository-wipe Function.
const WipeName = "repository-wipe"

// resticLayout are the entries restic writes in a repository's directory.
var resticLayout = []string{"config", "keys", "data", "index", "snapshots", "locks"}

// ObjectStore is a restic repository on an object store (S3, GCS, Azure) or
// a rest-server, as repository-wipe sees it: the names of its objects,
// relative to the repository's root ("config", "keys/<id>",
// "data/<id[:2]>/<id>", ...; anything else under the root too), and a way
// to delete some of them. Deleting an object that is gone is no error.
type ObjectStore interface {
	// List returns the names of the objects under the repository's root.
	List(ctx context.Context) ([]string, error)
	// Delete deletes the named objects.
	Delete(ctx context.Context, names []string) error
	// String names the backend (kind, bucket or container, prefix,
	// endpoint) without credentials, for messages.
	String() string
}

// OpenObjectStore returns the ObjectStore of a restic repository location
// (RESTIC_REPOSITORY) with the credentials and settings of the step's
// environment; a backend it does not support is an error that names it.
type OpenObjectStore func(ctx context.Context, location string, environ []string) (ObjectStore, error)

// Wipe is the repository-wipe Function: it deletes a restic repository's
// data (a Repository deleted with wipeOut: true). It first opens the
// repository with the password, so that it never deletes anything this
// repository's Secret cannot open, then removes restic's own files and
// nothing else:
//
//   - local (a path, or local:<path>): the entries config, keys, data,
//     index, snapshots and locks, then the directory if that leaves it
//     empty; other files in the directory are kept.
//   - object stores (S3, GCS, Azure) and rest-server, through Stores: only
//     objects whose names are restic's layout under the repository's root
//     (config, keys|locks|snapshots|index/<64 hex>, data/<2 hex>/<64 hex>).
//     Every other object is kept, so a repository whose prefix is the
//     parent of another repository's (or "", the whole bucket) never
//     touches the other one: its objects have one more path element.
//     Packs, indexes, snapshots and locks go first, then the keys, the
//     config last, so that a wipe that stops half-way still opens and is
//     finished by the next one; a repository whose keys are all gone but
//     whose config is left (a wipe stopped between the two) has its config
//     deleted too, since no password can open it any more.
//
// A backend that holds no repository is already wiped.
type Wipe struct {
	// Stores opens object stores; nil: only local repositories are wiped.
	Stores OpenObjectStore
}

// NewWipe returns a fresh repository-wipe Function that wipes local
// repositories and, with stores, those stores can open.
func NewWipe(stores OpenObjectStore) *Wipe { return &Wipe{Stores: stores} }

// Description implements step.Describer.
func (*Wipe) Description() string {
	return "delete a restic repository's data (restic's files only), after opening it with its password"
}

// Flags implements step.Function.
func (*Wipe) Flags(*pflag.FlagSet) {}

// Validate implements step.Function.
func (*Wipe) Validate() error { return nil }

// Run implements step.Function.
func (w *Wipe) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	repo, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	if dir, ok := localPath(repo.Location); ok {
		return wipeLocal(ctx, env, repo, dir)
	}
	if w.Stores == nil {
		return nil, fmt.Errorf("repository-wipe: %s is not a local repository; this build wipes only local repositories", restic.RedactLocation(repo.Location))
	}
	store, err := w.Stores(ctx, repo.Location, env.Environ)
	if err != nil {
		return nil, fmt.Errorf("repository-wipe: %w", err)
	}
	return wipeStore(ctx, env, repo, store)
}

func wipeLocal(ctx context.Context, env *step.Env, repo *restic.Client, dir string) (step.Outputs, error) {
	err := repo.Open(ctx)
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

func wipeStore(ctx context.Context, env *step.Env, repo *restic.Client, store ObjectStore) (step.Outputs, error) {
	log := env.Logger().With("backend", store.String())
	err := repo.Open(ctx)
	var names []string
	switch {
	case restic.IsKind(err, restic.KindNoRepository):
		log.Info("no repository in the backend: nothing to wipe")
		return step.Outputs{}, nil
	case restic.IsKind(err, restic.KindWrongPassword):
		// A config with no key left is a wipe stopped between the keys and
		// the config: nobody can open it, finish it. Any key left means the
		// password is wrong.
		var lerr error
		names, lerr = store.List(ctx)
		if lerr != nil || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "keys/") && ResticObject(n) }) ||
			!slices.Contains(names, "config") {
			return nil, err
		}
		log.Info("the repository has a config but no key left (an earlier wipe stopped): deleting the rest")
	case err != nil:
		return nil, err
	}
	if names == nil {
		if names, err = store.List(ctx); err != nil {
			return nil, fmt.Errorf("repository-wipe: listing %s: %w", store, err)
		}
	}
	phases := make([][]string, 3) // packs, indexes, snapshots, locks; keys; config
	kept := 0
	for _, n := range names {
		switch {
		case !ResticObject(n):
			kept++
		case n == "config":
			phases[2] = append(phases[2], n)
		case strings.HasPrefix(n, "keys/"):
			phases[1] = append(phases[1], n)
		default:
			phases[0] = append(phases[0], n)
		}
	}
	deleted := 0
	for _, p := range phases {
		if len(p) == 0 {
			continue
		}
		if err := store.Delete(ctx, p); err != nil {
			return nil, fmt.Errorf("repository-wipe: deleting the repository's objects in %s: %w", store, err)
		}
		deleted += len(p)
	}
	if kept > 0 {
		log.Info("objects kept: they are not restic's files of this repository", "kept", kept)
	}
	log.Info("repository wiped", "deleted", deleted)
	return step.Outputs{}, nil
}

var (
	reResticFile = regexp.MustCompile(`^(config|(keys|locks|snapshots|index)/[0-9a-f]{64})$`)
	reResticPack = regexp.MustCompile(`^data/([0-9a-f]{2})/([0-9a-f]{64})$`)
)

// ResticObject reports whether name, relative to a repository's root, is
// one of restic's files in its default layout: config, keys/<id>,
// locks/<id>, snapshots/<id>, index/<id> or data/<id[:2]>/<id>, where id
// is 64 hex digits.
func ResticObject(name string) bool {
	if reResticFile.MatchString(name) {
		return true
	}
	m := reResticPack.FindStringSubmatch(name)
	return m != nil && strings.HasPrefix(m[2], m[1])
}

// localPath is the directory of a local restic repository location.
func localPath(loc string) (string, bool) {
	loc = strings.TrimPrefix(loc, "local:")
	if !filepath.IsAbs(loc) {
		return "", false
	}
	return filepath.Clean(loc), true
}

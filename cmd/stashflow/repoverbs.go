package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
)

func init() {
	subcommands = append(subcommands, newCheckCommand, newUnlockCommand, newDownloadCommand)
}

// repoFlags name the Repository the repository verbs open from this
// machine: from files (-f, with its storage Secret), or from the cluster
// (--repository in the namespace of -n or the context; the Repository and
// its Secret are read through the API, so the user needs get on both).
type repoFlags struct {
	files      []string
	repository string
	kube       *kubeFlags
}

func addRepoFlags(cmd *cobra.Command) *repoFlags {
	r := &repoFlags{}
	fs := cmd.Flags()
	fs.StringArrayVarP(&r.files, "filename", "f", nil, "YAML with the Repository and its Secret (repeatable); without it, the cluster's")
	fs.StringVar(&r.repository, "repository", "", "the Repository (with -f, default: the only one)")
	r.kube = addKubeFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("repository", completeRepositories(r))
	return r
}

// openRepo is a Repository opened from this machine.
type openRepo struct {
	*restic.Client
	repo     *v1alpha1.Repository
	location string // the restic repository, as this machine reaches it
	cleanup  func() // removes the credential files the client was given
}

// name is the Repository's namespace/name, for messages.
func (o *openRepo) name() string { return o.repo.Namespace + "/" + o.repo.Name }

// open opens the Repository the flags name; the caller runs cleanup.
func (r *repoFlags) open(ctx context.Context) (*openRepo, error) {
	var repo *v1alpha1.Repository
	var env []string
	var err error
	if len(r.files) > 0 {
		repo, env, err = r.fromFiles()
	} else {
		repo, env, err = r.fromCluster(ctx)
	}
	if err != nil {
		return nil, err
	}
	location := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, restic.EnvRepository+"="); ok {
			location = v
		}
	}
	env, cleanup, err := restic.CredentialFiles(env, "")
	if err != nil {
		return nil, err
	}
	cl, err := restic.NewClient(env, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cleanup()
		return nil, err
	}
	return &openRepo{Client: cl, repo: repo, location: location, cleanup: cleanup}, nil
}

func (r *repoFlags) fromFiles() (*v1alpha1.Repository, []string, error) {
	in, err := localrun.Load(r.files...)
	if err != nil {
		return nil, nil, usageError{err}
	}
	ns, explicit, err := r.kube.namespace()
	if err != nil {
		return nil, nil, usageError{err}
	}
	var repo *v1alpha1.Repository
	for _, c := range manifest.Of[*v1alpha1.Repository](in.Set) {
		if (r.repository == "" || c.Name == r.repository) && (!explicit || c.Namespace == ns) {
			if repo != nil {
				return nil, nil, usageError{errors.New("--repository: the files hold several Repositories; name one")}
			}
			repo = c
		}
	}
	if repo == nil {
		return nil, nil, usageError{fmt.Errorf("--repository: no Repository %q in the files", r.repository)}
	}
	env, _, err := repositoryEnv(in, repo)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return repo, env, nil
}

func (r *repoFlags) fromCluster(ctx context.Context) (*v1alpha1.Repository, []string, error) {
	if r.repository == "" {
		return nil, nil, usageError{errors.New("--repository: name the cluster's Repository (or give -f files)")}
	}
	repo := &v1alpha1.Repository{}
	_, ns, err := r.kube.get(ctx, "Repository", r.repository, repo)
	if err != nil {
		return nil, nil, err
	}
	var sec map[string]string
	if name := repo.Spec.Backend.StorageSecretName; name != "" {
		s := &corev1.Secret{}
		if _, _, err := r.kube.get(ctx, "Secret", name, s); err != nil {
			return nil, nil, fmt.Errorf("repository %s/%s: spec.backend.storageSecretName: %w", ns, repo.Name, err)
		}
		sec = secretData(s)
	}
	env, _, err := repositoryEnvWith(repo, sec)
	return repo, env, err
}

func newCheckCommand() *cobra.Command {
	var readData, inCluster bool
	var subset string
	var timeout time.Duration
	var r *repoFlags
	cmd := &cobra.Command{
		Use:   "check [-f FILE|DIR ... | --repository NAME [--in-cluster]] [--read-data | --read-data-subset S]",
		Short: "Check a repository's integrity now (restic check), from this machine or by the operator",
		Long: `Check opens the Repository from this machine — from files with its storage Secret, or the
cluster's Repository and Secret — and runs restic check: the structure, and with --read-data or
--read-data-subset (e.g. 10% or 1/5) the data itself. Exit 1 when restic finds errors, each printed.

With --in-cluster the operator checks the cluster's Repository instead, where its steps run: the
command sets the stashflow.dev/check-requested annotation and waits for the Repository's
IntegrityVerified condition (the subset is spec.integrityCheck.readDataSubset's). Exit 1 when the
check found errors or could not run.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if inCluster {
				if readData || subset != "" {
					return usageError{errors.New("--in-cluster: the operator reads spec.integrityCheck.readDataSubset; --read-data and --read-data-subset are for a check from this machine")}
				}
				return checkInCluster(c, r, timeout)
			}
			cl, err := r.open(c.Context())
			if err != nil {
				return err
			}
			defer cl.cleanup()
			res, err := cl.Check(c.Context(), restic.CheckOptions{ReadData: readData, ReadDataSubset: subset})
			for _, e := range res.Errors {
				fmt.Fprintln(c.ErrOrStderr(), e)
			}
			for _, p := range res.BrokenPacks {
				fmt.Fprintln(c.ErrOrStderr(), "broken pack:", p)
			}
			if err != nil {
				return fmt.Errorf("repository %s: %w", cl.name(), err)
			}
			if res.NumErrors > 0 {
				return fmt.Errorf("repository %s: restic check found %d errors", cl.name(), res.NumErrors)
			}
			fmt.Fprintf(c.OutOrStdout(), "repository %s: no errors found\n", cl.name())
			return nil
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "read all data blobs too")
	cmd.Flags().StringVar(&subset, "read-data-subset", "", "read this subset of the data (n/t, x% or a size)")
	cmd.MarkFlagsMutuallyExclusive("read-data", "read-data-subset")
	cmd.Flags().BoolVar(&inCluster, "in-cluster", false, "have the operator check the cluster's Repository and wait for its IntegrityVerified condition")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --in-cluster, give up after this long (0: no limit)")
	r = addRepoFlags(cmd)
	return cmd
}

func newUnlockCommand() *cobra.Command {
	var r *repoFlags
	cmd := &cobra.Command{
		Use:   "unlock [-f FILE|DIR ... | --repository NAME]",
		Short: "Remove a repository's stale locks: those whose holder is provably gone",
		Long: `Unlock removes the locks whose holder is provably gone — taken on this machine by a process
that no longer exists — and lists the others with their holder, host and age. It acts only when
such a lock exists, and then runs restic unlock, which also removes any lock restic itself
judges stale: one not refreshed for 30 minutes (restic refreshes a live holder's lock every 5
minutes). A lock whose holder is alive is kept.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := r.open(c.Context())
			if err != nil {
				return err
			}
			defer cl.cleanup()
			removed, held, err := cl.RemoveStaleLocks(c.Context())
			if err != nil {
				return fmt.Errorf("repository %s: %w", cl.name(), err)
			}
			fmt.Fprintf(c.OutOrStdout(), "repository %s: %d stale lock%s removed\n", cl.name(), removed, map[bool]string{true: "s"}[removed != 1])
			for _, l := range held {
				fmt.Fprintf(c.OutOrStdout(), "kept: %s\n", l)
			}
			return nil
		},
	}
	r = addRepoFlags(cmd)
	return cmd
}

func newDownloadCommand() *cobra.Command {
	var snapshot, to, host string
	var include []string
	var r *repoFlags
	cmd := &cobra.Command{
		Use:   "download --snapshot ID|latest --to DIR [-f FILE|DIR ... | --repository NAME] [--host H] [--include PATH ...]",
		Short: "Copy a snapshot's files into a local directory",
		Long: `Download restores a snapshot's files (all, or those --include names) into DIR on this machine,
under their original paths. DIR must be new or empty: nothing is overwritten. "latest" is the
newest snapshot (of --host, if given).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if snapshot == "" || to == "" {
				return usageError{errors.New("--snapshot and --to are required")}
			}
			if err := emptyDir(to); err != nil {
				return usageError{fmt.Errorf("--to: %w", err)}
			}
			cl, err := r.open(c.Context())
			if err != nil {
				return err
			}
			defer cl.cleanup()
			snap, err := cl.Resolve(c.Context(), snapshot, restic.Filter{Host: host})
			if err != nil {
				return fmt.Errorf("repository %s: %w", cl.name(), err)
			}
			sum, err := cl.Restore(c.Context(), restic.RestoreOptions{SnapshotID: snap.ID, Target: to, Include: include})
			if err != nil {
				return fmt.Errorf("repository %s: snapshot %.8s: %w", cl.name(), snap.ID, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "snapshot %.8s (host %s, %s): %d files and folders, %s into %s\n", snap.ID, snap.Hostname,
				strings.Join(snap.Paths, ","), sum.FilesRestored, humanize.IBytes(sum.BytesRestored), to)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&snapshot, "snapshot", "", `the snapshot: an id (or its prefix) or "latest"`)
	f.StringVar(&to, "to", "", "the directory to write into (new or empty)")
	f.StringVar(&host, "host", "", "with latest: the newest snapshot of this host")
	f.StringArrayVar(&include, "include", nil, "only these paths of the snapshot (repeatable)")
	r = addRepoFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("snapshot", func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(r.files) > 0 {
			return []string{"latest"}, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(contextOf(c), completionTimeout)
		defer cancel()
		return r.kube.snapshotIDs(ctx, r.repository), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// emptyDir accepts a directory that does not exist (created) or is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: download writes only into a new or empty directory", dir)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/snapshot"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

func init() { subcommands = append(subcommands, newSnapshotsCommand) }

type snapshotsOptions struct {
	files      []string
	repository string
	kube       *kubeFlags
	all        bool
	print      *printFlags
	host       string
	tags       []string
}

func newSnapshotsCommand() *cobra.Command {
	o := &snapshotsOptions{}
	cmd := &cobra.Command{
		Use:   "snapshots [-f FILE|DIR ...] [-n NAMESPACE | -A] [--repository NAME] [-o wide|yaml|json|name|jsonpath=…|custom-columns=…]",
		Short: "List the snapshots of a repository",
		Long: `With -f, read a Repository and its storage Secret from YAML and list the restic repository's
snapshots directly (no Kubernetes needed). Without -f, list the Snapshot objects in the cluster
(the kubeconfig's context), in the context's namespace, the one -n names, or
all of them with -A. Either way -o yaml, json, name, jsonpath and custom-columns print Snapshot
objects as a List (with -f, each as the operator would record it: <repository>-<short id>).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.print.check(); err != nil {
				return err
			}
			if o.all && len(o.files) > 0 {
				return usageError{errors.New("-A lists a cluster's Snapshots; with -f, name the Repository with --repository or -n")}
			}
			var snaps []v1alpha1.Snapshot
			var err error
			if len(o.files) > 0 {
				var repo string
				snaps, repo, err = o.local(c.Context())
				if err == nil && o.print.isOwn() {
					fmt.Fprintln(c.OutOrStdout(), repo)
				}
			} else {
				snaps, err = o.cluster(c.Context())
			}
			if err != nil {
				return err
			}
			return o.printSnapshots(c.OutOrStdout(), snaps)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "YAML with the Repository and its Secret (repeatable)")
	f.StringVar(&o.repository, "repository", "", "the Repository (default: the only one)")
	f.BoolVarP(&o.all, "all-namespaces", "A", false, "list the Snapshots of every namespace (not with -f)")
	o.kube = addKubeFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("repository", completeRepositories(&repoFlags{kube: o.kube}))
	o.print = addPrintFlags(cmd, "", "the table (default), wide (full ids, sessions, repositories)", "", "wide")
	f.StringVar(&o.host, "host", "", "only snapshots of this host")
	f.StringArrayVar(&o.tags, "tag", nil, "only snapshots with this tag (repeatable)")
	return cmd
}

// local lists the snapshots of the Repository in the files, as the Snapshot
// objects the operator would record, and says which Repository it read:
// "Repository <ns>/<name>: <backend in Stash's terms>".
func (o *snapshotsOptions) local(ctx context.Context) ([]v1alpha1.Snapshot, string, error) {
	cl, err := (&repoFlags{files: o.files, repository: o.repository, kube: o.kube}).open(ctx)
	if err != nil {
		return nil, "", err
	}
	defer cl.cleanup()
	repo := cl.repo
	snaps, err := cl.Snapshots(ctx, restic.Filter{Host: o.host, Tags: o.tags})
	if err != nil {
		return nil, "", err
	}
	out := make([]v1alpha1.Snapshot, 0, len(snaps))
	for _, s := range snaps {
		snap := v1alpha1.Snapshot{
			ObjectMeta: metav1.ObjectMeta{Name: snapshot.Name(repo.Name, s.ID), Namespace: repo.Namespace},
			Spec: v1alpha1.SnapshotSpec{
				Repository: v1alpha1.ObjectRef{Name: repo.Name, Namespace: repo.Namespace},
				SnapshotID: s.ID, Time: ptr.To(metav1.NewTime(s.Time)), Hostname: s.Hostname, Paths: s.Paths, Tags: s.Tags,
				Session: s.Tag("session"), Username: s.Username,
			},
		}
		if s.Summary != nil {
			snap.Spec.Size = ptr.To(int64(s.Summary.TotalBytesProcessed))
		}
		out = append(out, snap)
	}
	return out, fmt.Sprintf("Repository %s/%s: %s", repo.Namespace, repo.Name, translators.DescribeBackend(&repo.Spec.Backend)), nil
}

// repositoryEnv is the environment restic needs for a Repository read from
// files: the variables a step gets (translators.RepositoryEnv: options,
// password and the backend's credentials under Stash's key names) with the
// Secret's values, except that on this machine a local backend is its
// hostPath, not its mountPath.
func repositoryEnv(in *localrun.Inputs, repo *v1alpha1.Repository) ([]string, string, error) {
	var sec map[string]string
	if name := repo.Spec.Backend.StorageSecretName; name != "" {
		for _, s := range manifest.Of[*corev1Secret](in.Set) {
			if s.Name == name && s.Namespace == repo.Namespace {
				sec = secretData(s)
			}
		}
		if sec == nil {
			return nil, "", fmt.Errorf("repository %s/%s: spec.backend.storageSecretName: Secret %q is not in the files", repo.Namespace, repo.Name, name)
		}
	}
	return repositoryEnvWith(repo, sec)
}

// repositoryEnvWith is repositoryEnv with the storage Secret's data given.
func repositoryEnvWith(repo *v1alpha1.Repository, sec map[string]string) ([]string, string, error) {
	b := repo.Spec.Backend
	location := translators.ResticRepository(&b)
	if l := b.Local; l != nil {
		if l.HostPath == nil {
			return nil, "", fmt.Errorf("repository %s/%s: a local backend on a PVC can only be read in the cluster", repo.Namespace, repo.Name)
		}
		location = path.Join(l.HostPath.Path, l.SubPath)
	}
	env := os.Environ()
	for _, e := range translators.RepositoryEnv(repo) {
		switch {
		case e.Name == restic.EnvRepository:
			env = append(env, e.Name+"="+location)
		case e.SecretKeyRef == nil:
			env = append(env, e.Name+"="+e.Value)
		default:
			v, ok := sec[e.SecretKeyRef.Key]
			if !ok && !e.SecretKeyRef.Optional {
				return nil, "", fmt.Errorf("repository %s/%s: Secret %s/%s has no key %s", repo.Namespace, repo.Name, repo.Namespace, e.SecretKeyRef.Name, e.SecretKeyRef.Key)
			}
			if ok {
				env = append(env, e.Name+"="+v)
			}
		}
	}
	return env, location, nil
}

func (o *snapshotsOptions) cluster(ctx context.Context) ([]v1alpha1.Snapshot, error) {
	c, err := o.kube.client()
	if err != nil {
		return nil, err
	}
	var list v1alpha1.SnapshotList
	opts := []client.ListOption{}
	if !o.all {
		ns, _, err := o.kube.namespace()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, &list, opts...); err != nil {
		return nil, err
	}
	var out []v1alpha1.Snapshot
	for _, s := range list.Items {
		if (o.repository != "" && s.Spec.Repository.Name != o.repository) || (o.host != "" && s.Spec.Hostname != o.host) {
			continue
		}
		if !hasTags(s.Spec.Tags, o.tags) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// hasTags says whether tags holds every one of want.
func hasTags(tags, want []string) bool {
	for _, w := range want {
		if !slices.Contains(tags, w) {
			return false
		}
	}
	return true
}

func snapshotTime(s *v1alpha1.Snapshot) time.Time {
	if s.Spec.Time == nil {
		return time.Time{}
	}
	return s.Spec.Time.Time
}

// printSnapshots prints the snapshots, oldest first, as -o says: the
// table, or a List of Snapshot objects.
func (o *snapshotsOptions) printSnapshots(w io.Writer, snaps []v1alpha1.Snapshot) error {
	sort.SliceStable(snaps, func(i, j int) bool { return snapshotTime(&snaps[i]).Before(snapshotTime(&snaps[j])) })
	if o.print.isOwn() {
		return printSnapshotTable(w, o.print.output == "wide", snaps)
	}
	objs := make([]client.Object, len(snaps))
	for i := range snaps {
		objs[i] = &snaps[i]
	}
	return o.print.print(w, true, objs...)
}

// printSnapshotTable prints the snapshots as a table, oldest first: the
// short id, time, host, size, paths and tags; wide gives the full id and
// adds the session and the Repository.
func printSnapshotTable(w io.Writer, wide bool, snaps []v1alpha1.Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "ID\tTIME\tHOST\tSIZE\tPATHS\tTAGS"
	if wide {
		header += "\tSESSION\tREPOSITORY"
	}
	fmt.Fprintln(tw, header)
	for i := range snaps {
		s := &snaps[i].Spec
		size := "-"
		if s.Size != nil {
			size = humanize.IBytes(uint64(*s.Size))
		}
		when := "-"
		if s.Time != nil {
			when = s.Time.Local().Format("2006-01-02 15:04:05")
		}
		id := s.SnapshotID
		if len(id) > 8 && !wide {
			id = id[:8]
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", id, when, orDash(s.Hostname), size, strings.Join(s.Paths, ","), strings.Join(s.Tags, ","))
		if wide {
			row += fmt.Sprintf("\t%s\t%s", orDash(s.Session), s.Repository.NamespaceOr(snaps[i].Namespace)+"/"+s.Repository.Name)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
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
	output     string
	host       string
	tags       []string
}

// snapshotRow is one line of the table, and the object printed with -o.
type snapshotRow struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Host     string    `json:"hostname"`
	Size     *int64    `json:"size,omitempty"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags,omitempty"`
	Session  string    `json:"session,omitempty"`
	Location string    `json:"repository"`
	// Backend is the Repository's backend in Stash's terms (with -f).
	Backend *translators.BackendDescription `json:"backend,omitempty"`
}

func newSnapshotsCommand() *cobra.Command {
	o := &snapshotsOptions{}
	cmd := &cobra.Command{
		Use:   "snapshots [-f FILE|DIR ...] [-n NAMESPACE | -A] [--repository NAME]",
		Short: "List the snapshots of a repository",
		Long: `With -f, read a Repository and its storage Secret from YAML and list the restic repository's
snapshots directly (no Kubernetes needed). Without -f, list the Snapshot objects in the cluster
(the kubeconfig's context), in the context's namespace, the one -n names, or
all of them with -A.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			switch o.output {
			case "table", "yaml", "json":
			default:
				return usageError{fmt.Errorf("--output: %q is not table, yaml or json", o.output)}
			}
			if o.all && len(o.files) > 0 {
				return usageError{errors.New("-A lists a cluster's Snapshots; with -f, name the Repository with --repository or -n")}
			}
			var rows []snapshotRow
			var err error
			if len(o.files) > 0 {
				var repo string
				rows, repo, err = o.local(c.Context())
				if err == nil && o.output == "table" {
					fmt.Fprintln(c.OutOrStdout(), repo)
				}
			} else {
				rows, err = o.cluster(c.Context())
			}
			if err != nil {
				return err
			}
			return printSnapshots(c.OutOrStdout(), o.output, rows)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "YAML with the Repository and its Secret (repeatable)")
	f.StringVar(&o.repository, "repository", "", "the Repository (default: the only one)")
	f.BoolVarP(&o.all, "all-namespaces", "A", false, "list the Snapshots of every namespace (not with -f)")
	o.kube = addKubeFlags(f)
	f.StringVarP(&o.output, "output", "o", "table", "table, yaml or json")
	f.StringVar(&o.host, "host", "", "only snapshots of this host")
	f.StringArrayVar(&o.tags, "tag", nil, "only snapshots with this tag (repeatable)")
	return cmd
}

// local lists the snapshots of the Repository in the files, and says which
// one it read: "Repository <ns>/<name>: <backend in Stash's terms>".
func (o *snapshotsOptions) local(ctx context.Context) ([]snapshotRow, string, error) {
	cl, err := (&repoFlags{files: o.files, repository: o.repository, kube: o.kube}).open(ctx)
	if err != nil {
		return nil, "", err
	}
	defer cl.cleanup()
	repo, location := cl.repo, cl.location
	snaps, err := cl.Snapshots(ctx, restic.Filter{Host: o.host, Tags: o.tags})
	if err != nil {
		return nil, "", err
	}
	backend := translators.DescribeBackend(&repo.Spec.Backend)
	rows := make([]snapshotRow, 0, len(snaps))
	for _, s := range snaps {
		r := snapshotRow{ID: s.ID, Time: s.Time, Host: s.Hostname, Paths: s.Paths, Tags: s.Tags, Location: location, Backend: &backend}
		if s.Summary != nil {
			size := int64(s.Summary.TotalBytesProcessed)
			r.Size = &size
		}
		for _, t := range s.Tags {
			if v, ok := strings.CutPrefix(t, "session="); ok {
				r.Session = v
			}
		}
		rows = append(rows, r)
	}
	return rows, fmt.Sprintf("Repository %s/%s: %s", repo.Namespace, repo.Name, backend), nil
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

func (o *snapshotsOptions) cluster(ctx context.Context) ([]snapshotRow, error) {
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
	var rows []snapshotRow
	for _, s := range list.Items {
		if o.repository != "" && s.Spec.Repository.Name != o.repository {
			continue
		}
		if o.host != "" && s.Spec.Hostname != o.host {
			continue
		}
		r := snapshotRow{ID: s.Spec.SnapshotID, Host: s.Spec.Hostname, Paths: s.Spec.Paths, Tags: s.Spec.Tags, Session: s.Spec.Session, Location: s.Spec.Repository.NamespaceOr(s.Namespace) + "/" + s.Spec.Repository.Name, Size: s.Spec.Size}
		if s.Spec.Time != nil {
			r.Time = s.Spec.Time.Time
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func printSnapshots(w io.Writer, output string, rows []snapshotRow) error {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Time.Before(rows[j].Time) })
	switch output {
	case "json":
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(rows)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tHOST\tSIZE\tPATHS\tTAGS")
	for _, r := range rows {
		size := "-"
		if r.Size != nil {
			size = humanize.IBytes(uint64(*r.Size))
		}
		id := r.ID
		if len(id) > 8 {
			id = id[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, r.Time.Local().Format("2006-01-02 15:04:05"), r.Host, size, strings.Join(r.Paths, ","), strings.Join(r.Tags, ","))
	}
	return tw.Flush()
}

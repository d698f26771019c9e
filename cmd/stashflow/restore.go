package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/translators"
)

func init() { subcommands = append(subcommands, newRestoreCommand) }

type restoreOptions struct {
	kube     *kubeFlags
	out      *printFlags
	snapshot string
	to       string
	task     string
	wait     bool
	dryRun   bool
	timeout  time.Duration
}

// targetKinds are the kinds --to takes, by the names kubectl users type.
var targetKinds = map[string]string{
	"appbinding": "AppBinding", "persistentvolumeclaim": "PersistentVolumeClaim", "pvc": "PersistentVolumeClaim",
	"deployment": "Deployment", "deploy": "Deployment", "statefulset": "StatefulSet", "sts": "StatefulSet",
	"daemonset": "DaemonSet", "ds": "DaemonSet", "replicaset": "ReplicaSet",
}

func newRestoreCommand() *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore backupconfiguration/NAME --snapshot ID|latest [--to KIND/NAME] [--wait]",
		Short: "Restore a BackupConfiguration's backup: create a RestoreSession for its target or another one",
		Long: `Restore creates a RestoreSession from a BackupConfiguration: its Repository, and its target
(or the one --to names: an AppBinding, PersistentVolumeClaim or workload of the namespace), with one
rule restoring --snapshot (an id, or "latest": the newest snapshot of the source's host). Into another
target, the source's host is named in the rule (sourceHost), so that target gets the configuration's
data, not its own. The Task is the configuration's with -backup changed to -restore, or --task, or
else inferred from the target as for any RestoreSession. The session is named by the API server
(<name>-restore-<suffix>). With --wait, follow it until it ends; exit 1 unless it Succeeded.
With -o, the session is printed instead of the line: as created, or with --wait as it ended;
--dry-run prints it as YAML unless -o says otherwise.
To restore part of a batch, several hosts, or several snapshots, write the RestoreSession yourself
(stashflow restore ... --dry-run prints the one it would create, to start from).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return o.run(c, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.snapshot, "snapshot", "", `the snapshot to restore: an id (as "stashflow snapshots" lists it), or "latest"`)
	f.StringVar(&o.to, "to", "", "restore into this target (KIND/NAME) instead of the configuration's own")
	f.StringVar(&o.task, "task", "", "the restore Task (default: from the configuration's Task, or inferred)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the RestoreSession as YAML and create nothing")
	f.BoolVar(&o.wait, "wait", false, "follow the session until it ends; exit 1 unless it Succeeded")
	f.DurationVar(&o.timeout, "timeout", 0, "with --wait, give up after this long (0: no limit)")
	_ = cmd.MarkFlagRequired("snapshot")
	o.kube = addKubeFlags(cmd)
	cmd.ValidArgsFunction = completeRefs(o.kube, v1alpha1.KindBackupConfiguration)
	_ = cmd.RegisterFlagCompletionFunc("snapshot", o.completeSnapshot)
	o.out = addPrintFlags(cmd, "", `"restoresession/NAME created" (default; yaml with --dry-run)`, "")
	return cmd
}

func (o *restoreOptions) run(c *cobra.Command, arg string) error {
	if o.dryRun && o.out.output == "" {
		o.out.output = "yaml"
	}
	if err := o.out.check(); err != nil {
		return err
	}
	kind, name, obj, err := invokerObject(arg)
	if err != nil {
		return err
	}
	bc, ok := obj.(*v1alpha1.BackupConfiguration)
	if !ok {
		return usageError{fmt.Errorf("%s: restore takes a BackupConfiguration; for a BackupBatch write a RestoreBatch", arg)}
	}
	if o.snapshot == "" {
		return usageError{fmt.Errorf("--snapshot: give a snapshot id or latest")}
	}
	var to *v1alpha1.TargetRef
	if o.to != "" {
		k, n, ok := strings.Cut(o.to, "/")
		if full := targetKinds[strings.ToLower(k)]; ok && n != "" && full != "" {
			to = &v1alpha1.TargetRef{Kind: full, Name: n}
		} else {
			return usageError{fmt.Errorf("--to %q: want KIND/NAME of an AppBinding, PersistentVolumeClaim, Deployment, StatefulSet, DaemonSet or ReplicaSet", o.to)}
		}
	}
	cl, ns, err := o.kube.get(c.Context(), kind, name, bc)
	if err != nil {
		return err
	}
	rs, err := restoreSessionFor(bc, o.snapshot, to, o.task)
	if err != nil {
		return err
	}
	if o.dryRun {
		return o.out.print(c.OutOrStdout(), false, rs)
	}
	if err := cl.Create(c.Context(), rs); err != nil {
		return fmt.Errorf("creating a RestoreSession for BackupConfiguration %s/%s: %w", ns, name, err)
	}
	if !o.wait {
		return printCreated(c.OutOrStdout(), o.out, rs)
	}
	return waitForRun(c, cl, rs, "RestoreSession", o.out, o.timeout, func() runState {
		st := rs.Status
		return runState{string(st.Phase), st.Phase.IsFinal(), st.Phase == v1alpha1.RestoreSucceeded, st.SessionDuration, st.Message}
	})
}

// restoreSessionFor is the RestoreSession that restores snapshot ("latest"
// or an id) of bc's target into to (nil: the target itself).
func restoreSessionFor(bc *v1alpha1.BackupConfiguration, snapshot string, to *v1alpha1.TargetRef, task string) (*v1alpha1.RestoreSession, error) {
	src := bc.Spec.Target
	if src == nil && to == nil {
		return nil, fmt.Errorf("BackupConfiguration %s/%s has no spec.target: name one with --to", bc.Namespace, bc.Name)
	}
	rule := v1alpha1.RestoreRule{}
	if snapshot != "latest" {
		rule.Snapshots = []string{snapshot}
	}
	target := &v1alpha1.RestoreTarget{}
	if src != nil {
		target.Ref, target.Alias = src.Ref, src.Alias
	}
	if to != nil && (src == nil || *to != src.Ref) {
		target.Ref, target.Alias = *to, ""
		// The source's host, so that "latest" is the configuration's
		// newest snapshot, not the new target's (a workload's hosts are
		// host-0, host-<ordinal>, … on both sides and match as they are).
		if src != nil && !translators.IsWorkload(src.Ref.Kind) {
			rule.SourceHost = src.Alias
			if rule.SourceHost == "" {
				rule.SourceHost = src.Ref.Name
			}
		}
	}
	if task == "" && bc.Spec.Task != nil {
		if base, ok := strings.CutSuffix(bc.Spec.Task.Name, "-backup"); ok {
			task = base + "-restore"
		}
	}
	target.Rules = []v1alpha1.RestoreRule{rule}
	rs := &v1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{GenerateName: restorePrefix(bc.Name), Namespace: bc.Namespace},
		Spec: v1alpha1.RestoreSessionSpec{
			RestoreTargetSpec: v1alpha1.RestoreTargetSpec{Target: target},
			Driver:            bc.Spec.Driver,
			Repository:        bc.Spec.Repository,
		},
	}
	if task != "" {
		rs.Spec.Task = &v1alpha1.TaskRef{Name: task}
	}
	return rs, nil
}

func restorePrefix(name string) string {
	const suffix = "-restore-"
	if limit := validation.DNS1123SubdomainMaxLength - 5 - len(suffix); len(name) > limit {
		name = strings.TrimRight(name[:limit], "-.")
	}
	return name + suffix
}

// completeSnapshot completes --snapshot with "latest" and the snapshots of
// the configuration's Repository the cluster has Snapshot objects of.
func (o *restoreOptions) completeSnapshot(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(contextOf(c), completionTimeout)
	defer cancel()
	bc := &v1alpha1.BackupConfiguration{}
	if len(args) == 1 {
		if kind, name, _, err := invokerObject(args[0]); err == nil && kind == v1alpha1.KindBackupConfiguration {
			if _, _, err := o.kube.get(ctx, kind, name, bc); err != nil {
				return []string{"latest"}, cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	return o.kube.snapshotIDs(ctx, bc.Spec.Repository.Name), cobra.ShellCompDirectiveNoFileComp
}

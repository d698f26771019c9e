package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command { return newPauseCommand(true) }, func() *cobra.Command { return newPauseCommand(false) })
}

// invokerObject reads KIND/NAME of a BackupConfiguration or BackupBatch,
// with kubectl's names for the kinds.
func invokerObject(arg string) (kind, name string, obj client.Object, err error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok || name == "" {
		return "", "", nil, usageError{fmt.Errorf("%q: want KIND/NAME, e.g. backupconfiguration/nightly", arg)}
	}
	switch strings.ToLower(kind) {
	case "backupconfiguration", "backupconfigurations", "bc":
		return v1alpha1.KindBackupConfiguration, name, &v1alpha1.BackupConfiguration{}, nil
	case "backupbatch", "backupbatches", "bb":
		return v1alpha1.KindBackupBatch, name, &v1alpha1.BackupBatch{}, nil
	}
	return "", "", nil, usageError{fmt.Errorf("%q: not backupconfiguration or backupbatch", kind)}
}

// newPauseCommand is `pause` (paused true) or `resume`: it sets the
// invoker's spec.paused, which stops (or restarts) its schedule; sessions
// already running go on, and trigger still works while paused, as in Stash.
func newPauseCommand(paused bool) *cobra.Command {
	verb, done := "pause", "paused"
	short := "Stop scheduling backups of a BackupConfiguration or BackupBatch (spec.paused: true)"
	if !paused {
		verb, done = "resume", "resumed"
		short = "Schedule a paused BackupConfiguration's or BackupBatch's backups again (spec.paused: false)"
	}
	var kube *kubeFlags
	cmd := &cobra.Command{
		Use:   verb + " (backupconfiguration|backupbatch)/NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			kind, name, obj, err := invokerObject(args[0])
			if err != nil {
				return err
			}
			cl, ns, err := kube.get(c.Context(), kind, name, obj)
			if err != nil {
				return err
			}
			ref := strings.ToLower(kind) + "/" + name
			if was := setPaused(obj, paused); was == paused {
				fmt.Fprintf(c.OutOrStdout(), "%s was already %s\n", ref, map[bool]string{true: "paused", false: "not paused"}[paused])
				return nil
			}
			// A merge patch of spec.paused alone: nothing else of the
			// object is written back.
			patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"paused":%t}}`, paused))
			if err := cl.Patch(c.Context(), obj, patch); err != nil {
				return fmt.Errorf("%s in namespace %s: %w", ref, ns, err)
			}
			fmt.Fprintf(c.OutOrStdout(), "%s %s\n", ref, done)
			return nil
		},
	}
	kube = addKubeFlags(cmd)
	cmd.ValidArgsFunction = completeRefs(kube, v1alpha1.KindBackupConfiguration, v1alpha1.KindBackupBatch)
	return cmd
}

// setPaused sets spec.paused and returns what it was.
func setPaused(obj client.Object, paused bool) bool {
	switch o := obj.(type) {
	case *v1alpha1.BackupConfiguration:
		was := o.Spec.Paused
		o.Spec.Paused = paused
		return was
	case *v1alpha1.BackupBatch:
		was := o.Spec.Paused
		o.Spec.Paused = paused
		return was
	}
	return paused
}

// sessionsShown is how many of an invoker's sessions describe lists.
const sessionsShown = 5

// invokerSessions lists the invoker's BackupSessions, newest first.
func invokerSessions(ctx context.Context, cl client.Client, obj client.Object) ([]v1alpha1.BackupSession, error) {
	kind := v1alpha1.KindBackupConfiguration
	if _, ok := obj.(*v1alpha1.BackupBatch); ok {
		kind = v1alpha1.KindBackupBatch
	}
	var list v1alpha1.BackupSessionList
	if err := cl.List(ctx, &list, client.InNamespace(obj.GetNamespace()),
		client.MatchingLabels{v1alpha1.LabelInvoker: obj.GetName(), v1alpha1.LabelInvokerKind: kind}); err != nil {
		return nil, fmt.Errorf("listing the BackupSessions of %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return list.Items[j].CreationTimestamp.Before(&list.Items[i].CreationTimestamp)
	})
	return list.Items, nil
}

// describeInvoker prints a BackupConfiguration or BackupBatch: its schedule
// and next slot, what it backs up where, its last backup, its newest
// sessions and its conditions.
func describeInvoker(w io.Writer, obj client.Object, sessions []v1alpha1.BackupSession, now time.Time) {
	var root node
	var schedule string
	var paused bool
	var st struct {
		phase      v1alpha1.BackupInvokerPhase
		next, last *metav1.Time
		conditions []v1alpha1.Condition
	}
	switch o := obj.(type) {
	case *v1alpha1.BackupConfiguration:
		root.label = fmt.Sprintf("BackupConfiguration %s/%s  %s", o.Namespace, o.Name, orDash(string(o.Status.Phase)))
		schedule, paused = o.Spec.Schedule, o.Spec.Paused
		st.phase, st.next, st.last, st.conditions = o.Status.Phase, o.Status.NextBackupTime, o.Status.LastBackupTime, o.Status.Conditions
		line := "repository " + o.Spec.Repository.Name
		if o.Spec.Target != nil {
			line += "  target " + refString(&o.Spec.Target.Ref)
		}
		if o.Spec.Task != nil && o.Spec.Task.Name != "" {
			line += "  task " + o.Spec.Task.Name
		}
		root.children = append(root.children, node{label: line})
	case *v1alpha1.BackupBatch:
		root.label = fmt.Sprintf("BackupBatch %s/%s  %s", o.Namespace, o.Name, orDash(string(o.Status.Phase)))
		schedule, paused = o.Spec.Schedule, o.Spec.Paused
		st.phase, st.next, st.last, st.conditions = o.Status.Phase, o.Status.NextBackupTime, o.Status.LastBackupTime, o.Status.Conditions
		members := node{label: fmt.Sprintf("repository %s  %d members, %s", o.Spec.Repository.Name, len(o.Spec.Members), orDash(string(o.Spec.ExecutionOrder)))}
		for i := range o.Spec.Members {
			m := &o.Spec.Members[i]
			line := "member"
			if m.Target != nil {
				line += " " + refString(&m.Target.Ref)
			}
			if m.Task != nil && m.Task.Name != "" {
				line += "  task " + m.Task.Name
			}
			members.children = append(members.children, node{label: line})
		}
		root.children = append(root.children, members)
	}
	root.children = append(root.children, scheduleNode(schedule, paused, st.next, now))
	if st.last != nil {
		root.children = append(root.children, node{label: "last backup: " + when(st.last.Time, now)})
	}
	sn := node{label: fmt.Sprintf("sessions: %d", len(sessions))}
	if len(sessions) > sessionsShown {
		sn.label += fmt.Sprintf(" (newest %d)", sessionsShown)
	}
	for i := range sessions[:min(len(sessions), sessionsShown)] {
		s := &sessions[i]
		line := fmt.Sprintf("%s  %s  created %s", s.Name, orDash(string(s.Status.Phase)), when(s.CreationTimestamp.Time, now))
		if d := s.Status.SessionDuration; d != "" {
			line += "  took " + d
		} else if !s.Status.Phase.IsFinal() {
			line += "  running for " + duration.HumanDuration(now.Sub(s.CreationTimestamp.Time))
		}
		sn.children = append(sn.children, node{label: line})
	}
	root.children = append(root.children, sn)
	for _, c := range st.conditions {
		root.children = append(root.children, node{label: fmt.Sprintf("condition %s=%s  %s  %s", c.Type, c.Status, c.Reason, c.Message)})
	}
	fmt.Fprintln(w, root.label)
	printChildren(w, root.children, "")
}

func scheduleNode(schedule string, paused bool, next *metav1.Time, now time.Time) node {
	switch {
	case schedule == "":
		return node{label: "schedule: none (backups only by trigger)"}
	case paused:
		return node{label: "schedule: " + schedule + "  paused (resume with: stashflow resume)"}
	case next != nil:
		return node{label: "schedule: " + schedule + "  next " + when(next.Time, now)}
	}
	return node{label: "schedule: " + schedule}
}

// when is a time with how long ago or from now it is, e.g.
// "2026-12-05 00:05:00 UTC (in 4m)".
func when(t, now time.Time) string {
	s := t.UTC().Format("2006-01-02 15:04:05 MST")
	if t.After(now) {
		return s + " (in " + duration.HumanDuration(t.Sub(now)) + ")"
	}
	return s + " (" + duration.HumanDuration(now.Sub(t)) + " ago)"
}

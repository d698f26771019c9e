package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
)

func init() { subcommands = append(subcommands, newDescribeCommand) }

func newDescribeCommand() *cobra.Command {
	var files []string
	var kube *kubeFlags
	cmd := &cobra.Command{
		Use:   "describe (backupsession|restoresession|restorebatch|backupconfiguration|backupbatch)/NAME | -f FILE",
		Short: "Show a session's DAG as a tree, with every step's phase, duration and message",
		Long: `Describe prints a session as a tree — global hooks, targets, their hooks and steps — with the
phase, duration and message of each, the snapshot ids, and the workflow that ran it (the Argo
workflow's name and UI link, or the local run). It reads the session from the cluster, or from a
file written by "stashflow run -o yaml". A BackupConfiguration or BackupBatch is shown with its
schedule and next slot (or paused), what it backs up where, its last backup, its newest
sessions and its conditions.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var sessions []client.Object
			switch {
			case len(files) > 0 && len(args) == 0:
				objs, err := manifest.LoadPaths(files...)
				if err != nil {
					return usageError{err}
				}
				for _, o := range objs {
					switch o.Object.(type) {
					case *v1alpha1.BackupSession, *v1alpha1.RestoreSession, *v1alpha1.RestoreBatch:
						sessions = append(sessions, o.Object)
					}
				}
				if len(sessions) == 0 {
					return usageError{fmt.Errorf("-f: no session in %s", strings.Join(files, ", "))}
				}
			case len(files) == 0 && len(args) == 1:
				if _, _, _, err := invokerObject(args[0]); err == nil {
					return describeInvokerOf(c.Context(), c.OutOrStdout(), kube, args[0])
				}
				s, err := getSession(c.Context(), kube, args[0])
				if err != nil {
					return err
				}
				sessions = append(sessions, s)
			default:
				return usageError{fmt.Errorf("give a session as KIND/NAME or -f FILE")}
			}
			for _, s := range sessions {
				describe(c.OutOrStdout(), s)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "a file with sessions, e.g. from stashflow run -o yaml")
	kube = addKubeFlags(cmd)
	cmd.ValidArgsFunction = completeRefs(kube, "BackupSession", "RestoreSession", "RestoreBatch", v1alpha1.KindBackupConfiguration, v1alpha1.KindBackupBatch)
	return cmd
}

func getSession(ctx context.Context, kube *kubeFlags, ref string) (client.Object, error) {
	kind, name, ok := strings.Cut(ref, "/")
	if !ok || name == "" {
		return nil, usageError{fmt.Errorf("%q: want KIND/NAME, e.g. backupsession/nightly-1764374400", ref)}
	}
	var obj client.Object
	switch strings.ToLower(kind) {
	case "backupsession", "backupsessions", "bs":
		obj = &v1alpha1.BackupSession{}
	case "restoresession", "restoresessions", "restore":
		obj = &v1alpha1.RestoreSession{}
	case "restorebatch", "restorebatches", "rb":
		obj = &v1alpha1.RestoreBatch{}
	default:
		return nil, usageError{fmt.Errorf("%q: not a kind describe knows (backupsession, restoresession, restorebatch, backupconfiguration, backupbatch)", kind)}
	}
	if _, _, err := kube.get(ctx, reflect.TypeOf(obj).Elem().Name(), name, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// node is one line of the tree.
type node struct {
	label    string
	children []node
}

func describe(w io.Writer, obj client.Object) {
	var root node
	var wf *v1alpha1.WorkflowRef
	var plan *v1alpha1.RunPlan
	var conditions []v1alpha1.Condition
	switch s := obj.(type) {
	case *v1alpha1.BackupSession:
		st := s.Status
		wf, plan, conditions = st.Workflow, st.Plan, st.Conditions
		roles := rolesOf(plan)
		root.label = fmt.Sprintf("BackupSession %s/%s  %s  %s", s.Namespace, s.Name, orDash(string(st.Phase)), st.SessionDuration)
		root.children = append(root.children, node{label: "invoker: " + s.Spec.Invoker.Kind + "/" + s.Spec.Invoker.Name})
		if g := st.GlobalHooks; g != nil && g.PreBackup != nil {
			root.children = append(root.children, hookNode("global preBackup hook", *g.PreBackup))
		}
		for _, t := range st.Targets {
			n := node{label: fmt.Sprintf("target %s  %s", refString(t.Ref), t.Phase)}
			for _, h := range t.PreBackupHooks {
				n.children = append(n.children, hookNode("preBackup hook", h))
			}
			for _, sp := range t.Steps {
				n.children = append(n.children, stepNode(sp, roles[sp.Name]))
			}
			for _, h := range t.PostBackupHooks {
				n.children = append(n.children, hookNode("postBackup hook", h))
			}
			for _, h := range t.Stats {
				if h.SnapshotID != "" {
					line := fmt.Sprintf("snapshot %s  host %s", short(h.SnapshotID), h.Hostname)
					if h.Size != nil {
						line += "  " + humanize.IBytes(uint64(*h.Size))
					}
					if h.Uploaded != nil {
						line += " (" + humanize.IBytes(uint64(*h.Uploaded)) + " new)"
					}
					n.children = append(n.children, node{label: line})
				}
			}
			root.children = append(root.children, n)
		}
		if g := st.GlobalHooks; g != nil && g.PostBackup != nil {
			root.children = append(root.children, hookNode("global postBackup hook", *g.PostBackup))
		}
		if st.Message != "" {
			root.children = append(root.children, node{label: "message: " + st.Message})
		}
	case *v1alpha1.RestoreSession:
		root, wf, plan, conditions = restoreTree("RestoreSession", s.Namespace, s.Name, s.Status), s.Status.Workflow, s.Status.Plan, s.Status.Conditions
	case *v1alpha1.RestoreBatch:
		root, wf, plan, conditions = restoreTree("RestoreBatch", s.Namespace, s.Name, s.Status), s.Status.Workflow, s.Status.Plan, s.Status.Conditions
	}
	if plan != nil {
		line := fmt.Sprintf("plan: %d step%s, recorded when the run was submitted", len(plan.Steps), map[bool]string{true: "s"}[len(plan.Steps) != 1])
		if d := plan.RunTimeout(); d > 0 {
			line += ", timeout " + d.String()
		}
		root.children = append([]node{{label: line}}, root.children...)
	}
	if wf != nil {
		line := fmt.Sprintf("workflow: %s %s", wf.Engine, wf.Name)
		if wf.Namespace != "" {
			line = fmt.Sprintf("workflow: %s %s/%s", wf.Engine, wf.Namespace, wf.Name)
		}
		if wf.UIURL != "" {
			line += "  " + wf.UIURL
		}
		root.children = append([]node{{label: line}}, root.children...)
	}
	for _, c := range conditions {
		root.children = append(root.children, node{label: fmt.Sprintf("condition %s=%s  %s  %s", c.Type, c.Status, c.Reason, c.Message)})
	}
	fmt.Fprintln(w, root.label)
	printChildren(w, root.children, "")
}

func restoreTree(kind, ns, name string, st v1alpha1.RestoreSessionStatus) node {
	root := node{label: fmt.Sprintf("%s %s/%s  %s  %s", kind, ns, name, orDash(string(st.Phase)), st.SessionDuration)}
	if g := st.GlobalHooks; g != nil && g.PreRestore != nil {
		root.children = append(root.children, hookNode("global preRestore hook", *g.PreRestore))
	}
	roles := rolesOf(st.Plan)
	for _, t := range st.Targets {
		n := node{label: fmt.Sprintf("target %s  %s", refString(t.Ref), t.Phase)}
		for _, h := range t.PreRestoreHooks {
			n.children = append(n.children, hookNode("preRestore hook", h))
		}
		for _, sp := range t.Steps {
			n.children = append(n.children, stepNode(sp, roles[sp.Name]))
		}
		for _, h := range t.PostRestoreHooks {
			n.children = append(n.children, hookNode("postRestore hook", h))
		}
		for _, h := range t.Stats {
			if h.SnapshotID != "" {
				line := fmt.Sprintf("snapshot %s  host %s", short(h.SnapshotID), h.Hostname)
				if h.Size != nil {
					line += "  " + humanize.IBytes(uint64(*h.Size)) + " restored"
				}
				n.children = append(n.children, node{label: line})
			}
		}
		root.children = append(root.children, n)
	}
	if g := st.GlobalHooks; g != nil && g.PostRestore != nil {
		root.children = append(root.children, hookNode("global postRestore hook", *g.PostRestore))
	}
	if st.Message != "" {
		root.children = append(root.children, node{label: "message: " + st.Message})
	}
	return root
}

// rolesOf maps the Function steps of a run record to their roles.
func rolesOf(plan *v1alpha1.RunPlan) map[string]v1alpha1.StepRole {
	out := map[string]v1alpha1.StepRole{}
	if plan == nil {
		return out
	}
	for _, t := range plan.Layout.Targets {
		for _, s := range t.Steps {
			out[s.Name] = s.Role
		}
	}
	return out
}

// stepNode is a Function step's line: its name, its Function, its role in
// the run record, its phase.
func stepNode(s v1alpha1.StepStatus, role v1alpha1.StepRole) node {
	return node{label: stepLabel(s.Name, s.Function, role) + "  " + phaseLine(string(s.Phase), s.StartedAt, s.FinishedAt, s.Message)}
}

// stepLabel names a Function step: its name, its Function, its role (what
// describe and plan print before a step's phase or dependencies).
func stepLabel(name, function string, role v1alpha1.StepRole) string {
	label := "step " + name
	if function != "" && function != name {
		label += " (" + function + ")"
	}
	if role != "" {
		label += " [" + string(role) + "]"
	}
	return label
}

// hookNode is a hook's line: its title, its node name (the Workflow's node
// of the same name), its phase.
func hookNode(title string, h v1alpha1.HookStatus) node {
	return node{label: hookLabel(title, h.Name) + "  " + phaseLine(string(h.Phase), h.StartedAt, h.FinishedAt, h.Message)}
}

// hookLabel names a hook: its title and its step (node) name.
func hookLabel(title, name string) string {
	if name != "" {
		title += " " + name
	}
	return title
}

func phaseLine(phase string, start, end *metav1.Time, msg string) string {
	line := orDash(phase)
	if start != nil && end != nil {
		line += "  " + end.Sub(start.Time).Round(time.Second).String()
	}
	if msg != "" {
		line += "  " + msg
	}
	return line
}

func printChildren(w io.Writer, nodes []node, prefix string) {
	for i, n := range nodes {
		branch, next := "├─ ", "│  "
		if i == len(nodes)-1 {
			branch, next = "└─ ", "   "
		}
		fmt.Fprintln(w, prefix+branch+n.label)
		printChildren(w, n.children, prefix+next)
	}
}

func refString(r *v1alpha1.TargetRef) string {
	if r == nil || r.Name == "" {
		return "(none)"
	}
	return r.Kind + "/" + r.Name
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeInvokerOf reads a BackupConfiguration or BackupBatch and its
// sessions from the cluster and describes them.
func describeInvokerOf(ctx context.Context, w io.Writer, kube *kubeFlags, ref string) error {
	kind, name, obj, err := invokerObject(ref)
	if err != nil {
		return err
	}
	cl, _, err := kube.get(ctx, kind, name, obj)
	if err != nil {
		return err
	}
	sessions, err := invokerSessions(ctx, cl, obj)
	if err != nil {
		return err
	}
	describeInvoker(w, obj, sessions, time.Now())
	return nil
}

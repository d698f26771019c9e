package engine

import (
	"context"
	"sort"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline/argo"
)

var stopTime = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func newArgo(t *testing.T, objs ...client.Object) (*Argo, client.Client) {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, wfv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	return NewArgo(ArgoOptions{Client: c, APIReader: c, Scheme: s, Now: func() time.Time { return stopTime }}), c
}

// stepPod is a pod of workflow wf (owned by the Workflow of uid wfUID, if
// any) for step, of session "s", in phase.
func stepPod(name, wf, wfUID, step string, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: name, UID: types.UID("uid-" + name),
			Labels:      map[string]string{LabelArgoWorkflow: wf, v1alpha1.LabelSession: "s"},
			Annotations: map[string]string{annotationNodeName: wf + "." + step, annotationNodeID: wf + "-" + name},
		},
		Status: corev1.PodStatus{Phase: phase},
	}
	if wfUID != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow", Name: wf, UID: types.UID(wfUID)}}
	}
	if phase == corev1.PodSucceeded {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			FinishedAt: metav1.NewTime(stopTime.Add(-time.Second)),
		}}}}
	}
	return p
}

// runningSession is a session "s" of two targets: a (a-backup Running)
// and b (b-backup Running, b-retention Pending), with a global post hook
// not started, whose Workflow is "wf".
func runningSession() *v1alpha1.BackupSession {
	started := metav1.NewTime(stopTime.Add(-time.Minute))
	s := owner("s", "session-uid")
	s.Status = v1alpha1.BackupSessionStatus{
		Phase:    v1alpha1.BackupSessionRunning,
		Workflow: &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineArgo, Namespace: "ns", Name: "wf"},
		Targets: []v1alpha1.BackupTargetStatus{
			{
				Phase: v1alpha1.TargetRunning,
				Steps: []v1alpha1.StepStatus{{Name: "a-backup", Phase: v1alpha1.StepRunning, StartedAt: &started}},
				Stats: []v1alpha1.HostBackupStats{{Hostname: "a", Phase: v1alpha1.HostRunning}},
			},
			{
				Phase: v1alpha1.TargetRunning,
				Steps: []v1alpha1.StepStatus{
					{Name: "b-backup", Phase: v1alpha1.StepRunning, StartedAt: &started},
					{Name: "b-retention", Phase: v1alpha1.StepPending},
				},
				Stats: []v1alpha1.HostBackupStats{{Hostname: "b", Phase: v1alpha1.HostRunning}},
			},
		},
		GlobalHooks: &v1alpha1.BackupGlobalHooksStatus{PostBackup: &v1alpha1.HookStatus{Name: "global-post", Phase: v1alpha1.StepPending}},
	}
	return s
}

func podNames(t *testing.T, c client.Client) []string {
	t.Helper()
	list := &corev1.PodList{}
	if err := c.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}

// phases is "<step or hook>=<phase> <finished?> <message>" for each step
// and hook, and "<target>: <phase>" / "<host> <phase> <snapshot>".
func phases(st *v1alpha1.BackupSessionStatus) []string {
	var out []string
	line := func(name string, p v1alpha1.StepPhase, fin *metav1.Time, msg string) {
		f := "-"
		if fin != nil {
			f = fin.UTC().Format(time.TimeOnly)
		}
		out = append(out, name+"="+string(p)+" "+f+" "+msg)
	}
	for _, t := range st.Targets {
		out = append(out, "target "+string(t.Phase))
		for _, s := range t.Steps {
			line(s.Name, s.Phase, s.FinishedAt, s.Message)
		}
		for _, h := range t.Stats {
			out = append(out, "host "+h.Hostname+" "+string(h.Phase)+" "+h.SnapshotID+" "+h.Error)
		}
	}
	if g := st.GlobalHooks; g != nil && g.PostBackup != nil {
		line(g.PostBackup.Name, g.PostBackup.Phase, g.PostBackup.FinishedAt, g.PostBackup.Message)
	}
	return out
}

// TestArgoStopLostWorkflow: the Workflow is gone; its step pods live on.
// Stop deletes the pods that have not ended (whether they still have an
// owner reference or were orphaned), leaves other sessions' pods alone,
// and ends the session's steps, recording the snapshot of a step whose pod
// succeeded after the Workflow went away.
func TestArgoStopLostWorkflow(t *testing.T) {
	const msg = "the Argo Workflow ns/wf was deleted while the session was running"
	other := stepPod("other-session", "wf", "", "x", corev1.PodRunning)
	other.Labels[v1alpha1.LabelSession] = "another"
	result := &wfv1.WorkflowTaskResult{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "wf-a-done"},
		NodeResult: wfv1.NodeResult{Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
			{Name: "snapshotID", Value: wfv1.AnyStringPtr("abc123\n")},
			{Name: "size", Value: wfv1.AnyStringPtr("42")},
		}}},
	}
	a, c := newArgo(t,
		stepPod("a-done", "wf", "wf-uid", "a-backup", corev1.PodSucceeded),
		stepPod("b-running", "wf", "wf-uid", "b-backup", corev1.PodRunning),
		stepPod("b-orphaned", "wf", "", "b-backup(1)", corev1.PodRunning),
		stepPod("pending", "wf", "wf-uid", "b-retention", corev1.PodPending),
		other,
		stepPod("another-workflow", "wf2", "wf2-uid", "a-backup", corev1.PodRunning),
		result,
	)
	s := runningSession()
	if err := a.Stop(context.Background(), s, s.Status.Workflow, msg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a-done", "another-workflow", "other-session"}, podNames(t, c)); diff != "" {
		t.Errorf("pods left (-want +got):\n%s", diff)
	}
	want := []string{
		"target Failed",
		"a-backup=Succeeded 11:59:59 succeeded, but " + msg + "; it committed snapshot abc123, which this session did not record",
		"host a Succeeded abc123 ",
		"target Failed",
		"b-backup=Failed 12:00:00 " + msg,
		"b-retention=Skipped 12:00:00 " + msg,
		"host b Failed  " + msg,
		"global-post=Skipped 12:00:00 " + msg,
	}
	if diff := cmp.Diff(want, phases(&s.Status)); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if got := s.Status.Targets[0].Stats[0].Size; got == nil || *got != 42 {
		t.Errorf("host a size = %v, want 42", got)
	}
}

// TestArgoStopReplacedWorkflow: a Workflow of another object took the
// name. Stop does not touch it or its pods, deletes the pods left of the
// session's own Workflow, and ends the session's steps.
func TestArgoStopReplacedWorkflow(t *testing.T) {
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "wf", UID: "new-uid"}}
	a, c := newArgo(t, wf,
		stepPod("new", "wf", "new-uid", "a-backup", corev1.PodRunning),
		stepPod("old", "wf", "wf-uid", "a-backup", corev1.PodRunning),
	)
	s := runningSession()
	if err := a.Stop(context.Background(), s, s.Status.Workflow, "replaced"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new"}, podNames(t, c)); diff != "" {
		t.Errorf("pods left (-want +got):\n%s", diff)
	}
	got := &wfv1.Workflow{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(wf), got); err != nil || got.Spec.Shutdown != "" {
		t.Errorf("the other Workflow: shutdown %q, err %v; want it untouched", got.Spec.Shutdown, err)
	}
	if p := s.Status.Targets[1].Steps[0].Phase; p != v1alpha1.StepFailed {
		t.Errorf("b-backup = %s, want Failed", p)
	}
}

// TestArgoStopRunningWorkflow: the session's own Workflow is stopped with
// spec.shutdown=Terminate; its pods and the session's status are Argo's to
// change.
func TestArgoStopRunningWorkflow(t *testing.T) {
	s := runningSession()
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "wf", UID: "wf-uid", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "BackupSession", Name: "s", UID: s.UID,
	}}}}
	a, c := newArgo(t, wf, stepPod("running", "wf", "wf-uid", "a-backup", corev1.PodRunning))
	if err := a.Stop(context.Background(), s, s.Status.Workflow, "deadline"); err != nil {
		t.Fatal(err)
	}
	got := &wfv1.Workflow{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(wf), got); err != nil || got.Spec.Shutdown != wfv1.ShutdownStrategyTerminate {
		t.Errorf("Workflow shutdown %q, err %v; want Terminate", got.Spec.Shutdown, err)
	}
	if diff := cmp.Diff([]string{"running"}, podNames(t, c)); diff != "" {
		t.Errorf("pods left (-want +got):\n%s", diff)
	}
	if p := s.Status.Targets[0].Steps[0].Phase; p != v1alpha1.StepRunning {
		t.Errorf("a-backup = %s, want Running (Argo reports it)", p)
	}
}

// TestArgoStopWorkflowBeingDeleted: the session's Workflow was deleted
// with --cascade=orphan and waits for its finalizer; its step pod runs,
// although the status, a moment behind, still shows the step Pending.
// Stop terminates the Workflow (so that Argo recreates no pod), deletes
// the pod, and ends the step Failed with the pod's start time.
func TestArgoStopWorkflowBeingDeleted(t *testing.T) {
	s := runningSession()
	s.Status.Targets[0].Steps[0] = v1alpha1.StepStatus{Name: "a-backup", Phase: v1alpha1.StepPending}
	deleted := metav1.NewTime(stopTime.Add(-time.Second))
	wf := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: "wf", UID: "wf-uid", DeletionTimestamp: &deleted, Finalizers: []string{metav1.FinalizerOrphanDependents},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BackupSession", Name: "s", UID: s.UID}},
	}}
	// b-backup succeeded before the deletion; the status has not caught up.
	wf.Status.Nodes = wfv1.Nodes{"wf-1": {
		ID: "wf-1", Name: "wf.b-backup", Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded,
		StartedAt: metav1.NewTime(stopTime.Add(-time.Minute)), FinishedAt: metav1.NewTime(stopTime.Add(-3 * time.Second)),
		Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{{Name: "snapshotID", Value: wfv1.AnyStringPtr("def456")}}},
	}}
	pod := stepPod("running", "wf", "", "a-backup", corev1.PodRunning)
	podStart := metav1.NewTime(stopTime.Add(-2 * time.Second))
	pod.Status.StartTime = &podStart
	a, c := newArgo(t, wf, pod)
	const msg = "the Argo Workflow ns/wf was deleted while the session was running"
	if err := a.Stop(context.Background(), s, s.Status.Workflow, msg); err != nil {
		t.Fatal(err)
	}
	got := &wfv1.Workflow{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(wf), got); err != nil || got.Spec.Shutdown != wfv1.ShutdownStrategyTerminate {
		t.Errorf("Workflow shutdown %q, err %v; want Terminate", got.Spec.Shutdown, err)
	}
	if names := podNames(t, c); len(names) != 0 {
		t.Errorf("pods left: %v", names)
	}
	step := s.Status.Targets[0].Steps[0]
	if step.Phase != v1alpha1.StepFailed || step.Message != msg || step.StartedAt == nil || !step.StartedAt.Equal(&podStart) || step.FinishedAt == nil {
		t.Errorf("a-backup = %+v; want Failed, started when its pod did, finished", step)
	}
	want := []string{
		"b-backup=Succeeded 11:59:57 succeeded, but " + msg + "; it committed snapshot def456, which this session did not record",
		"b-retention=Skipped 12:00:00 " + msg,
		"host b Succeeded def456 ",
	}
	if diff := cmp.Diff(want, phases(&s.Status)[4:7]); diff != "" {
		t.Errorf("target b (-want +got):\n%s", diff)
	}
}

// TestArgoStatusWorkflowBeingDeleted: a Workflow deleted before it
// finished is lost at once, whatever its finalizers make it wait for.
func TestArgoStatusWorkflowBeingDeleted(t *testing.T) {
	s := runningSession()
	deleted := metav1.NewTime(stopTime)
	wf := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: "wf", UID: "wf-uid", DeletionTimestamp: &deleted, Finalizers: []string{metav1.FinalizerDeleteDependents},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BackupSession", Name: "s", UID: s.UID}},
		},
		Status: wfv1.WorkflowStatus{Phase: wfv1.WorkflowRunning},
	}
	a, _ := newArgo(t, wf)
	_, err := a.Status(context.Background(), s, s.Status.Workflow, record(graph("true")))
	if lost := AsLost(err); lost == nil || lost.Reason != "WorkflowDeleted" || lost.Unknown {
		t.Errorf("Status: %v; want a LostError WorkflowDeleted", err)
	}
}

// secretReads counts the Secrets read through the reader it wraps.
type secretReads struct {
	client.Reader
	n int
}

func (r *secretReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		r.n++
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// TestArgoStatusReadsSecretsForFailures: Status reads the Secrets the
// Workflow's containers read (to hide their values) only when a message it
// copies can quote a container's output: a failed node's message or a
// finished Workflow's message. Following a Workflow whose nodes are pending
// or running reads none, even when Argo gave them messages.
func TestArgoStatusReadsSecretsForFailures(t *testing.T) {
	const password = "s3cr3t-password"
	node := func(wf, step string, phase wfv1.NodePhase, msg string) wfv1.NodeStatus {
		return wfv1.NodeStatus{ID: wf + "-" + step, Name: wf + "." + step, Type: wfv1.NodeTypePod, Phase: phase, Message: msg}
	}
	for _, tc := range []struct {
		name      string
		phase     wfv1.WorkflowPhase
		message   string
		nodes     func(wf string) []wfv1.NodeStatus
		wantReads int
		want      []string // each step's "<phase> <message>"
	}{
		{
			name: "no messages", phase: wfv1.WorkflowRunning,
			nodes: func(wf string) []wfv1.NodeStatus { return []wfv1.NodeStatus{node(wf, "a", wfv1.NodeRunning, "")} },
			want:  []string{"Running ", "Pending "},
		},
		{
			name: "a pending node's message", phase: wfv1.WorkflowRunning,
			nodes: func(wf string) []wfv1.NodeStatus {
				return []wfv1.NodeStatus{node(wf, "a", wfv1.NodePending, "ContainerCreating")}
			},
			want: []string{"Pending ContainerCreating", "Pending "},
		},
		{
			name: "a running node's message and a succeeded one", phase: wfv1.WorkflowRunning,
			nodes: func(wf string) []wfv1.NodeStatus {
				return []wfv1.NodeStatus{node(wf, "a", wfv1.NodeSucceeded, ""), node(wf, "b", wfv1.NodeRunning, "PodInitializing")}
			},
			want: []string{"Succeeded ", "Running PodInitializing"},
		},
		{
			name: "a failed node's log tail", phase: wfv1.WorkflowRunning,
			nodes: func(wf string) []wfv1.NodeStatus {
				return []wfv1.NodeStatus{node(wf, "a", wfv1.NodeFailed, "main: Error (exit code 1): starting\nerror: cannot log in with password "+password+"\ndone")}
			},
			wantReads: 1,
			want:      []string{"Failed exit code 1: error: cannot log in with password [redacted] … done", "Pending "},
		},
		{
			name: "an errored node's message", phase: wfv1.WorkflowRunning,
			nodes: func(wf string) []wfv1.NodeStatus {
				return []wfv1.NodeStatus{node(wf, "a", wfv1.NodeError, "password "+password+" refused")}
			},
			wantReads: 1,
			want:      []string{"Error password [redacted] refused", "Pending "},
		},
		{
			name: "a failed container's message on a node not yet failed", phase: wfv1.WorkflowRunning,
			nodes: func(wf string) []wfv1.NodeStatus {
				return []wfv1.NodeStatus{node(wf, "a", wfv1.NodeRunning, "main: Error (exit code 2): cannot log in with password "+password)}
			},
			wantReads: 1,
			want:      []string{"Running exit code 2: cannot log in with password [redacted]", "Pending "},
		},
		{
			name: "the finished Workflow's message", phase: wfv1.WorkflowFailed, message: "stopped: " + password,
			nodes:     func(string) []wfv1.NodeStatus { return nil },
			wantReads: 1,
			want:      []string{"Omitted not run: the workflow ended Failed: stopped: [redacted]", "Omitted not run: the workflow ended Failed: stopped: [redacted]"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := owner("s", "session-uid")
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "repo"}, Data: map[string][]byte{"RESTIC_PASSWORD": []byte(password)}}
			_, c := newArgo(t, s, secret)
			reader := &secretReads{Reader: c}
			a := NewArgo(ArgoOptions{Client: c, APIReader: reader, Scheme: c.Scheme(), Image: "stashflow:test"})
			ctx := context.Background()
			g := graph("true")
			ref, err := a.Submit(ctx, s, g)
			if err != nil {
				t.Fatal(err)
			}
			wf := &wfv1.Workflow{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, wf); err != nil {
				t.Fatal(err)
			}
			if _, ok := argo.SecretsRead(wf)["repo"]; !ok {
				t.Fatalf("the Workflow reads no Secret repo: the test proves nothing")
			}
			wf.Status.Phase, wf.Status.Message, wf.Status.Nodes = tc.phase, tc.message, wfv1.Nodes{}
			for _, n := range tc.nodes(wf.Name) {
				wf.Status.Nodes[n.ID] = n
			}
			if err := c.Update(ctx, wf); err != nil {
				t.Fatal(err)
			}

			run, err := a.Status(ctx, s, ref, record(g))
			if err != nil {
				t.Fatal(err)
			}
			if reader.n != tc.wantReads {
				t.Errorf("Secret reads = %d, want %d", reader.n, tc.wantReads)
			}
			var got []string
			for _, n := range run.Nodes {
				got = append(got, string(n.Phase)+" "+n.Message)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}

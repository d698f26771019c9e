package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestFailureCause: a step that fails says why where people look. The
// Function writes its one-line reason as the container's termination
// message, so the Argo node's message, the session's step message and the
// session's message all carry the cause, not only "Error (exit code 1)".
func TestFailureCause(t *testing.T) {
	t.Cleanup(func() {
		_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: v1alpha1.LabelSession + "=cause-1"})
	})
	startOperator(t)
	port := freePort(t) // nothing listens there
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cause-repo-secret"}, Data: map[string][]byte{"RESTIC_PASSWORD": []byte("cause-password")}},
		&v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "cause-repo"}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
			StorageSecretName: "cause-repo-secret",
			Local:             &v1alpha1.LocalSpec{HostPath: &corev1.HostPathVolumeSource{Path: t.TempDir()}, MountPath: "/stashflow/repository"},
		}}},
		appBinding("cause-etcd", "http://127.0.0.1:"+strconv.Itoa(port)),
	)
	bs, node := failedStep(t, "cause", "etcd-backup", "etcd-backup")
	cause := "127.0.0.1:" + strconv.Itoa(port)
	if node.Phase != wfv1.NodeFailed || !strings.Contains(node.Message, cause) {
		t.Errorf("Argo node etcd-backup: %s %q, want Failed with a message naming %s", node.Phase, node.Message, cause)
	}
	step := bs.Status.Targets[0].Steps[0]
	if !strings.Contains(step.Message, cause) {
		t.Errorf("session step %s: message %q, want it to name %s", step.Name, step.Message, cause)
	}
	if strings.Contains(mustJSON(t, bs.Status), "cause-password") {
		t.Error("the repository password appears in the session's status")
	}

	t.Run("a script's log", func(t *testing.T) { scriptCause(t) })
	t.Run("a script that prints its password", func(t *testing.T) { scriptLeak(t) })
}

// scriptLeak: a script that prints the repository password before it
// fails. The kubelet copies the log's tail into the pod's status and Argo
// into the node's message (its record, as the container's log is); the
// operator hides the values of the Secrets the step reads before the
// message reaches the session's status.
func scriptLeak(t *testing.T) {
	t.Cleanup(func() {
		_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: v1alpha1.LabelSession + "=cause-leak-1"})
	})
	createCluster(t,
		&v1alpha1.Function{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-cause-leak"},
			Spec: v1alpha1.FunctionSpec{
				Image:   "${STASHFLOW_IMAGE}",
				Command: []string{"sh", "-c", `echo "error: cannot log in with password $RESTIC_PASSWORD"; exit 3`},
			},
		},
		// The Task's backup step, which the failure before it keeps from
		// running (a backup Task needs one).
		afterFailure("e2e-cause-leak-backup"),
		&v1alpha1.Task{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-cause-leak"},
			Spec:       v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{{Name: "e2e-cause-leak"}, {Name: "e2e-cause-leak-backup"}}},
		},
	)
	bs, node := failedStep(t, "cause-leak", "e2e-cause-leak", "e2e-cause-leak")
	// The test can fail: the value did reach the step and Argo's message.
	if !strings.Contains(node.Message, "cause-password") {
		t.Fatalf("Argo node: %q, want the kubelet's log tail with the password the script printed", node.Message)
	}
	var got string
	for _, s := range bs.Status.Targets[0].Steps {
		if s.Name == "e2e-cause-leak" {
			got = s.Message
		}
	}
	if want := "exit code 3: error: cannot log in with password [redacted]"; got != want {
		t.Errorf("session step e2e-cause-leak: message %q, want %q", got, want)
	}
	if strings.Contains(mustJSON(t, bs.Status), "cause-password") {
		t.Error("the repository password appears in the session's status")
	}
}

// scriptCause: a step that is no Function of ours writes no termination
// message, so the kubelet takes its log's tail (ordinary output, restic's
// error, restic's hint). The session's step message still names the cause
// by the rule the local engine applies to a step's log (pipeline/stepcause):
// the line that names the failure, not Argo's "Error (exit code 10)" and
// the log's whole tail.
func scriptCause(t *testing.T) {
	t.Cleanup(func() {
		_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: v1alpha1.LabelSession + "=cause-script-1"})
	})
	missing := filepath.Join(t.TempDir(), "no-repository")
	createCluster(t,
		&v1alpha1.Function{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-cause-script"},
			Spec: v1alpha1.FunctionSpec{
				Image: "${STASHFLOW_IMAGE}",
				Command: []string{"sh", "-c",
					`echo "opening the repository"; exec restic -r "$1" --insecure-no-password --no-cache cat config`, "sh"},
				Args: []string{missing},
			},
		},
		// The Task's backup step, which the failure before it keeps from
		// running (a backup Task needs one).
		afterFailure("e2e-cause-script-backup"),
		&v1alpha1.Task{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-cause-script"},
			Spec:       v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{{Name: "e2e-cause-script"}, {Name: "e2e-cause-script-backup"}}},
		},
	)
	bs, node := failedStep(t, "cause-script", "e2e-cause-script", "e2e-cause-script")
	// Argo's own message: the exit code and the kubelet's log tail.
	if !strings.HasPrefix(node.Message, "main: Error (exit code 10): ") || !strings.Contains(node.Message, "opening the repository") {
		t.Errorf("Argo node: %q, want Argo's exit code 10 and the log's tail", node.Message)
	}
	want := "exit code 10: Fatal: repository does not exist: unable to open config file: stat " + missing +
		"/config: no such file or directory … " + missing
	var got string
	for _, s := range bs.Status.Targets[0].Steps {
		if s.Name == "e2e-cause-script" {
			got = s.Message
		}
	}
	if got != want {
		t.Errorf("session step e2e-cause-script: message %q, want %q", got, want)
	}
}

// failedStep runs Task task on the cause-etcd target into cause-repo as
// BackupConfiguration name and its session <name>-1, which must end
// Failed, and returns the session and the Argo node of its step.
func failedStep(t *testing.T, name, task, step string) (*v1alpha1.BackupSession, wfv1.NodeStatus) {
	t.Helper()
	create(t, &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: task},
				Target: &v1alpha1.BackupTarget{Ref: appBindingRef("cause-etcd")},
			},
			Repository: v1alpha1.ObjectRef{Name: "cause-repo"},
			Paused:     true,
		},
	})
	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-1"},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: name}},
	}
	create(t, bs)
	waitFor(t, bs, func() bool {
		return bs.Status.Phase == v1alpha1.BackupSessionFailed || bs.Status.Phase == v1alpha1.BackupSessionSucceeded
	})
	if bs.Status.Phase != v1alpha1.BackupSessionFailed {
		t.Fatalf("session %s, want Failed", bs.Status.Phase)
	}
	wf := workflowOf(t, bs.Status.Workflow)
	node, ok := podNodes(wf)[step]
	if !ok {
		t.Fatalf("no %s node in %s", step, wf.Name)
	}
	return bs, node
}

// afterFailure is a backup step that a failed step before it keeps from
// running: it declares snapshotID and writes an empty one.
func afterFailure(name string) *v1alpha1.Function {
	return &v1alpha1.Function{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.FunctionSpec{
			Image:   "${STASHFLOW_IMAGE}",
			Command: []string{"sh", "-c", `: > "$STASHFLOW_OUTPUT_DIR/snapshotID"`},
			Outputs: []v1alpha1.FunctionOutput{{Name: "snapshotID", Path: "/tmp/stashflow/outputs/snapshotID"}},
		},
	}
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/internal/testproc"
)

// TestTriggerWait runs `stashflow trigger` against a real kube-apiserver
// with the operator (this binary, local engine) running: sessions get
// server-generated names, so two triggers at once do not collide; --wait
// follows a session to its end and exits 0 for Succeeded, 1 otherwise.
func TestTriggerWait(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	ns := "trigger"
	shell := func(name, script string) (*v1alpha1.Function, *v1alpha1.Task) {
		// A backup step that writes no snapshot: an empty snapshotID.
		return &v1alpha1.Function{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.FunctionSpec{Image: "busybox", Command: []string{"sh", "-c", script + `; : > "$STASHFLOW_OUTPUT_DIR/snapshotID"`},
				Outputs: []v1alpha1.FunctionOutput{{Name: "snapshotID", Path: "/tmp/stashflow/outputs/snapshotID"}}}},
			&v1alpha1.Task{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{{Name: name}}}}
	}
	okFn, okTask := shell("trigger-ok", "echo backed up")
	failFn, failTask := shell("trigger-fail", "echo 'disk full' >&2; exit 1")
	config := func(name, task string) *v1alpha1.BackupConfiguration {
		return &v1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{Task: &v1alpha1.TaskRef{Name: task}},
			Repository:                      v1alpha1.ObjectRef{Name: "repo"}, Paused: true,
		}}
	}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns}, StringData: map[string]string{"RESTIC_PASSWORD": "pw"}},
		&v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
			StorageSecretName: "repo",
			Local:             &v1alpha1.LocalSpec{MountPath: "/stashflow/repository", HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(dir, "repo")}},
		}}},
		okFn, okTask, failFn, failTask, config("twice", "trigger-ok"), config("ok", "trigger-ok"), config("broken", "trigger-fail"),
	} {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	op := exec.Command(binary, "operator", "--engine=local", "--namespace="+ns, "--metrics-bind-address=0",
		"--health-probe-bind-address=0", "--ui-bind-address=", "--install-catalog=false", "--work-dir="+filepath.Join(dir, "work"))
	op.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	testproc.StartProcess(t, op, filepath.Join(dir, "operator.log"))

	trigger := func(args ...string) (string, string, int) {
		return stashflowEnv(context.Background(), t, []string{"KUBECONFIG=" + kubeconfig}, append([]string{"trigger", "-n", ns}, args...)...)
	}
	created := regexp.MustCompile(`backupsession/(twice-manual-[a-z0-9]{5}) created`)

	// Two triggers at once: two sessions (the second is skipped while the
	// first runs, so it has an invoker of its own, away from --wait's).
	out1, _, code1 := trigger("backupconfiguration/twice")
	out2, _, code2 := trigger("bc/twice")
	m1, m2 := created.FindStringSubmatch(out1), created.FindStringSubmatch(out2)
	if code1 != 0 || code2 != 0 || m1 == nil || m2 == nil || m1[1] == m2[1] {
		t.Fatalf("two triggers: %d %q, %d %q; want two sessions with generated names", code1, out1, code2, out2)
	}

	t.Run("succeeded", func(t *testing.T) {
		stdout, stderr, code := trigger("backupconfiguration/ok", "--wait", "--timeout=2m")
		if code != 0 || !strings.Contains(stdout, " Succeeded ") || !strings.Contains(stderr, " Succeeded") {
			log, _ := os.ReadFile(filepath.Join(dir, "operator.log"))
			t.Errorf("exit %d\nstdout: %s\nstderr: %s\noperator log:\n%s", code, stdout, stderr, log)
		}
	})
	t.Run("failed", func(t *testing.T) {
		stdout, stderr, code := trigger("backupconfiguration/broken", "--wait", "--timeout=2m")
		if code != exitFailed || !strings.Contains(stdout, " Failed ") || !strings.Contains(stderr, "disk full") {
			t.Errorf("exit %d\nstdout: %s\nstderr: %s; want exit 1 naming the step's error", code, stdout, stderr)
		}
	})
}

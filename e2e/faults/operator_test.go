package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/internal/testproc"
)

// archiveScript streams a directory into restic through a shell pipe: when
// the operator dies, the shell, tar and restic must die with it (the step
// guard), or restic would commit a snapshot that nobody records once tar
// reaches the end.
const archiveScript = `set -eu
tar -C "${SOURCE_DIR}" -cf - . | restic backup --stdin --stdin-filename archive.tar --host "${HOSTNAME}" --tag "session=${BACKUP_SESSION}" --json > "$STASHFLOW_OUTPUT_DIR/summary.json"
tail -n 1 "$STASHFLOW_OUTPUT_DIR/summary.json" | sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p' > "$STASHFLOW_OUTPUT_DIR/snapshotID"
`

// TestOperatorKilled SIGKILLs an operator on the local engine in the middle
// of a backup step, then starts a new one: no process of the step is left,
// no snapshot is committed behind the session's back, the session ends
// Unknown saying the run was lost, and the repository checks clean.
func TestOperatorKilled(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	w := newWorld(t, 160)
	kubeconfig := filepath.Join(w.dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	if out, err := w.restic("init"); err != nil {
		t.Fatalf("restic init: %v\n%s", err, out)
	}
	ctx := context.Background()
	ns := "faults"
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns}, StringData: map[string]string{"RESTIC_PASSWORD": password}},
		&v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
			StorageSecretName: "repo",
			Local:             &v1alpha1.LocalSpec{MountPath: "/stashflow/repository", HostPath: &corev1.HostPathVolumeSource{Path: w.hostRepo}},
		}}},
		&v1alpha1.Function{ObjectMeta: metav1.ObjectMeta{Name: "archive"}, Spec: v1alpha1.FunctionSpec{
			Image: "busybox", Command: []string{"sh", "-c", archiveScript},
			Outputs: []v1alpha1.FunctionOutput{{Name: "snapshotID", Path: "/tmp/stashflow/outputs/snapshotID"}},
		}},
		&v1alpha1.Task{ObjectMeta: metav1.ObjectMeta{Name: "archive"}, Spec: v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{
			{Name: "archive", Params: []v1alpha1.Param{{Name: "SOURCE_DIR", Value: w.source}}},
		}}},
		&v1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: ns}, Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{Task: &v1alpha1.TaskRef{Name: "archive"}},
			Repository:                      v1alpha1.ObjectRef{Name: "repo"}, Schedule: "@yearly",
		}},
		&v1alpha1.BackupSession{ObjectMeta: metav1.ObjectMeta{Name: "now", Namespace: ns}, Spec: v1alpha1.BackupSessionSpec{
			Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: "data"},
		}},
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}

	workDir := filepath.Join(w.dir, "operator")
	startOperator := func(name string) (*exec.Cmd, *procWatch, <-chan struct{}) {
		cmd := exec.Command(stashflowBin, "operator", "--engine=local", "--namespace="+ns, "--metrics-bind-address=0",
			"--health-probe-bind-address=0", "--work-dir="+workDir)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		done := testproc.StartProcess(t, cmd, filepath.Join(w.dir, name+".log"))
		return cmd, watchTree(cmd.Process.Pid), done
	}
	op, procs, opDone := startOperator("operator-1")
	t.Cleanup(procs.killAll)

	// Kill the operator once restic has stored data.
	w.waitForPack(&run{done: make(chan struct{})})
	if procs.find("restic") == 0 || procs.find("tar") == 0 {
		t.Fatalf("no tar | restic below the operator (%v)", procs.alive())
	}
	if err := op.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-opDone
	procs.stop()
	if left := procs.alive(); len(left) > 0 {
		t.Fatalf("processes of the step outlived the operator: %v", left)
	}
	// Whatever was running had its stdin cut and died: nothing can commit
	// a snapshot now. Wait a moment longer than a commit would take.
	time.Sleep(time.Second)

	_, procs2, _ := startOperator("operator-2")
	t.Cleanup(procs2.killAll)
	var s v1alpha1.BackupSession
	deadline := time.Now().Add(time.Minute)
	for {
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "now"}, &s); err != nil {
			t.Fatal(err)
		}
		if s.Status.Phase == v1alpha1.BackupSessionFailed || s.Status.Phase == v1alpha1.BackupSessionSucceeded || s.Status.Phase == v1alpha1.BackupSessionUnknown {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(w.dir, "operator-2.log"))
			t.Fatalf("session still %q a minute after the operator restarted\n%s", s.Status.Phase, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	status := fmt.Sprintf("%+v", s.Status)
	// Unknown, not Failed: the operator cannot tell whether the step had
	// committed before it died; what it can tell, the repository shows.
	if s.Status.Phase != v1alpha1.BackupSessionUnknown || !strings.Contains(status, "RunLost") {
		t.Errorf("session after the restart: %s, want Unknown with reason RunLost\n%s", s.Status.Phase, status)
	}
	if strings.Contains(status, password) {
		t.Error("the password appears in the session's status")
	}
	w.check(&run{procs: &procWatch{seen: map[int]string{}}}, invariants{snapshots: 0, staleLock: true})
}

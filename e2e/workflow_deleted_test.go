package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/e2e/podrunner"
)

// slowSleep is how long the slow backup step sleeps before it backs up: a
// step that outlived its Workflow by that much would commit a snapshot.
const slowSleep = 3 * time.Second

// slowBackupFunction is the catalog's volume-backup behind a shell that
// writes its pid to pidDir/<session> and sleeps slowSleep first; exec keeps
// the pid for stashflow.
func slowBackupFunction(pidDir string) *v1alpha1.Function {
	script := fmt.Sprintf(`pid="%s/$1"; bin="$2"; shift 2; echo $$ > "$pid.tmp" && mv "$pid.tmp" "$pid" && sleep %d && exec "$bin" "$@"`,
		pidDir, int(slowSleep.Seconds()))
	return &v1alpha1.Function{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-slow-volume-backup"},
		Spec: v1alpha1.FunctionSpec{
			Image:   "${STASHFLOW_IMAGE}",
			Command: []string{"sh", "-c", script, "sh"},
			Args: []string{
				"${BACKUP_SESSION}", stashflowBin, "fn", "volume-backup",
				"--paths=${TARGET_PATHS}", "--session=${BACKUP_SESSION}", "--target=${TARGET_KIND}/${TARGET_NAME}", "--hostname=${HOSTNAME}",
			},
			Outputs: []v1alpha1.FunctionOutput{
				{Name: "snapshotID", Path: "/tmp/stashflow/outputs/snapshotID"},
				{Name: "size", Path: "/tmp/stashflow/outputs/size"},
				{Name: "duration", Path: "/tmp/stashflow/outputs/duration"},
			},
		},
	}
}

// createCluster creates cluster-scoped objects and deletes them at the end
// of the test.
func createCluster(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		obj := o
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
}

// waitPid waits for the pid the step wrote.
func waitPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(fullPathTimeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step did not start (no %s)", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitNoPods waits until the Workflow's pods are gone, or (keepEnded) have
// all ended, and returns what is left.
func waitNoPods(t *testing.T, workflow string, keepEnded bool) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := env.Kube.CoreV1().Pods(env.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: podrunner.LabelWorkflow + "=" + workflow})
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, p := range list.Items {
			if !keepEnded || p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				left++
			}
		}
		if left == 0 {
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods of Workflow %s are left:\n%s", left, workflow, mustJSON(t, list.Items))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitProcessGone waits until no process has pid.
func waitProcessGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			t.Fatalf("the step's process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkflowDeleted deletes a session's Workflow while its first step
// runs, in each way a Workflow can go, and stops one at the session's
// timeOut: the session ends Failed, every step of its status ends (the
// running one Failed, retention Skipped) with a finish time, no pod of the
// Workflow is left that has not ended, the step's process is gone, and no snapshot was
// committed (the step would have backed up slowSleep after it started).
func TestWorkflowDeleted(t *testing.T) {
	start := time.Now()
	ctx := context.Background()
	startOperator(t)

	raw := filepath.Join(t.TempDir(), "repo")
	pidDir := t.TempDir()
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wfdel-repo-secret"}, Data: map[string][]byte{"RESTIC_PASSWORD": []byte("wfdel-password")}},
		&v1alpha1.Repository{
			ObjectMeta: metav1.ObjectMeta{Name: "wfdel-repo"},
			Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "wfdel-repo-secret",
				Local:             &v1alpha1.LocalSpec{HostPath: &corev1.HostPathVolumeSource{Path: raw}, MountPath: "/stashflow/repository"},
			}},
		})
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "wfdel-data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	create(t, claim)
	t.Cleanup(func() { // kubernetes.io/pvc-protection: no controller-manager lifts it
		got := &corev1.PersistentVolumeClaim{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(claim), got); err == nil {
			got.Finalizers = nil
			_ = env.Client.Update(ctx, got)
		}
	})
	data := filepath.Join(env.WorkDir, "pods", "claims", claim.Name)
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "file"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	createCluster(t, slowBackupFunction(pidDir), &v1alpha1.Task{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-slow-volume-backup"},
		Spec:       v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{{Name: "e2e-slow-volume-backup"}, {Name: "retention"}}},
	})

	wfs := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace)
	deleteWith := func(p metav1.DeletionPropagation) func(context.Context, string) error {
		return func(ctx context.Context, name string) error {
			return wfs.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &p})
		}
	}
	keepLast := int64(1)
	var lastPid time.Time
	for _, tc := range []struct {
		name    string
		timeOut string
		// delete deletes the Workflow; nil: the session's timeOut stops it.
		delete func(context.Context, string) error
		// reasons are the session's reasons the test accepts.
		reasons []string
	}{
		{name: "deleted in the background (kubectl delete wf)", delete: deleteWith(metav1.DeletePropagationBackground), reasons: []string{"WorkflowDeleted"}},
		{name: "deleted in the foreground", delete: deleteWith(metav1.DeletePropagationForeground), reasons: []string{"WorkflowDeleted"}},
		{name: "deleted with --cascade=orphan", delete: deleteWith(metav1.DeletePropagationOrphan), reasons: []string{"WorkflowDeleted"}},
		{name: "stopped by the operator at the session's timeOut", timeOut: "2s",
			// Argo's activeDeadlineSeconds may end the step before the
			// operator sees the timeOut pass.
			reasons: []string{"DeadlineExceeded", "StepFailed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("wfdel-%d", time.Now().UnixNano()%1e6)
			create(t, &v1alpha1.BackupConfiguration{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: v1alpha1.BackupConfigurationSpec{
					BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
						Task:   &v1alpha1.TaskRef{Name: "e2e-slow-volume-backup"},
						Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: claim.Name}},
					},
					TimeOut:         tc.timeOut,
					Repository:      v1alpha1.ObjectRef{Name: "wfdel-repo"},
					Schedule:        "0 0 1 1 *",
					Paused:          true,
					RetentionPolicy: &v1alpha1.RetentionPolicy{Name: "keep-1", KeepLast: &keepLast},
				},
			})
			bs := &v1alpha1.BackupSession{
				ObjectMeta: metav1.ObjectMeta{Name: name + "-1"},
				Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
					APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: name,
				}},
			}
			create(t, bs)
			pid := waitPid(t, filepath.Join(pidDir, bs.Name))
			lastPid = time.Now()
			waitFor(t, bs, func() bool { return bs.Status.Workflow != nil })
			wf := bs.Status.Workflow.Name
			env.DumpOnFailure(t, wf)
			t.Cleanup(func() { _ = wfs.Delete(context.Background(), wf, metav1.DeleteOptions{}) })

			begin := time.Now()
			if tc.delete != nil {
				if err := tc.delete(ctx, wf); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, bs, func() bool {
				return bs.Status.Phase == v1alpha1.BackupSessionSucceeded || bs.Status.Phase == v1alpha1.BackupSessionFailed
			})
			ended := time.Since(begin)
			// A pod that ended has no process; the operator leaves it (it
			// records how its step ended) to the podGC or the collector.
			waitNoPods(t, wf, true)
			waitProcessGone(t, pid)
			t.Logf("session %s %s (%s) %s after the delete; pods and process gone after %s",
				bs.Status.Phase, bs.Status.Reason, bs.Status.Message, ended.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))

			if bs.Status.Phase != v1alpha1.BackupSessionFailed || !slices.Contains(tc.reasons, bs.Status.Reason) {
				t.Errorf("session %s, reason %s; want Failed, one of %v", bs.Status.Phase, bs.Status.Reason, tc.reasons)
			}
			if len(bs.Status.Targets) != 1 {
				t.Fatalf("targets: %s", mustJSON(t, bs.Status.Targets))
			}
			tg := bs.Status.Targets[0]
			var steps []string
			for _, s := range tg.Steps {
				steps = append(steps, s.Name+"="+string(s.Phase))
				if s.FinishedAt == nil {
					if tc.delete == nil && s.Phase == v1alpha1.StepSkipped {
						// The deadline path (sessionstatus.Stopped) gives a step it
						// omits no finish time; not this test's subject.
						t.Logf("step %s: %s, no finish time", s.Name, s.Phase)
						continue
					}
					t.Errorf("step %s (%s) has no finish time", s.Name, s.Phase)
				}
				if tc.delete != nil && !strings.Contains(s.Message, "deleted") {
					t.Errorf("step %s: message %q does not say the Workflow was deleted", s.Name, s.Message)
				}
			}
			if got := strings.Join(steps, ","); tg.Phase != v1alpha1.TargetFailed || got != "e2e-slow-volume-backup=Failed,retention=Skipped" {
				t.Errorf("target %s, steps %s; want Failed, e2e-slow-volume-backup=Failed,retention=Skipped\n%s", tg.Phase, got, mustJSON(t, tg))
			}
			if len(tg.Stats) != 1 || tg.Stats[0].Phase != v1alpha1.HostFailed || tg.Stats[0].SnapshotID != "" {
				t.Errorf("stats %s, want one host Failed without a snapshot", mustJSON(t, tg.Stats))
			}
		})
	}

	// A step that outlived its session would have backed up slowSleep after
	// it wrote its pid: wait until the last one would have, with a margin.
	time.Sleep(time.Until(lastPid.Add(slowSleep + 2*time.Second)))
	snaps, err := os.ReadDir(filepath.Join(raw, "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(snaps) != 0 {
		t.Errorf("%d snapshots were committed to the repository, want none", len(snaps))
	}
	t.Logf("TestWorkflowDeleted took %s", time.Since(start).Round(time.Millisecond))
}

// TestDeletedWorkflowPodsCollected checks the pod runner's stand-in for
// the garbage collector, with no operator: a Workflow deleted in the
// background or the foreground takes its running pod and the pod's process
// with it (a foreground deletion ends once they are gone); one deleted
// with orphan propagation goes at once and leaves the pod running, without
// its owner reference.
func TestDeletedWorkflowPodsCollected(t *testing.T) {
	t.Parallel()
	for _, p := range []metav1.DeletionPropagation{metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			defer cancel()
			name := "gc-" + strings.ToLower(string(p))
			_, pid := startLong(ctx, t, name)
			wfs := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace)
			begin := time.Now()
			if err := wfs.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &p}); err != nil {
				t.Fatal(err)
			}
			for {
				_, err := wfs.Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatal("the Workflow was not deleted")
				}
				time.Sleep(20 * time.Millisecond)
			}
			pods := env.Kube.CoreV1().Pods(env.Namespace)
			sel := metav1.ListOptions{LabelSelector: podrunner.LabelWorkflow + "=" + name}
			if p != metav1.DeletePropagationOrphan {
				waitProcessGone(t, pid)
				waitNoPods(t, name, false)
				t.Logf("Workflow, pod and process gone %s after the delete", time.Since(begin).Round(time.Millisecond))
				return
			}
			list, err := pods.List(ctx, sel)
			if err != nil || len(list.Items) != 1 || len(list.Items[0].OwnerReferences) != 0 {
				t.Fatalf("pods: %v, %s; want one, without owner references", err, mustJSON(t, list))
			}
			if err := syscall.Kill(pid, 0); err != nil {
				t.Errorf("the orphaned pod's process: %v; want it running", err)
			}
			if err := pods.Delete(ctx, list.Items[0].Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			waitProcessGone(t, pid)
		})
	}
}

package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestInterimVolumeLifecycle: a BackupConfiguration with Stash's
// interimVolumeTemplate runs a Task in Stash's addon shape on the real
// workflow-controller: one step dumps into $INTERIM_DATA_DIR, the next, in
// another pod, backs ${INTERIM_DATA_DIR} up with restic. The claim
// <session>-<name> exists, with the template's labels, annotations and spec,
// while the steps run (the pod runner, like the scheduler, starts no pod
// whose claim is missing), the dump reached the snapshot through it, and
// Argo deletes the claim when the Workflow ends.
func TestInterimVolumeLifecycle(t *testing.T) {
	ctx := context.Background()
	startOperator(t)
	fp := newFullPath(t)
	const payload = "dumped by the first step"
	createCluster(t,
		&v1alpha1.Function{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-interim-dump"},
			Spec: v1alpha1.FunctionSpec{
				Image:   "${STASHFLOW_IMAGE}",
				Command: []string{"sh", "-c", `printf '%s' "$1" > "$INTERIM_DATA_DIR/dump.txt"`, "sh", payload},
			},
		},
		&v1alpha1.Function{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-interim-upload"},
			Spec: v1alpha1.FunctionSpec{
				Image:   "${STASHFLOW_IMAGE}",
				Command: []string{"stashflow"},
				Args:    []string{"fn", "volume-backup", "--paths=${INTERIM_DATA_DIR}", "--session=${BACKUP_SESSION}", "--hostname=${HOSTNAME}"},
				Outputs: []v1alpha1.FunctionOutput{
					{Name: "snapshotID", Path: "/tmp/stashflow/outputs/snapshotID"},
					{Name: "size", Path: "/tmp/stashflow/outputs/size"},
				},
			},
		},
		&v1alpha1.Task{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-interim-backup"},
			Spec:       v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{{Name: "e2e-interim-dump"}, {Name: "e2e-interim-upload"}}},
		})
	template := &v1alpha1.PersistentVolumeClaimTemplate{
		Metadata: &v1alpha1.TemplateMetadata{
			Name:        "stash-tmp-storage",
			Labels:      map[string]string{"team": "db"},
			Annotations: map[string]string{"example.com/purpose": "dump"},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To("standard"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	create(t, &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "interim"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:                  &v1alpha1.TaskRef{Name: "e2e-interim-backup"},
				InterimVolumeTemplate: template,
			},
			Repository: v1alpha1.ObjectRef{Name: fp.repo},
			Schedule:   "0 0 1 1 *",
			Paused:     true,
		},
	})

	// The claim is made and deleted while the session runs: watch from the start.
	const session = "interim-1"
	claim := session + "-stash-tmp-storage"
	claims := env.Kube.CoreV1().PersistentVolumeClaims(env.Namespace)
	w, err := claims.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + claim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	t.Cleanup(func() { // kubernetes.io/pvc-protection: no controller-manager lifts it
		if got, err := claims.Get(ctx, claim, metav1.GetOptions{}); err == nil && len(got.Finalizers) > 0 {
			got.Finalizers = nil
			_, _ = claims.Update(ctx, got, metav1.UpdateOptions{})
		}
	})
	var (
		mu   sync.Mutex
		made *corev1.PersistentVolumeClaim
	)
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.PersistentVolumeClaim); ok && ev.Type == watch.Added {
				mu.Lock()
				made = p
				mu.Unlock()
			}
		}
	}()

	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: session},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: "interim"}},
	}
	create(t, bs)
	waitFor(t, bs, func() bool {
		return bs.Status.Phase == v1alpha1.BackupSessionSucceeded || bs.Status.Phase == v1alpha1.BackupSessionFailed
	})
	if bs.Status.Workflow != nil {
		env.DumpOnFailure(t, bs.Status.Workflow.Name)
	}
	if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("session ended %s: %s\n%s", bs.Status.Phase, bs.Status.Message, mustJSON(t, bs.Status))
	}
	wf := workflowOf(t, bs.Status.Workflow)
	if gc := wf.Spec.VolumeClaimGC; gc == nil || gc.Strategy != wfv1.VolumeClaimGCOnCompletion {
		t.Errorf("workflow volumeClaimGC = %+v, want OnWorkflowCompletion", gc)
	}

	// The claim as the apiserver held it while the steps ran.
	mu.Lock()
	got := made
	mu.Unlock()
	if got == nil {
		t.Fatalf("no claim %s was made", claim)
	}
	if got.Labels["team"] != "db" || got.Labels[v1alpha1.LabelSession] != session || got.Annotations["example.com/purpose"] != "dump" {
		t.Errorf("claim labels %v, annotations %v: want the template's and the session's", got.Labels, got.Annotations)
	}
	if ptr.Deref(got.Spec.StorageClassName, "") != "standard" || !got.Spec.Resources.Requests.Storage().Equal(resource.MustParse("1Gi")) {
		t.Errorf("claim spec %s: want the template's", mustJSON(t, got.Spec))
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.Kind != "Workflow" || ref.Name != wf.Name {
		t.Errorf("claim controller = %+v, want the Workflow %s", ref, wf.Name)
	}

	// The first step's dump reached the snapshot through the claim.
	var dump string
	for _, line := range strings.Split(string(fp.restic("ls", "latest")), "\n") {
		if strings.HasSuffix(line, "/dump.txt") {
			dump = line
		}
	}
	if dump == "" {
		t.Fatalf("the snapshot has no dump.txt:\n%s", fp.restic("ls", "latest"))
	}
	if b := string(fp.restic("dump", "latest", dump)); b != payload {
		t.Errorf("dump.txt in the snapshot = %q, want %q", b, payload)
	}

	// Argo deletes the claim when the Workflow ends (it stays Terminating
	// under pvc-protection here: no controller-manager lifts it).
	deadline := time.Now().Add(fullPathTimeout)
	for {
		c, err := claims.Get(ctx, claim, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && c.DeletionTimestamp != nil) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("claim %s not deleted after the Workflow ended (err %v)", claim, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

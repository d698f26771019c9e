package backupblueprint_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

func TestBlueprint(t *testing.T) {
	ns := ot.Namespace(t, c, nil)
	ctx := context.Background()
	bp := &v1alpha1.BackupBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-db"},
		Spec: v1alpha1.BackupBlueprintSpec{
			RepositorySpec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "backup-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: "/backups/${TARGET_NAMESPACE}/${TARGET_APP_TYPE}/${TARGET_NAME}"},
					MountPath: "/repo",
				},
			}},
			Schedule:           "@every 1h",
			Task:               &v1alpha1.TaskRef{Name: "etcd-backup"},
			BackupHistoryLimit: ptr.To[int32](3),
		},
	}
	ab := ot.AppBinding(ns, "db")
	ab.Annotations = map[string]string{v1alpha1.AnnotationBackupBlueprint: bp.Name, v1alpha1.AnnotationSchedule: "0 3 * * *"}
	ot.Create(t, c, bp, ab)
	ot.Start(t, env, ns, controllers.Config{})

	repo := &v1alpha1.Repository{}
	bc := &v1alpha1.BackupConfiguration{}
	ot.Eventually(t, 10*time.Second, func() string {
		if msg := ot.Get(c, ns, "appbinding-db", repo); msg != "" {
			return msg
		}
		return ot.Get(c, ns, "appbinding-db", bc)
	})
	if got := repo.Spec.Backend.Local.HostPath.Path; got != "/backups/"+ns+"/fake/db" {
		t.Errorf("repository hostPath = %q, want the variables filled in", got)
	}
	if bc.Spec.Schedule != "0 3 * * *" || bc.Spec.Repository.Name != "appbinding-db" || bc.Spec.Target.Ref.Name != "db" ||
		bc.Spec.Task.Name != "etcd-backup" || ptr.Deref(bc.Spec.BackupHistoryLimit, 0) != 3 {
		t.Errorf("backupconfiguration spec = %+v, want the blueprint's with the annotation's schedule", bc.Spec)
	}
	for _, o := range []client.Object{repo, bc} {
		if ref := metav1.GetControllerOf(o); ref == nil || ref.Kind != "AppBinding" || ref.Name != "db" {
			t.Errorf("%s: controller = %+v, want the AppBinding", o.GetName(), ref)
		}
	}

	// A made object deleted by hand is made again.
	if err := c.Delete(ctx, repo); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 10*time.Second, func() string {
		again := &v1alpha1.Repository{}
		if msg := ot.Get(c, ns, "appbinding-db", again); msg != "" {
			return msg
		}
		if again.UID == repo.UID {
			return "the deleted Repository is still there"
		}
		return ""
	})

	// Removing the annotation removes what the blueprint made.
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha1.AnnotationBackupBlueprint))
	if err := c.Patch(ctx, ab, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 10*time.Second, func() string {
		if ot.Get(c, ns, "appbinding-db", &v1alpha1.Repository{}) == "" || ot.Get(c, ns, "appbinding-db", &v1alpha1.BackupConfiguration{}) == "" {
			return "the Repository or the BackupConfiguration is still there"
		}
		return ""
	})
}

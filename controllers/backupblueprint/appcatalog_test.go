package backupblueprint_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/backupblueprint"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/appcatalog"
)

// TestBlueprintAppCatalog: a KubeDB AppBinding (appcatalog.appscode.com/v1alpha1)
// annotated with Stash's backup-blueprint key gets a Repository and a
// BackupConfiguration as stashflow's AppBinding does, whether its CRD was
// installed before the operator started or after. The operator starts and
// works without the CRD. The package's apiserver has no appcatalog CRD until
// this test installs it; it must run before any other test of the package
// installs it (none does).
func TestBlueprintAppCatalog(t *testing.T) {
	ctx := context.Background()
	ns := ot.Namespace(t, c, nil)
	if err := c.Get(ctx, client.ObjectKey{Name: appcatalog.CRDName}, &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
		t.Fatalf("reading CRD %s: %v; want NotFound: this test starts the operator without it", appcatalog.CRDName, err)
	}
	bp := &v1alpha1.BackupBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-db"},
		Spec: v1alpha1.BackupBlueprintSpec{
			RepositorySpec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "backup-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: "/backups/${TARGET_NAMESPACE}/${TARGET_KIND}/${TARGET_APP_TYPE}/${TARGET_APP_VERSION}/${TARGET_APP_GROUP}/${TARGET_APP_RESOURCE}/${TARGET_NAME}"},
					MountPath: "/repo",
				},
			}},
			Schedule: "@every 1h",
			Task:     &v1alpha1.TaskRef{Name: "postgres-backup"},
		},
	}
	annotated := map[string]string{v1alpha1.StashAnnotationBackupBlueprint: bp.Name}
	ours := ot.AppBinding(ns, "db")
	ours.Annotations = annotated
	ours.Spec.Type, ours.Spec.Version = "example.com/fake", "1.0"
	ot.Create(t, c, bp, ours)
	op := ot.Start(t, env, ns, controllers.Config{AppCatalogPollInterval: 200 * time.Millisecond})

	made := func(t *testing.T, name string) (*v1alpha1.Repository, *v1alpha1.BackupConfiguration) {
		t.Helper()
		repo, bc := &v1alpha1.Repository{}, &v1alpha1.BackupConfiguration{}
		ot.Eventually(t, 15*time.Second, func() string {
			if msg := ot.Get(c, ns, name, repo); msg != "" {
				return msg
			}
			return ot.Get(c, ns, name, bc)
		})
		return repo, bc
	}
	// kubeDB checks what a blueprint made for KubeDB's AppBinding name.
	kubeDB := func(t *testing.T, name string) {
		t.Helper()
		repo, bc := made(t, "app-"+name)
		if got, want := repo.Spec.Backend.Local.HostPath.Path, "/backups/"+ns+"/appbinding/kubedb.com/postgres/16.1/kubedb.com/postgres/"+name; got != want {
			t.Errorf("repository hostPath = %q, want %q (the variables of KubeDB's AppBinding)", got, want)
		}
		wantTarget := &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "appcatalog.appscode.com/v1alpha1", Kind: "AppBinding", Name: name}}
		if diff := cmp.Diff(wantTarget, bc.Spec.Target); diff != "" {
			t.Errorf("backupconfiguration target (-want +got):\n%s", diff)
		}
		if bc.Spec.Repository.Name != "app-"+name || bc.Spec.Task.Name != "postgres-backup" || bc.Spec.Schedule != "@every 1h" {
			t.Errorf("backupconfiguration spec = %+v, want the blueprint's", bc.Spec)
		}
		wantLabels := map[string]string{
			backupblueprint.LabelBlueprint:           bp.Name,
			backupblueprint.LabelBlueprintTargetKind: "AppBinding.appcatalog.appscode.com",
			backupblueprint.LabelBlueprintTarget:     name,
		}
		for _, o := range []client.Object{repo, bc} {
			for k, v := range wantLabels {
				if o.GetLabels()[k] != v {
					t.Errorf("%T %s: label %s = %q, want %q", o, o.GetName(), k, o.GetLabels()[k], v)
				}
			}
			if ref := metav1.GetControllerOf(o); ref == nil || ref.APIVersion != "appcatalog.appscode.com/v1alpha1" || ref.Kind != "AppBinding" || ref.Name != name {
				t.Errorf("%T %s: controller = %+v, want KubeDB's AppBinding %s", o, o.GetName(), ref, name)
			}
		}
	}
	kubeDBSpec := "{appRef: {apiGroup: kubedb.com, kind: Postgres, name: pg}, type: kubedb.com/postgres, version: '16.1', clientConfig: {service: {name: pg, port: 5432, scheme: postgresql}}, secret: {name: pg-auth}}"

	t.Run("without the CRD the operator still applies blueprints", func(t *testing.T) {
		repo, bc := made(t, "app-db")
		if got, want := repo.Spec.Backend.Local.HostPath.Path, "/backups/"+ns+"/appbinding/example.com/fake/1.0/example.com/fake/db"; got != want {
			t.Errorf("repository hostPath = %q, want %q (the variables of stashflow's AppBinding)", got, want)
		}
		if bc.Spec.Target.Ref.APIVersion != v1alpha1.GroupVersion.String() {
			t.Errorf("target %+v, want stashflow's AppBinding", bc.Spec.Target.Ref)
		}
	})

	env.InstallAppCatalogCRD(t, c, ns)

	t.Run("CRD installed after the start: KubeDB's AppBinding is watched", func(t *testing.T) {
		pg := ot.AppCatalogBinding(ns, "pg", kubeDBSpec)
		pg.SetAnnotations(annotated)
		ot.Create(t, c, pg)
		kubeDB(t, "pg")
	})

	// A new operator, started with the CRD installed (and stopped with the
	// test, not the subtest).
	op.Stop()
	ot.Start(t, env, ns, controllers.Config{})

	t.Run("CRD installed at the start", func(t *testing.T) {
		pg2 := ot.AppCatalogBinding(ns, "pg2", kubeDBSpec)
		pg2.SetAnnotations(annotated)
		ot.Create(t, c, pg2)
		kubeDB(t, "pg2")
	})

	t.Run("stashflow's and KubeDB's AppBinding of one name: the second is refused", func(t *testing.T) {
		before := &v1alpha1.BackupConfiguration{}
		if msg := ot.Get(c, ns, "app-db", before); msg != "" {
			t.Fatal(msg)
		}
		db := ot.AppCatalogBinding(ns, "db", kubeDBSpec)
		db.SetAnnotations(annotated)
		ot.Create(t, c, db)
		ot.WaitEvent(t, c, ns, backupblueprint.ReasonNameTaken,
			"BackupConfiguration "+ns+"/app-db exists and was not made for this AppBinding.appcatalog.appscode.com (made for AppBinding "+ns+"/db)", 1)
		after := &v1alpha1.BackupConfiguration{}
		if msg := ot.Get(c, ns, "app-db", after); msg != "" {
			t.Fatal(msg)
		}
		if diff := cmp.Diff(before.Spec, after.Spec); diff != "" || after.Labels[backupblueprint.LabelBlueprintTargetKind] != "AppBinding" {
			t.Errorf("stashflow's AppBinding's BackupConfiguration changed (-before +after):\n%s\nlabels %v", diff, after.Labels)
		}
	})

	t.Run("a BackupConfiguration no blueprint made is not overwritten", func(t *testing.T) {
		mine := &v1alpha1.BackupConfiguration{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-mine"},
			Spec: v1alpha1.BackupConfigurationSpec{
				Repository: v1alpha1.ObjectRef{Name: "my-repo"},
				Schedule:   "@daily",
				BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
					Task: &v1alpha1.TaskRef{Name: "my-task"},
				},
			},
		}
		ot.Create(t, c, mine)
		ab := ot.AppCatalogBinding(ns, "mine", kubeDBSpec)
		ab.SetAnnotations(annotated)
		ot.Create(t, c, ab)
		ot.WaitEvent(t, c, ns, backupblueprint.ReasonNameTaken,
			"BackupConfiguration "+ns+"/app-mine exists and was not made for this AppBinding.appcatalog.appscode.com (not made by a blueprint)", 1)
		after := &v1alpha1.BackupConfiguration{}
		if msg := ot.Get(c, ns, mine.Name, after); msg != "" {
			t.Fatal(msg)
		}
		if diff := cmp.Diff(mine.Spec, after.Spec); diff != "" || len(after.Labels) != 0 {
			t.Errorf("the user's BackupConfiguration changed (-before +after):\n%s\nlabels %v", diff, after.Labels)
		}
	})

	t.Run("removing the annotation removes what was made, and only that", func(t *testing.T) {
		patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha1.StashAnnotationBackupBlueprint))
		pg := ot.AppCatalogBinding(ns, "pg", "{}")
		if err := c.Patch(ctx, pg, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
		ot.Eventually(t, 15*time.Second, func() string {
			var there []string
			for _, o := range []client.Object{&v1alpha1.Repository{}, &v1alpha1.BackupConfiguration{}} {
				if ot.Get(c, ns, "app-pg", o) == "" {
					there = append(there, fmt.Sprintf("%T", o))
				}
			}
			if len(there) > 0 {
				return strings.Join(there, ", ") + " app-pg still there"
			}
			return ""
		})
		for _, name := range []string{"app-pg2", "app-db"} {
			if msg := ot.Get(c, ns, name, &v1alpha1.BackupConfiguration{}); msg != "" {
				t.Errorf("%s (made for another AppBinding)", msg)
			}
		}
	})
}

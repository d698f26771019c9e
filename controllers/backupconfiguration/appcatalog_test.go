package backupconfiguration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/appcatalog"
)

// TestAppCatalogTarget: the operator checks a BackupConfiguration whose
// target is KubeDB's appcatalog.appscode.com/v1alpha1 AppBinding by
// reading it in place (its CRD installed before the operator starts):
// found, refused naming the field, or missing.
func TestAppCatalogTarget(t *testing.T) {
	ns := ot.Namespace(t, c, nil)
	env.InstallAppCatalogCRD(t, c, ns)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"),
		ot.AppCatalogBinding(ns, "kubedb-db", "{appRef: {apiGroup: kubedb.com, kind: Postgres, name: db}, type: fake, clientConfig: {url: 'http://db:5432'}}"),
		ot.AppCatalogBinding(ns, "transformed", "{clientConfig: {url: 'http://db:5432'}, secretTransforms: [{removeKey: {key: x}}]}"))
	ot.Start(t, env, ns, controllers.Config{})

	tests := []struct {
		name      string
		target    string
		phase     v1alpha1.BackupInvokerPhase
		reason    conditions.Reason
		condition string
		message   string
	}{
		{"found", "kubedb-db", v1alpha1.InvokerReady, conditions.ReasonTargetFound, "True", "AppBinding kubedb-db found"},
		{"refused field", "transformed", v1alpha1.InvokerInvalid, conditions.ReasonInvalidSpec, "False",
			"spec.target.ref: spec.secretTransforms of appcatalog.appscode.com/v1alpha1 AppBinding " + ns + "/transformed: stashflow applies no transform"},
		{"missing", "ghost", v1alpha1.InvokerNotReady, conditions.ReasonTargetNotFound, "False",
			"spec.target.ref: AppBinding " + ns + "/ghost not found: no appcatalog.appscode.com/v1alpha1 AppBinding of that name"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := &v1alpha1.BackupConfiguration{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("kubedb-%d", i)},
				Spec: v1alpha1.BackupConfigurationSpec{
					BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
						Task:   &v1alpha1.TaskRef{Name: ns + "-backup"},
						Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: appcatalog.GroupVersion.String(), Kind: "AppBinding", Name: tt.target}},
					},
					Repository: v1alpha1.ObjectRef{Name: "repo"},
					Schedule:   "@every 1h",
				},
			}
			ot.Create(t, c, bc)
			ot.Eventually(t, 10*time.Second, func() string {
				if msg := ot.Get(c, ns, bc.Name, bc); msg != "" {
					return msg
				}
				cond := conditions.Get(bc.Status.Conditions, v1alpha1.ConditionTargetFound)
				switch {
				case bc.Status.Phase != tt.phase:
					return fmt.Sprintf("phase = %s, want %s (conditions %+v)", bc.Status.Phase, tt.phase, bc.Status.Conditions)
				case cond == nil:
					return fmt.Sprintf("no TargetFound condition in %+v", bc.Status.Conditions)
				case string(cond.Status) != tt.condition || cond.Reason != string(tt.reason) || !strings.Contains(cond.Message, tt.message):
					return fmt.Sprintf("TargetFound = %s %s %q, want %s %s containing %q", cond.Status, cond.Reason, cond.Message, tt.condition, tt.reason, tt.message)
				}
				return ""
			})
		})
	}
}

// TestAppCatalogTargetWatched: a BackupConfiguration whose target is a
// KubeDB AppBinding that is missing (NotReady) or refused (Invalid) becomes
// Ready once the AppBinding is created or fixed, with nothing else touched:
// the operator watches KubeDB's AppBindings. The deadline is well under
// DefaultNotReadyRequeue (a minute), the only other re-check.
func TestAppCatalogTargetWatched(t *testing.T) {
	ctx := context.Background()
	ns := ot.Namespace(t, c, nil)
	env.InstallAppCatalogCRD(t, c, ns)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	transformed := ot.AppCatalogBinding(ns, "transformed", "{type: fake, clientConfig: {url: 'http://db:5432'}, secretTransforms: [{removeKey: {key: x}}]}")
	ot.Create(t, c, repo, secret, ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"), transformed)
	ot.Start(t, env, ns, controllers.Config{})

	tests := []struct {
		name      string
		target    v1alpha1.TargetRef
		phase     v1alpha1.BackupInvokerPhase // before the change
		change    func(t *testing.T)
		wantFound string
	}{
		{
			name:   "missing, then created",
			target: v1alpha1.TargetRef{APIVersion: appcatalog.GroupVersion.String(), Kind: "AppBinding", Name: "later"},
			phase:  v1alpha1.InvokerNotReady,
			change: func(t *testing.T) {
				ot.Create(t, c, ot.AppCatalogBinding(ns, "later", "{type: fake, clientConfig: {url: 'http://db:5432'}}"))
			},
			wantFound: "AppBinding later found",
		},
		{
			name:   "missing, then created (no apiVersion: stashflow's, else KubeDB's)",
			target: v1alpha1.TargetRef{Kind: "AppBinding", Name: "later-too"},
			phase:  v1alpha1.InvokerNotReady,
			change: func(t *testing.T) {
				ot.Create(t, c, ot.AppCatalogBinding(ns, "later-too", "{type: fake, clientConfig: {url: 'http://db:5432'}}"))
			},
			wantFound: "AppBinding later-too found",
		},
		{
			name:   "refused field, then fixed",
			target: v1alpha1.TargetRef{APIVersion: appcatalog.GroupVersion.String(), Kind: "AppBinding", Name: "transformed"},
			phase:  v1alpha1.InvokerInvalid,
			change: func(t *testing.T) {
				patch := []byte(`{"spec":{"secretTransforms":null}}`)
				if err := c.Patch(ctx, transformed, client.RawPatch(types.MergePatchType, patch)); err != nil {
					t.Fatal(err)
				}
			},
			wantFound: "AppBinding transformed found",
		},
	}
	bcs := make([]*v1alpha1.BackupConfiguration, len(tests))
	for i, tt := range tests {
		bcs[i] = &v1alpha1.BackupConfiguration{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("watched-%d", i)},
			Spec: v1alpha1.BackupConfigurationSpec{
				BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
					Task:   &v1alpha1.TaskRef{Name: ns + "-backup"},
					Target: &v1alpha1.BackupTarget{Ref: tt.target},
				},
				Repository: v1alpha1.ObjectRef{Name: "repo"},
				Schedule:   "@every 1h",
			},
		}
		ot.Create(t, c, bcs[i])
	}
	waitPhase := func(t *testing.T, bc *v1alpha1.BackupConfiguration, phase v1alpha1.BackupInvokerPhase, timeout time.Duration) {
		t.Helper()
		ot.Eventually(t, timeout, func() string {
			if msg := ot.Get(c, ns, bc.Name, bc); msg != "" {
				return msg
			}
			if bc.Status.Phase != phase {
				return fmt.Sprintf("phase = %s, want %s (conditions %+v)", bc.Status.Phase, phase, bc.Status.Conditions)
			}
			return ""
		})
	}
	for i, tt := range tests {
		waitPhase(t, bcs[i], tt.phase, 10*time.Second)
	}
	// The Repository controller's status writes re-check the invokers of the
	// Repository too: let it initialise the repository first, and require
	// below that it wrote nothing while the AppBindings changed.
	ot.Eventually(t, 30*time.Second, func() string {
		if msg := ot.Get(c, ns, repo.Name, repo); msg != "" {
			return msg
		}
		if !conditions.IsTrue(repo.Status.Conditions, conditions.Initialized) {
			return fmt.Sprintf("Repository conditions %+v, want Initialized", repo.Status.Conditions)
		}
		return ""
	})
	repoVersion := repo.ResourceVersion

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := bcs[i]
			tt.change(t)
			waitPhase(t, bc, v1alpha1.InvokerReady, 20*time.Second)
			cond := conditions.Get(bc.Status.Conditions, v1alpha1.ConditionTargetFound)
			if cond == nil || cond.Status != metav1.ConditionTrue || cond.Message != tt.wantFound {
				t.Errorf("TargetFound = %+v, want True %q", cond, tt.wantFound)
			}
		})
	}
	if msg := ot.Get(c, ns, repo.Name, repo); msg != "" {
		t.Fatal(msg)
	}
	if repo.ResourceVersion != repoVersion {
		t.Errorf("the Repository changed (resourceVersion %s → %s) while the AppBindings did: its event may have re-checked the invokers", repoVersion, repo.ResourceVersion)
	}
}

package backupconfiguration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	ot.InstallAppCatalogCRD(t, env, c, ns)
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

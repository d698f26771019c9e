package backupconfiguration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

// TestHistoryKeepsNewestSucceeded: backupHistoryLimit deletes the oldest
// finished sessions, but never the newest Succeeded one, even when newer
// Skipped slots fill the limit.
func TestHistoryKeepsNewestSucceeded(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"))
	bc := &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hourly"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task: &v1alpha1.TaskRef{Name: ns + "-backup"}, Target: appBindingTarget("db"),
			},
			Repository:         v1alpha1.ObjectRef{Name: "repo"},
			Schedule:           "0 * * * *",
			Paused:             true,
			BackupHistoryLimit: ptr.To[int32](1),
		},
	}
	ot.Create(t, c, bc)
	// Oldest first; the names break creation-time ties the same way.
	for _, s := range []struct {
		name  string
		phase v1alpha1.BackupSessionPhase
	}{
		{"hourly-1", v1alpha1.BackupSessionFailed},
		{"hourly-2", v1alpha1.BackupSessionSucceeded},
		{"hourly-3", v1alpha1.BackupSessionSkipped},
		{"hourly-4", v1alpha1.BackupSessionSkipped},
	} {
		bs := &v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s.name},
			Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: v1alpha1.KindBackupConfiguration, Name: "hourly"}},
		}
		ot.Create(t, c, bs)
		bs.Status.Phase = s.phase
		if err := c.Status().Update(context.Background(), bs); err != nil {
			t.Fatal(err)
		}
	}
	// The operator starts once the sessions have ended: it only prunes.
	ot.Start(t, env, ns, controllers.Config{})

	want := []string{"hourly-2", "hourly-4"}
	ot.Eventually(t, 10*time.Second, func() string {
		var got []string
		for _, s := range sessionsOf(t, ns, "hourly") {
			got = append(got, s.Name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Sprintf("sessions (-want +got):\n%s", diff)
		}
		return ""
	})
}

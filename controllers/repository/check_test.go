package repository_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/testrepo"
)

// integrityIs waits until the Repository's last check ended with want
// (IntegrityVerified True or False, status.integrity, the time).
func integrityIs(want bool) func(*v1alpha1.RepositoryStatus) string {
	return func(st *v1alpha1.RepositoryStatus) string {
		status := metav1.ConditionFalse
		if want {
			status = metav1.ConditionTrue
		}
		c := conditions.Get(st.Conditions, v1alpha1.ConditionIntegrityVerified)
		switch {
		case c == nil || c.Status != status:
			return fmt.Sprintf("IntegrityVerified %+v, want %s", c, status)
		case st.Integrity == nil || *st.Integrity != want:
			return fmt.Sprintf("integrity %v, want %v", st.Integrity, want)
		case st.LastIntegrityCheckTime == nil:
			return "no lastIntegrityCheckTime"
		case st.Workflow != nil:
			return "a run is still on the engine"
		}
		return ""
	}
}

// TestIntegrityCheck: restic check runs on the local engine with real
// restic, on a schedule and on demand. A healthy repository whose
// spec.integrityCheck.schedule names a second a few seconds ahead is checked
// at that slot (the controller's requeue) and gets IntegrityVerified True,
// integrity true and stash_repository_integrity 1 (scraped from /metrics).
// A repository whose pack file was
// truncated, checked when the stashflow.dev/check-requested annotation is
// set, gets IntegrityVerified False naming the error count and broken packs
// (no password), integrity false and the gauge 0; the annotation's value is
// answered once.
func TestIntegrityCheck(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	healthyDir, damagedDir := t.TempDir(), t.TempDir()
	backupOutside(t, healthyDir, "db")
	backupOutside(t, damagedDir, "db")
	healthy, healthySecret := ot.Repository(ns, "healthy", healthyDir)
	// A daily slot a few seconds from now: nothing but the controller's
	// requeue at the slot starts the check.
	slot := time.Now().UTC().Add(6 * time.Second).Truncate(time.Second)
	healthy.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{
		Schedule:       fmt.Sprintf("CRON_TZ=UTC %d %d %d * * *", slot.Second(), slot.Minute(), slot.Hour()),
		ReadDataSubset: "100%",
	}
	damaged, damagedSecret := ot.Repository(ns, "damaged", damagedDir)
	ot.Create(t, c, healthy, healthySecret, damaged, damagedSecret)
	op := ot.Start(t, env, ns, controllers.Config{})

	r := waitRepository(t, ns, "healthy", integrityIs(true))
	if msg := conditions.Get(r.Status.Conditions, v1alpha1.ConditionIntegrityVerified).Message; !strings.Contains(msg, "found no error") ||
		!strings.Contains(msg, "reading 100% of the data") {
		t.Errorf("IntegrityVerified message %q does not say that the check, reading 100%% of the data, found no error", msg)
	}
	if at := r.Status.LastIntegrityCheckTime.Time; at.Before(slot) {
		t.Errorf("the check started at %v, before its slot %v", at, slot)
	}
	if v, ok := op.Gauge(t, "stash_repository_integrity", map[string]string{"namespace": ns, "repository": "healthy"}); !ok || v != 1 {
		t.Errorf("stash_repository_integrity = %v (exported: %v), want 1", v, ok)
	}

	// The damaged repository: opened first, then a pack file truncated.
	waitRepository(t, ns, "damaged", func(st *v1alpha1.RepositoryStatus) string {
		if !conditions.IsTrue(st.Conditions, conditions.Initialized) {
			return "not Initialized"
		}
		return ""
	})
	testrepo.TruncatePack(t, damagedDir)
	requestCheck(t, ns, "damaged", "2026-12-05T07:00:00Z")
	r = waitRepository(t, ns, "damaged", integrityIs(false))
	cond := conditions.Get(r.Status.Conditions, v1alpha1.ConditionIntegrityVerified)
	if cond.Reason != string(conditions.ReasonErrorsFound) || !strings.Contains(cond.Message, "Repository "+ns+"/damaged") ||
		strings.Contains(cond.Message, " 0 error(s)") || !strings.Contains(cond.Message, "error(s) and") || !strings.Contains(cond.Message, "broken pack(s)") {
		t.Errorf("IntegrityVerified %s: %q, want ErrorsFound naming the Repository and a non-zero error count and the broken packs", cond.Reason, cond.Message)
	}
	if r.Status.CheckRequest != "2026-12-05T07:00:00Z" {
		t.Errorf("status.checkRequest = %q, want the annotation's value", r.Status.CheckRequest)
	}
	if strings.Contains(mustJSON(r), password) {
		t.Errorf("the password is in the Repository: %s", mustJSON(r))
	}
	if v, ok := op.Gauge(t, "stash_repository_integrity", map[string]string{"namespace": ns, "repository": "damaged"}); !ok || v != 0 {
		t.Errorf("stash_repository_integrity = %v (exported: %v), want 0", v, ok)
	}
	if v, ok := op.Gauge(t, "stashflow_repository_integrity", map[string]string{"namespace": ns, "repository": "damaged"}); !ok || v != 0 {
		t.Errorf("stashflow_repository_integrity = %v (exported: %v), want 0", v, ok)
	}
	ot.WaitEvent(t, c, ns, string(conditions.ReasonErrorsFound), "broken pack(s)", 1)
	// An answered request is not checked again.
	checked := r.Status.LastIntegrityCheckTime.DeepCopy()
	time.Sleep(2 * time.Second)
	if msg := ot.Get(c, ns, "damaged", r); msg != "" {
		t.Fatal(msg)
	}
	if !r.Status.LastIntegrityCheckTime.Equal(checked) {
		t.Errorf("checked again (at %v, after %v) without a new request", r.Status.LastIntegrityCheckTime, checked)
	}
}

// requestCheck sets the check-requested annotation of a Repository.
func requestCheck(t *testing.T, ns, name, value string) {
	t.Helper()
	repo := &v1alpha1.Repository{}
	if msg := ot.Get(c, ns, name, repo); msg != "" {
		t.Fatal(msg)
	}
	base := repo.DeepCopy()
	if repo.Annotations == nil {
		repo.Annotations = map[string]string{}
	}
	repo.Annotations[v1alpha1.AnnotationCheckRequested] = value
	if err := c.Patch(context.Background(), repo, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

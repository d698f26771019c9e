package repository_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// heldChecks makes `stashflow fn repository-check` wait, on the local
// engine, until the test releases it: "stashflow" is a wrapper that runs
// this test binary (the real Function) and, for a check, first creates
// <dir>/started and reads a line from the FIFO <dir>/release. Nothing but
// the test's release lets the check go on.
type heldChecks struct {
	dir     string
	release *os.File
}

func holdChecks(t *testing.T) (*heldChecks, map[string]string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &heldChecks{dir: t.TempDir()}
	if err := syscall.Mkfifo(filepath.Join(h.dir, "release"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(h.dir, "stashflow")
	script := fmt.Sprintf(`#!/bin/sh
if [ "$1 $2" = "fn repository-check" ]; then
	: > '%[1]s/started'
	read -r _ < '%[1]s/release'
fi
exec '%[2]s' "$@"
`, h.dir, exe)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return h, map[string]string{"stashflow": wrapper}
}

// started says whether a check has reached the gate.
func (h *heldChecks) started() bool {
	_, err := os.Stat(filepath.Join(h.dir, "started"))
	return err == nil
}

// open lets the held check, and every later one, go on. Opened read-write
// the FIFO never blocks the test, and the line waits in it for a reader
// that has not opened it yet.
func (h *heldChecks) open(t *testing.T) {
	t.Helper()
	if h.release != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(h.dir, "release"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.release = f
	if _, err := f.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
}

// TestSessionWaitsForCheck: while an integrity check runs on a Repository
// (held at its start by the test, on the local engine), a BackupSession
// created into it is not submitted: it stays Pending with reason Checking
// and a message naming the Repository and the check's run. Once the check
// is let go and ends (IntegrityVerified True), the session runs and
// succeeds, and plain restic lists its snapshot.
func TestSessionWaitsForCheck(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	backupOutside(t, dir, "db")
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), backupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"),
		config(ns, "a", "repo", ns+"-backup"))
	held, commands := holdChecks(t)
	ot.Start(t, env, ns, controllers.Config{LocalCommands: commands})
	// Cleanups run last-in first-out: the held check is let go before the
	// operator stops.
	t.Cleanup(func() { held.open(t) })

	waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
		if !conditions.IsTrue(st.Conditions, conditions.Initialized) || st.Workflow != nil {
			return "not Initialized, or a run on the engine"
		}
		return ""
	})
	requestCheck(t, ns, "repo", "now")
	ot.Eventually(t, time.Minute, func() string {
		if !held.started() {
			return "the check has not started"
		}
		return ""
	})
	r := waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
		if c := conditions.Get(st.Conditions, v1alpha1.ConditionIntegrityVerified); c == nil || c.Reason != string(conditions.ReasonChecking) || st.Workflow == nil {
			return "IntegrityVerified is not Checking with a run"
		}
		return ""
	})
	checkRun := r.Status.Workflow.Name

	ot.Create(t, c, session(ns, "a-1", "a"))
	bs := &v1alpha1.BackupSession{}
	pendingChecking := func() string {
		if msg := ot.Get(c, ns, "a-1", bs); msg != "" {
			return msg
		}
		switch {
		case bs.Status.Phase != v1alpha1.BackupSessionPending || bs.Status.Reason != string(conditions.ReasonChecking):
			return fmt.Sprintf("session %s (%s: %s), want Pending, Checking", bs.Status.Phase, bs.Status.Reason, bs.Status.Message)
		case !strings.Contains(bs.Status.Message, "integrity check of Repository "+ns+"/repo") || !strings.Contains(bs.Status.Message, checkRun):
			return fmt.Sprintf("message %q does not name the Repository and the check's run %s", bs.Status.Message, checkRun)
		case bs.Status.Workflow != nil:
			return fmt.Sprintf("the session was submitted: %+v", bs.Status.Workflow)
		}
		return ""
	}
	ot.Eventually(t, time.Minute, pendingChecking)
	if len(resticIDs(t, dir)) != 1 {
		t.Fatalf("restic lists %v, want only the snapshot made before", resticIDs(t, dir))
	}
	// The check is still held: the session still waits.
	if !held.started() {
		t.Fatal("the gate is gone")
	}
	if msg := pendingChecking(); msg != "" {
		t.Fatalf("just before the check is let go: %s", msg)
	}

	held.open(t)
	waitRepository(t, ns, "repo", integrityIs(true))
	bs = waitSession(t, ns, "a-1", v1alpha1.BackupSessionSucceeded)
	if bs.Status.Workflow == nil {
		t.Fatal("the session succeeded without a run")
	}
	if ids := resticIDs(t, dir); len(ids) != 2 {
		t.Errorf("restic lists %v, want the snapshot made before and the session's", ids)
	}
	ot.WaitEvent(t, c, ns, string(v1alpha1.BackupSessionPending), "waiting for the integrity check of Repository "+ns+"/repo", 1)
}

package backupsession_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/backupsession"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

// config is a paused BackupConfiguration of task on the AppBinding db:
// sessions run only when created by hand.
func config(ns, name, task string, mutate ...func(*v1alpha1.BackupConfiguration)) *v1alpha1.BackupConfiguration {
	bc := &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: task},
				Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "stashflow.dev/v1alpha1", Kind: "AppBinding", Name: "db"}},
			},
			Repository: v1alpha1.ObjectRef{Name: "repo"},
			Paused:     true,
		},
	}
	for _, m := range mutate {
		m(bc)
	}
	return bc
}

func session(ns, name, invoker string) *v1alpha1.BackupSession {
	return &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: v1alpha1.KindBackupConfiguration, Name: invoker}},
	}
}

// waitPhase waits until the session reaches phase and returns it.
func waitPhase(t *testing.T, ns, name string, phase v1alpha1.BackupSessionPhase, timeout time.Duration) *v1alpha1.BackupSession {
	t.Helper()
	bs := &v1alpha1.BackupSession{}
	ot.Eventually(t, timeout, func() string {
		if msg := ot.Get(c, ns, name, bs); msg != "" {
			return msg
		}
		if bs.Status.Phase != phase {
			return fmt.Sprintf("session %s is %s (%s: %s), want %s", name, bs.Status.Phase, bs.Status.Reason, bs.Status.Message, phase)
		}
		return ""
	})
	return bs
}

func TestBackupSession(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"),
		ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-ok", ns+"-backup"),
		ot.ShellFunction(ns+"-fail", "echo 'disk full' >&2; exit 1", "snapshotID"), ot.Task(ns+"-fail", ns+"-fail"),
		ot.ShellFunction(ns+"-sleep", "sleep 30", "snapshotID"), ot.Task(ns+"-sleep", ns+"-sleep"),
	)
	// The subtests' fake steps share the repository's directory: no run of
	// the Repository controller initialises it.
	ot.Initialized(t, c, repo)
	op := ot.Start(t, env, ns, controllers.Config{})

	t.Run("a session succeeds and records its snapshot", func(t *testing.T) {
		t.Parallel()
		ot.Create(t, c, config(ns, "ok", ns+"-ok"), session(ns, "ok-1", "ok"))
		bs := waitPhase(t, ns, "ok-1", v1alpha1.BackupSessionSucceeded, 20*time.Second)

		st := bs.Status
		if st.Workflow == nil || st.Workflow.Engine != v1alpha1.EngineLocal {
			t.Errorf("workflow = %+v, want the local engine", st.Workflow)
		}
		if !conditions.IsTrue(st.Conditions, conditions.BackupExecutorEnsured) {
			t.Errorf("conditions = %+v, want BackupExecutorEnsured True", st.Conditions)
		}
		if st.SessionDuration == "" {
			t.Error("sessionDuration is empty")
		}
		if len(st.Targets) != 1 {
			t.Fatalf("targets = %+v, want one", st.Targets)
		}
		tg := st.Targets[0]
		if tg.Phase != v1alpha1.TargetSucceeded || tg.Ref == nil || tg.Ref.Name != "db" {
			t.Errorf("target = %+v, want db Succeeded", tg)
		}
		if len(tg.Steps) != 1 || tg.Steps[0].Phase != v1alpha1.StepSucceeded || tg.Steps[0].Function != ns+"-backup" || tg.Steps[0].FinishedAt == nil {
			t.Errorf("steps = %+v, want one Succeeded step of %s", tg.Steps, ns+"-backup")
		}
		if len(tg.Stats) != 1 {
			t.Fatalf("stats = %+v, want one host", tg.Stats)
		}
		h := tg.Stats[0]
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h.SnapshotID) || h.Hostname != "db" || h.Phase != v1alpha1.HostSucceeded ||
			ptr.Deref(h.Size, 0) != 2048 || ptr.Deref(h.Uploaded, 0) != 1024 || ptr.Deref(h.Files, 0) != 3 || h.Duration != "150ms" {
			t.Errorf("stats = %+v, want host db with the step's outputs", h)
		}

		snap := &v1alpha1.Snapshot{}
		if msg := ot.Get(c, ns, backupsession.SnapshotName("repo", h.SnapshotID), snap); msg != "" {
			t.Fatal(msg)
		}
		if snap.Spec.SnapshotID != h.SnapshotID || snap.Spec.Session != "ok-1" || snap.Spec.Hostname != "db" ||
			snap.Labels[v1alpha1.LabelRepository] != "repo" || len(snap.OwnerReferences) != 1 {
			t.Errorf("snapshot = %+v, want the session's snapshot, owned by the repository", snap)
		}
		// The operator's /metrics, under stashflow's names and Stash's.
		ours := map[string]string{"namespace": ns, "invoker_kind": v1alpha1.KindBackupConfiguration, "invoker": "ok"}
		stash := map[string]string{"namespace": ns, "invoker_kind": v1alpha1.KindBackupConfiguration, "invoker_name": "ok"}
		host := func(base map[string]string, target, hostname string) map[string]string {
			out := maps.Clone(base)
			out[target], out[hostname] = "db", "db"
			return out
		}
		for _, g := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"stashflow_backup_session_success", ours, 1},
			{"stash_backup_session_success", stash, 1},
			{"stash_backup_host_backup_success", host(stash, "target_name", "host"), 1},
			{"stashflow_backup_host_data_uploaded_bytes", host(ours, "target", "hostname"), 1024},
			{"stash_backup_host_data_uploaded_bytes", host(stash, "target_name", "host"), 1024},
			{"stash_backup_host_data_size_bytes", host(stash, "target_name", "host"), 2048},
			{"stash_backup_host_files_total", host(stash, "target_name", "host"), 3},
			{"stash_backup_host_backup_duration_seconds", host(stash, "target_name", "host"), 0.15},
		} {
			if v, ok := op.Gauge(t, g.name, g.labels); !ok || v != g.want {
				t.Errorf("%s%v = %v (exported: %v), want %v", g.name, g.labels, v, ok, g.want)
			}
		}
		if v, ok := op.Gauge(t, "stash_backup_last_success_time_seconds", stash); !ok || v < float64(time.Now().Add(-time.Minute).Unix()) {
			t.Errorf("stash_backup_last_success_time_seconds = %v (exported: %v), want about now", v, ok)
		}
	})

	t.Run("a failing step fails the session, which is retried once", func(t *testing.T) {
		t.Parallel()
		ot.Create(t, c, config(ns, "fail", ns+"-fail", func(bc *v1alpha1.BackupConfiguration) {
			bc.Spec.RetryConfig = &v1alpha1.RetryConfig{MaxRetry: ptr.To[int32](1), Delay: "1s"}
			bc.Spec.BackupHistoryLimit = ptr.To[int32](5)
		}), session(ns, "fail-1", "fail"))
		bs := waitPhase(t, ns, "fail-1", v1alpha1.BackupSessionFailed, 20*time.Second)
		if bs.Status.Reason != string(conditions.ReasonStepFailed) || !strings.Contains(bs.Status.Message, ns+"-fail failed") {
			t.Errorf("reason, message = %s, %q; want StepFailed naming the step", bs.Status.Reason, bs.Status.Message)
		}
		if tg := bs.Status.Targets; len(tg) != 1 || tg[0].Phase != v1alpha1.TargetFailed || tg[0].Steps[0].Phase != v1alpha1.StepFailed {
			t.Errorf("targets = %+v, want the target and its step Failed", tg)
		}
		retry := waitPhase(t, ns, "fail-1-retry-1", v1alpha1.BackupSessionFailed, 20*time.Second)
		if ptr.Deref(retry.Spec.RetryLeft, -1) != 0 || retry.Annotations[backupsession.AnnotationRetryOf] != "fail-1" ||
			retry.Annotations[v1alpha1.AnnotationTrigger] != v1alpha1.TriggerRetry {
			t.Errorf("retry = %+v, want retryLeft 0, retry-of fail-1", retry.ObjectMeta)
		}
		if c := conditions.Get(waitPhase(t, ns, "fail-1", v1alpha1.BackupSessionFailed, time.Second).Status.Conditions, conditions.RetryScheduled); c == nil || c.Reason != string(conditions.ReasonRetryCreated) {
			t.Errorf("RetryScheduled = %+v, want RetryCreated", c)
		}
		// The reconcile that ended the retry Failed decided on its retry
		// before its status was written: none, as no retry is left.
		if msg := ot.Get(c, ns, "fail-1-retry-2", &v1alpha1.BackupSession{}); msg == "" {
			t.Error("a second retry was created, but maxRetry is 1")
		}
	})

	t.Run("a session is skipped while another of the same invoker runs", func(t *testing.T) {
		t.Parallel()
		ot.Create(t, c, config(ns, "busy", ns+"-sleep"), session(ns, "busy-1", "busy"))
		waitPhase(t, ns, "busy-1", v1alpha1.BackupSessionRunning, 10*time.Second)
		ot.Create(t, c, session(ns, "busy-2", "busy"))
		bs := waitPhase(t, ns, "busy-2", v1alpha1.BackupSessionSkipped, 10*time.Second)
		if bs.Status.Reason != string(conditions.ReasonAnotherSessionRunning) || !strings.Contains(bs.Status.Message, "busy-1") {
			t.Errorf("reason, message = %s, %q; want AnotherSessionRunning naming busy-1", bs.Status.Reason, bs.Status.Message)
		}
		if bs.Status.Workflow != nil {
			t.Errorf("workflow = %+v, want none for a skipped session", bs.Status.Workflow)
		}
	})

	t.Run("a session past its timeOut is stopped", func(t *testing.T) {
		t.Parallel()
		ot.Create(t, c, config(ns, "slow", ns+"-sleep", func(bc *v1alpha1.BackupConfiguration) { bc.Spec.TimeOut = "2s" }),
			session(ns, "slow-1", "slow"))
		bs := waitPhase(t, ns, "slow-1", v1alpha1.BackupSessionFailed, 20*time.Second)
		if bs.Status.Reason != string(conditions.ReasonDeadlineExceeded) || !conditions.IsTrue(bs.Status.Conditions, conditions.DeadlineExceeded) {
			t.Errorf("reason = %s, conditions = %+v; want DeadlineExceeded", bs.Status.Reason, bs.Status.Conditions)
		}
		if bs.Status.SessionDeadline == nil {
			t.Error("sessionDeadline is not set")
		}
		if tg := bs.Status.Targets; len(tg) != 1 || tg[0].Steps[0].Phase != v1alpha1.StepFailed {
			t.Errorf("targets = %+v, want the running step Failed", tg)
		}
	})

	t.Run("a Repository deleted mid-session: the snapshot is reported, not lost", func(t *testing.T) {
		t.Parallel()
		gate := filepath.Join(t.TempDir(), "gate")
		repo2, secret2 := ot.Repository(ns, "repo-gone", t.TempDir())
		fn := ot.BackupFunction(ns + "-gated")
		fn.Spec.Command = []string{"sh", "-c", "while [ ! -e " + gate + " ]; do sleep 0.05; done\n" + ot.BackupScript}
		ot.Create(t, c, repo2, secret2, fn, ot.Task(ns+"-gated", ns+"-gated"),
			config(ns, "gone", ns+"-gated", func(bc *v1alpha1.BackupConfiguration) { bc.Spec.Repository.Name = "repo-gone" }),
			session(ns, "gone-1", "gone"))
		waitPhase(t, ns, "gone-1", v1alpha1.BackupSessionRunning, time.Minute) // the Repository may be opened twice first: before and after its BackupConfiguration is seen
		if err := c.Delete(context.Background(), repo2); err != nil {
			t.Fatal(err)
		}
		ot.Eventually(t, 10*time.Second, func() string {
			if msg := ot.Get(c, ns, "repo-gone", &v1alpha1.Repository{}); msg == "" {
				return "the Repository is still there"
			}
			return ""
		})
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		bs := waitPhase(t, ns, "gone-1", v1alpha1.BackupSessionSucceeded, 20*time.Second)
		cond := conditions.Get(bs.Status.Conditions, conditions.SnapshotsRecorded)
		id := bs.Status.Targets[0].Stats[0].SnapshotID
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != string(conditions.ReasonRepositoryDeleted) || !strings.Contains(cond.Message, id[:8]) {
			t.Errorf("SnapshotsRecorded = %+v, want False/RepositoryDeleted naming snapshot %.8s", cond, id)
		}
	})

	t.Run("a session of a missing invoker fails", func(t *testing.T) {
		t.Parallel()
		ot.Create(t, c, session(ns, "orphan-1", "nope"))
		bs := waitPhase(t, ns, "orphan-1", v1alpha1.BackupSessionFailed, 10*time.Second)
		if bs.Status.Reason != string(conditions.ReasonInvokerNotFound) || !strings.Contains(bs.Status.Message, "BackupConfiguration "+ns+"/nope not found") {
			t.Errorf("reason, message = %s, %q; want InvokerNotFound", bs.Status.Reason, bs.Status.Message)
		}
	})

	t.Run("a session whose Repository forbids the namespace fails", func(t *testing.T) {
		t.Parallel()
		other := ot.Namespace(t, c, nil)
		r, s := ot.Repository(other, "shared", t.TempDir())
		ot.Create(t, c, r, s, config(ns, "foreign", ns+"-ok", func(bc *v1alpha1.BackupConfiguration) {
			bc.Spec.Repository = v1alpha1.ObjectRef{Name: "shared", Namespace: other}
		}), session(ns, "foreign-1", "foreign"))
		bs := waitPhase(t, ns, "foreign-1", v1alpha1.BackupSessionFailed, 10*time.Second)
		if bs.Status.Reason != string(conditions.ReasonNamespaceNotAllowed) || !strings.Contains(bs.Status.Message, "does not allow namespace") {
			t.Errorf("reason, message = %s, %q; want NamespaceNotAllowed", bs.Status.Reason, bs.Status.Message)
		}
	})
}

// TestSnapshotsMirrorRetention: a retention step's keptSnapshots and
// forgottenSnapshots outputs are mirrored into Snapshot objects: a kept
// snapshot that has none (a run that was lost after restic committed it) is
// recorded once, with its session and a SnapshotFound event, and the
// Snapshot object of a forgotten one is deleted.
func TestSnapshotsMirrorRetention(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	const lost, old = "feedc0de0123456789abcdef0123456789abcdef0123456789abcdef01234567", "01dc0ffee123456789abcdef0123456789abcdef0123456789abcdef01234567"
	retention := fmt.Sprintf(`set -e
printf '%%s' '[{"id":"%s","time":"2026-12-01T10:00:00Z","hostname":"db","paths":["/db"],"session":"lost-1","size":4096}]' > "$STASHFLOW_OUTPUT_DIR/keptSnapshots"
printf '%%s' '["%s"]' > "$STASHFLOW_OUTPUT_DIR/forgottenSnapshots"`, lost, old)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"),
		ot.BackupFunction(ns+"-backup"), ot.ShellFunction(ns+"-retention", retention, "keptSnapshots", "forgottenSnapshots"),
		ot.Task(ns+"-mirror", ns+"-backup", ns+"-retention"))
	oldSnap := &v1alpha1.Snapshot{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: backupsession.SnapshotName("repo", old), Labels: map[string]string{v1alpha1.LabelRepository: "repo"}},
		Spec:       v1alpha1.SnapshotSpec{Repository: v1alpha1.ObjectRef{Name: "repo", Namespace: ns}, SnapshotID: old, Hostname: "db"},
	}
	ot.Create(t, c, oldSnap)
	ot.Start(t, env, ns, controllers.Config{})

	ot.Create(t, c, config(ns, "mirror", ns+"-mirror"), session(ns, "mirror-1", "mirror"))
	waitPhase(t, ns, "mirror-1", v1alpha1.BackupSessionSucceeded, 20*time.Second)

	found := &v1alpha1.Snapshot{}
	if msg := ot.Get(c, ns, backupsession.SnapshotName("repo", lost), found); msg != "" {
		t.Fatalf("the lost run's snapshot was not recorded: %s", msg)
	}
	if found.Spec.SnapshotID != lost || found.Spec.Session != "lost-1" || found.Labels[v1alpha1.LabelSession] != "lost-1" ||
		found.Spec.Hostname != "db" || ptr.Deref(found.Spec.Size, 0) != 4096 || found.Spec.Time == nil || len(found.OwnerReferences) != 1 ||
		len(found.Spec.Paths) != 1 || found.Spec.Paths[0] != "/db" {
		t.Errorf("found snapshot = %s, want the lost run's id, session, host, paths, size and time, owned by the Repository", mustJSON(found))
	}
	if msg := ot.Get(c, ns, oldSnap.Name, &v1alpha1.Snapshot{}); msg == "" {
		t.Error("the Snapshot object of the forgotten snapshot is still there")
	}
	ot.WaitEvent(t, c, ns, "SnapshotFound", "session lost-1", 1)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

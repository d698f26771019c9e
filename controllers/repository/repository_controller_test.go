package repository_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/sessionrun"
)

// password is the RESTIC_PASSWORD of ot.Repository's Secret.
const password = "not-a-secret"

// naiveBackup backs up as a step on another node would without an owner of
// the repository's first use: it runs restic init itself when it finds no
// repository (no lock), then backs its session's name up from stdin. Run
// together into a new repository, such steps each write a key and a
// config; they stay safe only if the repository exists before they start.
const naiveBackup = `set -e
restic --no-cache cat config >/dev/null 2>&1 || restic --no-cache init
out=$(echo "$SESSION" | restic --no-cache backup --host db --stdin --stdin-filename data --json)
printf %s "$out" | sed -n 's/.*"snapshot_id":"\([0-9a-f]*\)".*/\1/p' | tr -d '\n' > "$STASHFLOW_OUTPUT_DIR/snapshotID"`

func backupFunction(name string) *v1alpha1.Function {
	fn := ot.ShellFunction(name, naiveBackup, "snapshotID")
	fn.Spec.Env = []corev1.EnvVar{{Name: "SESSION", Value: "${BACKUP_SESSION:=}"}}
	return fn
}

// config is a paused BackupConfiguration of task into repo: sessions run
// only when created by hand.
func config(ns, name, repo, task string) *v1alpha1.BackupConfiguration {
	return &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: task},
				Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "stashflow.dev/v1alpha1", Kind: "AppBinding", Name: "db"}},
			},
			Repository: v1alpha1.ObjectRef{Name: repo},
			Paused:     true,
		},
	}
}

func session(ns, name, invoker string) *v1alpha1.BackupSession {
	return &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: v1alpha1.KindBackupConfiguration, Name: invoker}},
	}
}

func waitSession(t *testing.T, ns, name string, phase v1alpha1.BackupSessionPhase) *v1alpha1.BackupSession {
	t.Helper()
	bs := &v1alpha1.BackupSession{}
	ot.Eventually(t, time.Minute, func() string {
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

// waitRepository waits until check accepts the Repository's status.
func waitRepository(t *testing.T, ns, name string, check func(*v1alpha1.RepositoryStatus) string) *v1alpha1.Repository {
	t.Helper()
	repo := &v1alpha1.Repository{}
	ot.Eventually(t, time.Minute, func() string {
		if msg := ot.Get(c, ns, name, repo); msg != "" {
			return msg
		}
		if msg := check(&repo.Status); msg != "" {
			return fmt.Sprintf("Repository %s: %s; status %s", name, msg, mustJSON(repo.Status))
		}
		return ""
	})
	return repo
}

// restic runs plain restic on a local repository and decodes its JSON.
func restic(t *testing.T, dir, pass string, out any, args ...string) {
	t.Helper()
	cmd := exec.Command("restic", append([]string{"--no-cache", "-r", dir, "--json"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+pass)
	b, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("restic %v: %v: %s", args, err, stderr)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("restic %v: %v in %s", args, err, b)
		}
	}
}

// TestConcurrentFirstUse: several BackupConfigurations into one new
// repository, their sessions created together, several rounds in a row:
// the sessions wait (Pending, RepositoryNotReady) until the Repository
// controller's run initialised the repository, then back up together; plain
// restic then reads every snapshot, restic check passes, and the
// repository has exactly one key.
func TestConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	ot.Create(t, c, ot.AppBinding(ns, "db"), backupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"))
	// A session created with its BackupConfiguration may be seen first: on
	// a loaded machine the tests' 1 s grace failed one InvokerNotFound. This
	// test is about the repository, so it waits as long as the operator's
	// default.
	ot.Start(t, env, ns, controllers.Config{ReferenceGrace: sessionrun.DefaultReferenceGrace})
	const rounds, configs = 3, 3
	for round := range rounds {
		dir := t.TempDir()
		name := fmt.Sprintf("repo-%d", round)
		repo, secret := ot.Repository(ns, name, dir)
		objs := []client.Object{repo, secret}
		var sessions []string
		for i := range configs {
			cfg := fmt.Sprintf("r%d-c%d", round, i)
			objs = append(objs, config(ns, cfg, name, ns+"-backup"), session(ns, cfg+"-1", cfg))
			sessions = append(sessions, cfg+"-1")
		}
		ot.Create(t, c, objs...)
		for _, s := range sessions {
			waitSession(t, ns, s, v1alpha1.BackupSessionSucceeded)
		}
		ot.WaitEvent(t, c, ns, string(v1alpha1.BackupSessionPending), "waiting for Repository "+ns+"/"+name+" to be initialised", 1)

		var snaps []struct{ ID string }
		restic(t, dir, password, &snaps, "snapshots")
		var keys []struct{ ID string }
		restic(t, dir, password, &keys, "key", "list")
		restic(t, dir, password, nil, "check")
		if len(snaps) != configs || len(keys) != 1 {
			t.Fatalf("round %d: %d snapshots and %d keys, want %d snapshots and exactly one key", round, len(snaps), len(keys), configs)
		}
		r := waitRepository(t, ns, name, func(st *v1alpha1.RepositoryStatus) string {
			if st.SnapshotCount != configs {
				return fmt.Sprintf("snapshotCount %d, want %d", st.SnapshotCount, configs)
			}
			return ""
		})
		if c := conditions.Get(r.Status.Conditions, conditions.Initialized); c == nil || c.Reason != string(conditions.ReasonInitialized) {
			t.Errorf("round %d: Initialized = %+v, want True, reason Initialized", round, c)
		}
	}
}

// TestStatusFromTheBackend: the Repository's status after two sessions is
// what the backend holds: the snapshot count, a size, the first and the
// newest snapshot's time (lastBackupTime moves forward only), Ready.
func TestStatusFromTheBackend(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), backupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"),
		config(ns, "a", "repo", ns+"-backup"), config(ns, "b", "repo", ns+"-backup"))
	op := ot.Start(t, env, ns, controllers.Config{})

	var last *metav1.Time
	for i, inv := range []string{"a", "b"} {
		ot.Create(t, c, session(ns, inv+"-1", inv))
		waitSession(t, ns, inv+"-1", v1alpha1.BackupSessionSucceeded)
		var snaps []struct {
			Time time.Time `json:"time"`
		}
		restic(t, dir, password, &snaps, "snapshots")
		want := int64(i + 1)
		r := waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
			switch {
			case st.SnapshotCount != want:
				return fmt.Sprintf("snapshotCount %d, want %d", st.SnapshotCount, want)
			case st.TotalSize == "" || st.FirstBackupTime == nil || st.LastBackupTime == nil:
				return "totalSize, firstBackupTime or lastBackupTime not set"
			case !conditions.IsTrue(st.Conditions, v1alpha1.ConditionReady):
				return "not Ready"
			}
			return ""
		})
		st := r.Status
		if newest := snaps[len(snaps)-1].Time.Truncate(time.Second); !st.LastBackupTime.Time.Equal(newest) {
			t.Errorf("after %d sessions: lastBackupTime %v, want the newest snapshot's %v", want, st.LastBackupTime, newest)
		}
		if oldest := snaps[0].Time.Truncate(time.Second); !st.FirstBackupTime.Time.Equal(oldest) {
			t.Errorf("after %d sessions: firstBackupTime %v, want the first snapshot's %v", want, st.FirstBackupTime, oldest)
		}
		if last != nil && st.LastBackupTime.Before(last) {
			t.Errorf("lastBackupTime moved backwards: %v after %v", st.LastBackupTime, last)
		}
		last = st.LastBackupTime
		if v, ok := op.Gauge(t, "stash_repository_snapshot_count", map[string]string{"namespace": ns, "repository": "repo"}); !ok || v != float64(want) {
			t.Errorf("stash_repository_snapshot_count = %v (exported: %v), want %d", v, ok, want)
		}
		if v, ok := op.Gauge(t, "stashflow_repository_ready", map[string]string{"namespace": ns, "repository": "repo"}); !ok || v != 1 {
			t.Errorf("stashflow_repository_ready = %v (exported: %v), want 1", v, ok)
		}
	}
}

// TestWrongPassword: a repository whose Secret's password opens no key is
// Initialized=False with a message naming the Repository and the Secret
// and no password; the session into it fails with that cause (RepositoryNotReady)
// without being submitted, and no second key is written.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	const right = "the-right-password"
	restic(t, dir, right, nil, "init")
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), backupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"),
		config(ns, "a", "repo", ns+"-backup"), session(ns, "a-1", "a"))
	op := ot.Start(t, env, ns, controllers.Config{})

	r := waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
		if c := conditions.Get(st.Conditions, conditions.Initialized); c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(conditions.ReasonOpenFailed) {
			return "want Initialized False, reason OpenFailed"
		}
		return ""
	})
	msg := conditions.Get(r.Status.Conditions, conditions.Initialized).Message
	for _, want := range []string{"Repository " + ns + "/repo", "Secret " + ns + "/repo-secret", "wrong password"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Initialized message %q does not say %q", msg, want)
		}
	}
	if v, ok := op.Gauge(t, "stashflow_repository_ready", map[string]string{"namespace": ns, "repository": "repo"}); !ok || v != 0 {
		t.Errorf("stashflow_repository_ready = %v (exported: %v), want 0", v, ok)
	}
	if strings.Contains(mustJSON(r), password) || strings.Contains(mustJSON(r), right) {
		t.Errorf("a password is in the Repository: %s", mustJSON(r))
	}
	bs := &v1alpha1.BackupSession{}
	ot.Eventually(t, 20*time.Second, func() string {
		_ = ot.Get(c, ns, "a-1", bs)
		if bs.Status.Phase != v1alpha1.BackupSessionFailed || bs.Status.Reason != string(conditions.ReasonRepositoryNotReady) ||
			!strings.Contains(bs.Status.Message, "Secret "+ns+"/repo-secret") || !strings.Contains(bs.Status.Message, "wrong password") {
			return fmt.Sprintf("session %s (%s: %s), want Failed, RepositoryNotReady naming the Secret and the wrong password", bs.Status.Phase, bs.Status.Reason, bs.Status.Message)
		}
		return ""
	})
	if bs.Status.Workflow != nil {
		t.Errorf("the session was submitted: %+v", bs.Status.Workflow)
	}
	var keys []struct{ ID string }
	restic(t, dir, right, &keys, "key", "list")
	if len(keys) != 1 {
		t.Errorf("%d keys, want the one it had", len(keys))
	}
}

// TestRestoreOfAMissingRepository: a Repository no backup uses, whose
// backend holds nothing, is not initialised (Initialized=False,
// NotInitialized); a restore from it fails naming it and the backend is
// left empty.
func TestRestoreOfAMissingRepository(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), ot.ShellFunction(ns+"-restore", "true"), ot.Task(ns+"-restore", ns+"-restore"))
	ot.Start(t, env, ns, controllers.Config{})
	waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
		if c := conditions.Get(st.Conditions, conditions.Initialized); c == nil || c.Reason != string(conditions.ReasonNotInitialized) {
			return "want Initialized False, reason NotInitialized"
		}
		return ""
	})
	rs := &v1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore"},
		Spec: v1alpha1.RestoreSessionSpec{Repository: v1alpha1.ObjectRef{Name: "repo"}, RestoreTargetSpec: v1alpha1.RestoreTargetSpec{
			Task:   &v1alpha1.TaskRef{Name: ns + "-restore"},
			Target: &v1alpha1.RestoreTarget{Ref: v1alpha1.TargetRef{APIVersion: "stashflow.dev/v1alpha1", Kind: "AppBinding", Name: "db"}},
		}},
	}
	ot.Create(t, c, rs)
	ot.Eventually(t, 10*time.Second, func() string {
		_ = ot.Get(c, ns, "restore", rs)
		if rs.Status.Phase != v1alpha1.RestoreFailed || rs.Status.Reason != string(conditions.ReasonNotInitialized) ||
			!strings.Contains(rs.Status.Message, "holds no restic repository") || rs.Status.Workflow != nil {
			return fmt.Sprintf("restore %s (%s: %s), want Failed, NotInitialized, never submitted", rs.Status.Phase, rs.Status.Reason, rs.Status.Message)
		}
		return ""
	})
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("the backend directory holds %d entries (%v), want none: a restore must not create a repository", len(entries), err)
	}
}

// TestRepositoryMetrics: a Repository's snapshot count, readiness and
// integrity are exported from its status; when it is deleted its size,
// snapshot-count, readiness and integrity series go,
// and another Repository's stay.
func TestRepositoryMetrics(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	gone, goneSecret := ot.Repository(ns, "gone", t.TempDir())
	kept, keptSecret := ot.Repository(ns, "kept", t.TempDir())
	ot.Create(t, c, gone, goneSecret, kept, keptSecret)
	for _, r := range []*v1alpha1.Repository{gone, kept} {
		r.Status.SnapshotCount = 3
		r.Status.Integrity = ptr.To(true)
		ot.Initialized(t, c, r)
	}
	m := metrics.Default()
	m.RepositorySizeBytes.WithLabelValues(ns, "gone").Set(4096) // as a run would
	ot.Start(t, env, ns, controllers.Config{})

	ot.Eventually(t, 10*time.Second, func() string {
		for _, name := range []string{"gone", "kept"} {
			if v, ok := value(m.RepositorySnapshots.GaugeVec, ns, name); !ok || v != 3 {
				return fmt.Sprintf("snapshot count of %s: %v (exported: %v), want 3 from its status", name, v, ok)
			}
			if _, ok := value(m.RepositoryReady.GaugeVec, ns, name); !ok {
				return fmt.Sprintf("readiness of %s not exported", name)
			}
			if v, ok := value(m.RepositoryIntegrity.GaugeVec, ns, name); !ok || v != 1 {
				return fmt.Sprintf("integrity of %s: %v (exported: %v), want 1 from its status", name, v, ok)
			}
		}
		return ""
	})
	if err := c.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 10*time.Second, func() string {
		for _, vec := range []*prometheus.GaugeVec{m.RepositorySnapshots.GaugeVec, m.RepositorySizeBytes.GaugeVec, m.RepositoryReady.GaugeVec, m.RepositoryIntegrity.GaugeVec} {
			if _, ok := value(vec, ns, "gone"); ok {
				return "the deleted Repository's series are still exported"
			}
		}
		return ""
	})
	if _, ok := value(m.RepositorySnapshots.GaugeVec, ns, "kept"); !ok {
		t.Error("the other Repository's series were dropped too")
	}
}

// value is the Repository's series in vec, if it is exported.
func value(vec *prometheus.GaugeVec, ns, name string) (v float64, found bool) {
	ch := make(chan prometheus.Metric, 64)
	go func() { vec.Collect(ch); close(ch) }()
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels[metrics.LabelNamespace] == ns && labels[metrics.LabelRepository] == name {
			v, found = d.GetGauge().GetValue(), true
		}
	}
	return v, found
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/internal/deathsig"
)

// localEngineTimeout bounds each wait of TestLocalEngine: generous, the
// waits normally end in seconds.
const localEngineTimeout = 60 * time.Second

// localEngine is a namespace of its own on the env's apiserver (the Argo
// workflow-controller does not manage it) with an operator on the local
// engine: steps run as child processes of this test, the built stashflow
// binary for `stashflow fn ...`, restic and etcd from <repo>/bin on PATH.
type localEngine struct {
	t  *testing.T
	ns string
	// fp is the Repository on a host directory; the local engine uses the
	// hostPath directly.
	fp *fullPath
}

// newLocalEngine makes the namespace, the Repository and its Secret, and
// starts the operator with engine local for that namespace only.
func newLocalEngine(t *testing.T) *localEngine {
	t.Helper()
	raw := make([]byte, 6)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	// A new namespace per run: envtest has no garbage collector, so what a
	// run leaves behind must not meet the next one (-count).
	le := &localEngine{t: t, ns: "local-engine-" + hex.EncodeToString(raw)}
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: le.ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: le.ns}})
	})

	raw = make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	le.fp = &fullPath{t: t, repoDir: filepath.Join(t.TempDir(), "repo"), password: "pw-" + hex.EncodeToString(raw), repo: "local-repo"}
	le.create(t,
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: le.fp.repo + "-secret"},
			Data:       map[string][]byte{"RESTIC_PASSWORD": []byte(le.fp.password)},
		},
		&v1alpha1.Repository{
			ObjectMeta: metav1.ObjectMeta{Name: le.fp.repo},
			Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: le.fp.repo + "-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: le.fp.repoDir},
					MountPath: "/stashflow/repository",
				},
			}},
		})
	le.startOperator()
	return le
}

// startOperator runs stashflow's controllers with engine local and the
// built-in catalog, its cache scoped to the test's namespace, until the end
// of the test. "stashflow" is the binary TestMain built: the local engine
// would otherwise run os.Executable(), the test binary.
func (le *localEngine) startOperator() {
	le.t.Helper()
	runOperator(le.t, le.ns, "operator-local", controllers.Config{
		Engine:        v1alpha1.EngineLocal,
		WorkDir:       le.t.TempDir(),
		LocalCommands: map[string]string{"stashflow": stashflowBin},
		LocalGuard:    deathsig.FindGuard(stashflowBin),
	})
}

// create creates objects in the test's namespace.
func (le *localEngine) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		o.SetNamespace(le.ns)
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// get reads an object of the test's namespace.
func (le *localEngine) get(name string, obj client.Object) error {
	return env.Client.Get(context.Background(), types.NamespacedName{Namespace: le.ns, Name: name}, obj)
}

// sessions are the BackupSessions of an invoker, by name.
func (le *localEngine) sessions(t *testing.T, invoker string) []v1alpha1.BackupSession {
	t.Helper()
	list := &v1alpha1.BackupSessionList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(le.ns)); err != nil {
		t.Fatal(err)
	}
	var out []v1alpha1.BackupSession
	for _, s := range list.Items {
		if s.Spec.Invoker.Name == invoker {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.BackupSession) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// resticSnapshot is what the test reads of `restic snapshots --json`.
type resticSnapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
}

// snapshotsOf lists the repository's restic snapshots of a host, oldest first.
func (le *localEngine) snapshotsOf(t *testing.T, host string) []resticSnapshot {
	t.Helper()
	fp := *le.fp
	fp.t = t // restic fails the calling (sub)test
	var all, out []resticSnapshot
	if err := json.Unmarshal(fp.restic("snapshots", "--json"), &all); err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Hostname == host {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b resticSnapshot) int { return a.Time.Compare(b.Time) })
	return out
}

// eventually calls check until it returns "" or localEngineTimeout passes.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(localEngineTimeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %s: %s", what, localEngineTimeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// localEngineData is what the test writes into the source etcd: a few
// hundred keys, values empty, short, long, binary and UTF-8.
func localEngineData() map[string]string {
	rng := mathrand.New(mathrand.NewPCG(7, 11))
	data := map[string]string{}
	for i := range 300 {
		k := fmt.Sprintf("/local/%s/key-%03d", []string{"a", "b/c", "d-e/f/g"}[i%3], i)
		var v string
		switch i % 6 {
		case 0:
			v = ""
		case 1:
			v = fmt.Sprintf("value-%d", i)
		case 2:
			v = strings.Repeat("x", 1+rng.IntN(8192))
		case 3:
			b := make([]byte, 1+rng.IntN(512))
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			v = string(b)
		case 4:
			v = fmt.Sprintf("ünïcödé ✓ %d — 日本語", i)
		case 5:
			v = fmt.Sprintf(`{"i":%d,"nested":{"list":[1,2,3]},"nl":"a\nb"}`, i)
		}
		data[k] = v
	}
	data["/local/big"] = strings.Repeat("0123456789abcdef", 16<<10) // 256 KiB
	return data
}

// TestLocalEngine runs the etcd catalog Tasks on the local engine
// (`stashflow operator --engine=local`, in-process) against the real
// apiserver, real etcd servers and a real restic repository: a
// BackupConfiguration on "@every 2s" with retention and a history limit,
// then a RestoreSession (MODE live) into a fresh etcd.
func TestLocalEngine(t *testing.T) {
	start := time.Now()
	le := newLocalEngine(t)
	ctx := context.Background()

	src := startEtcd(t)
	want := localEngineData()
	for k, v := range want {
		if _, err := src.Client.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}

	const keepLast, historyLimit = 2, 2
	const host = "etcd" // the AppBinding's name: the snapshots' hostname
	le.create(t, appBinding(host, src.URL), &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-every-2s"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: "etcd-backup"},
				Target: &v1alpha1.BackupTarget{Ref: appBindingRef(host)},
			},
			Repository:         v1alpha1.ObjectRef{Name: le.fp.repo},
			Schedule:           "@every 2s",
			BackupHistoryLimit: ptr.To[int32](historyLimit),
			RetentionPolicy:    &v1alpha1.RetentionPolicy{Name: "keep-2", KeepLast: ptr.To[int64](keepLast)},
		},
	})

	t.Run("scheduled backups", func(t *testing.T) {
		begin := time.Now()
		// Every session seen Succeeded, kept here: the history limit deletes
		// the older ones.
		succeeded := map[string]v1alpha1.BackupSession{}
		eventually(t, "3 scheduled sessions succeeded", func() string {
			var failed []string
			for _, s := range le.sessions(t, "etcd-every-2s") {
				switch s.Status.Phase {
				case v1alpha1.BackupSessionSucceeded:
					succeeded[s.Name] = s
				case v1alpha1.BackupSessionFailed, v1alpha1.BackupSessionUnknown:
					failed = append(failed, s.Name+": "+s.Status.Message)
				}
			}
			if len(failed) > 0 {
				t.Fatalf("sessions failed: %s", strings.Join(failed, "; "))
			}
			if len(succeeded) < 3 {
				return fmt.Sprintf("%d sessions succeeded, want 3", len(succeeded))
			}
			return ""
		})
		t.Logf("3 scheduled sessions succeeded in %s", time.Since(begin).Round(time.Millisecond))

		// Stop the schedule, then let the running session, if any, end.
		bc := &v1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: le.ns, Name: "etcd-every-2s"}}
		if err := env.Client.Patch(ctx, bc, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"paused":true}}`))); err != nil {
			t.Fatal(err)
		}
		eventually(t, "paused and every session finished", func() string {
			if err := le.get(bc.Name, bc); err != nil {
				return err.Error()
			}
			if bc.Status.NextBackupTime != nil {
				return "status.nextBackupTime is still set"
			}
			for _, s := range le.sessions(t, bc.Name) {
				switch s.Status.Phase {
				case v1alpha1.BackupSessionSucceeded:
					succeeded[s.Name] = s
				case v1alpha1.BackupSessionSkipped:
				case v1alpha1.BackupSessionFailed, v1alpha1.BackupSessionUnknown:
					t.Fatalf("session %s ended %s: %s", s.Name, s.Status.Phase, s.Status.Message)
				default:
					return fmt.Sprintf("session %s is %q", s.Name, s.Status.Phase)
				}
			}
			return ""
		})

		// Every session that succeeded ran both steps and reported its
		// snapshot; it has its Snapshot object while retention keeps the
		// snapshot, and none once retention forgot it.
		inRepo := map[string]bool{}
		for _, snap := range le.snapshotsOf(t, host) {
			inRepo[snap.ID] = true
		}
		for name, s := range succeeded {
			var steps []string
			var id string
			for _, tg := range s.Status.Targets {
				for _, st := range tg.Steps {
					steps = append(steps, st.Name+"="+string(st.Phase))
				}
				for _, stat := range tg.Stats {
					id = stat.SnapshotID
				}
			}
			if diff := cmp.Diff([]string{"etcd-backup=Succeeded", "retention=Succeeded"}, steps); diff != "" {
				t.Errorf("session %s: steps (-want +got):\n%s", name, diff)
			}
			if id == "" {
				t.Errorf("session %s: no snapshot id in its stats:\n%s", name, mustJSON(t, s.Status.Targets))
				continue
			}
			if !inRepo[id] {
				eventually(t, "no Snapshot object for forgotten "+id, func() string {
					if msg := le.snapshotObject(id, ""); msg == "" {
						return "retention forgot the snapshot, but its Snapshot object is still there"
					}
					return ""
				})
				continue
			}
			le.checkSnapshotObject(t, name, id)
		}

		checks := []struct {
			name  string
			check func() string
		}{
			{"retention keeps keepLast restic snapshots", func() string {
				snaps := le.snapshotsOf(t, host)
				// At least 3 sessions succeeded: retention left exactly keepLast.
				if len(snaps) != keepLast {
					return fmt.Sprintf("%d restic snapshots of host %s, want %d: %+v", len(snaps), host, keepLast, snaps)
				}
				return ""
			}},
			{"every restic snapshot left has its Snapshot object", func() string {
				for _, snap := range le.snapshotsOf(t, host) {
					if msg := le.snapshotObject(snap.ID, ""); msg != "" {
						return msg
					}
				}
				return ""
			}},
			{"history pruned to backupHistoryLimit", func() string {
				var finished []string
				succeeded := 0
				for _, s := range le.sessions(t, bc.Name) {
					finished = append(finished, s.Name+"="+string(s.Status.Phase))
					if s.Status.Phase == v1alpha1.BackupSessionSucceeded {
						succeeded++
					}
				}
				// The newest Succeeded session is kept beyond the limit
				// when slots Skipped under load came after it.
				limit := historyLimit
				if succeeded == 1 {
					limit++
				}
				if len(finished) > limit {
					return fmt.Sprintf("finished sessions %v, want at most %d", finished, limit)
				}
				return ""
			}},
			// The Repository controller read the size, the count the
			// retention steps left and the newest snapshot's time from the
			// backend after the last session.
			{"repository status from the backend", func() string {
				repo := &v1alpha1.Repository{}
				if err := le.get(le.fp.repo, repo); err != nil {
					return err.Error()
				}
				st := repo.Status
				n := int64(len(le.snapshotsOf(t, host)))
				if st.TotalSize == "" || st.SnapshotCount != n || st.LastBackupTime == nil {
					return fmt.Sprintf("status = %s, want totalSize, lastBackupTime and snapshotCount %d", mustJSON(t, st), n)
				}
				return ""
			}},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) { eventually(t, c.name, c.check) })
		}
		t.Logf("%d sessions succeeded, schedule paused, checked in %s", len(succeeded), time.Since(begin).Round(time.Millisecond))
	})
	if t.Failed() {
		return
	}

	t.Run("restore into a fresh etcd", func(t *testing.T) {
		begin := time.Now()
		snaps := le.snapshotsOf(t, host)
		if len(snaps) == 0 {
			t.Fatalf("no restic snapshot of host %s", host)
		}
		id := snaps[len(snaps)-1].ID
		dst := startEtcd(t)
		le.create(t, appBinding("etcd-fresh", dst.URL))
		rs := liveEtcdRestore("etcd-restore", "etcd-fresh", le.fp.repo, host, id)
		le.create(t, rs)
		eventually(t, "restore finished", func() string {
			if err := le.get(rs.Name, rs); err != nil {
				return err.Error()
			}
			if rs.Status.Phase != v1alpha1.RestoreSucceeded && rs.Status.Phase != v1alpha1.RestoreFailed {
				return fmt.Sprintf("phase %q", rs.Status.Phase)
			}
			return ""
		})
		if rs.Status.Phase != v1alpha1.RestoreSucceeded {
			t.Fatalf("restore ended %s: %s\n%s", rs.Status.Phase, rs.Status.Message, mustJSON(t, rs.Status))
		}
		if rs.Status.Workflow == nil || rs.Status.Workflow.Engine != v1alpha1.EngineLocal {
			t.Errorf("status.workflow = %+v, want engine local", rs.Status.Workflow)
		}
		// Every key of the fresh etcd, against what the source held.
		resp, err := dst.Client.Get(ctx, "", clientv3WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range resp.Kvs {
			got[string(kv.Key)] = string(kv.Value)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("restored keys (-want +got):\n%s", diff)
		}
		t.Logf("restore of %s on the local engine in %s: %d keys verified", id, time.Since(begin).Round(time.Millisecond), len(got))
	})
	t.Logf("whole test: %s", time.Since(start).Round(time.Millisecond))
}

// checkSnapshotObject waits for the Snapshot object of a session's restic
// snapshot in the test's namespace.
func (le *localEngine) checkSnapshotObject(t *testing.T, session, id string) {
	t.Helper()
	eventually(t, "Snapshot object of "+id, func() string { return le.snapshotObject(id, session) })
}

// snapshotObject finds the Snapshot object of a restic snapshot (made by
// session, unless that is empty) and says what is wrong, or "".
func (le *localEngine) snapshotObject(id, session string) string {
	list := &v1alpha1.SnapshotList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(le.ns)); err != nil {
		return err.Error()
	}
	for _, s := range list.Items {
		if s.Spec.SnapshotID != "" && (strings.HasPrefix(id, s.Spec.SnapshotID) || strings.HasPrefix(s.Spec.SnapshotID, id)) {
			if session != "" && s.Spec.Session != session {
				return fmt.Sprintf("Snapshot %s: session %q, want %q", s.Name, s.Spec.Session, session)
			}
			return ""
		}
	}
	return fmt.Sprintf("no Snapshot object for %s among %d", id, len(list.Items))
}

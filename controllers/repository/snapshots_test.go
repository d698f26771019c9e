package repository_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/controllers/snapshot"
)

// fast reads Repositories from their backend every second.
var fast = controllers.Config{RepositoryRefreshInterval: time.Second}

// backupOutside takes a snapshot with plain restic, as a person or another
// tool would, and returns its id (the repository is created if needed).
func backupOutside(t *testing.T, dir, host string) string {
	t.Helper()
	return backupOutsideAt(t, dir, host, `[ -e "$RESTIC_REPOSITORY/config" ] || restic init -q`)
}

// backupOutsideAt is backupOutside at any restic location, with the
// backend's variables in env; initialise is the shell command that creates
// the repository when needed.
func backupOutsideAt(t *testing.T, location, host, initialise string, env ...string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", initialise+`; echo "$HOST" | restic backup --no-cache -q --json --stdin --stdin-filename data --host "$HOST" --tag made=outside`)
	cmd.Env = append(append(os.Environ(), env...), "RESTIC_REPOSITORY="+location, "RESTIC_PASSWORD="+password, "HOST="+host)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restic backup: %v: %s", err, b)
	}
	b = bytes.TrimSpace(b)
	var sum struct {
		ID string `json:"snapshot_id"`
	}
	if err := json.Unmarshal(b[bytes.LastIndexByte(b, '\n')+1:], &sum); err != nil || sum.ID == "" {
		t.Fatalf("restic backup said %s: %v", b, err)
	}
	return sum.ID
}

// resticIDs are the ids of the snapshots plain restic lists.
func resticIDs(t *testing.T, dir string) []string {
	t.Helper()
	var snaps []struct{ ID string }
	restic(t, dir, password, &snaps, "snapshots")
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// waitSnapshot waits until the Snapshot object of id passes check (nil:
// until it is gone).
func waitSnapshot(t *testing.T, ns, repo, id string, check func(*v1alpha1.Snapshot) string) *v1alpha1.Snapshot {
	t.Helper()
	snap := &v1alpha1.Snapshot{}
	name := snapshot.Name(repo, id)
	ot.Eventually(t, time.Minute, func() string {
		err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, snap)
		switch {
		case check == nil && apierrors.IsNotFound(err):
			return ""
		case check == nil:
			return fmt.Sprintf("Snapshot %s still there (%v): %s", name, err, mustJSON(snap))
		case err != nil:
			return fmt.Sprintf("Snapshot %s: %v", name, err)
		}
		return check(snap)
	})
	return snap
}

func deleteObject(t *testing.T, obj client.Object) {
	t.Helper()
	if err := c.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotsMirrorTheBackend: snapshots made by plain restic get
// Snapshot objects, with restic's record in the Stash status fields and
// the finalizer; a snapshot forgotten with plain restic loses its object
// (and nothing else is forgotten); deleting an object forgets its snapshot
// in restic, and only that one.
func TestSnapshotsMirrorTheBackend(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	a, b, keep := backupOutside(t, dir, "host-a"), backupOutside(t, dir, "host-b"), backupOutside(t, dir, "host-c")
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret)
	ot.Start(t, env, ns, fast)

	for i, id := range []string{a, b, keep} {
		host := []string{"host-a", "host-b", "host-c"}[i]
		snap := waitSnapshot(t, ns, "repo", id, func(s *v1alpha1.Snapshot) string {
			if s.Status.Tree == "" {
				return "status not written yet"
			}
			return ""
		})
		st := snap.Status
		if snap.Spec.SnapshotID != id || snap.Spec.Hostname != host || snap.Spec.Time == nil || st.Hostname != host || st.Repository != "repo" ||
			!slices.Equal(snap.Spec.Tags, []string{"made=outside"}) || !slices.Equal(snap.Spec.Paths, []string{"/data"}) ||
			len(st.Tree) != 64 || !slices.Equal(st.Paths, []string{"/data"}) || !slices.Equal(st.Tags, []string{"made=outside"}) ||
			st.Username == "" || st.UID == nil || st.GID == nil || !controllerutil.ContainsFinalizer(snap, snapshot.Finalizer) ||
			len(snap.OwnerReferences) != 1 || snap.OwnerReferences[0].Name != "repo" {
			t.Errorf("Snapshot of %.8s: %s; want restic's record of host %s, the finalizer, owned by the Repository", id, mustJSON(snap), host)
		}
	}
	ot.WaitEvent(t, c, ns, string(conditions.ReasonSnapshotFound), "without a Snapshot object", 3)

	restic(t, dir, password, nil, "forget", a)
	waitSnapshot(t, ns, "repo", a, nil)

	deleteObject(t, &v1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: snapshot.Name("repo", b)}})
	waitSnapshot(t, ns, "repo", b, nil)
	if ids := resticIDs(t, dir); !slices.Equal(ids, []string{keep}) {
		t.Errorf("restic lists %v, want only %.8s (the others forgotten)", ids, keep)
	}
	restic(t, dir, password, nil, "check")
	if msg := ot.Get(c, ns, snapshot.Name("repo", keep), &v1alpha1.Snapshot{}); msg != "" {
		t.Errorf("the kept snapshot's object: %s", msg)
	}
}

// blockingBackup is a backup step that runs until the file $GO exists.
// It writes no snapshot id (an empty snapshotID output: nothing to record).
const blockingBackup = `while [ ! -e "$GO" ]; do sleep 0.1; done; : > "$STASHFLOW_OUTPUT_DIR/snapshotID"`

// TestForgetWaitsForASession: a Snapshot deleted while a BackupSession into
// its Repository runs keeps its finalizer and its snapshot; its condition
// Forgotten and an event name the session; once the session ended, the
// snapshot is forgotten and the object goes.
func TestForgetWaitsForASession(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	id := backupOutside(t, dir, "db")
	gate := t.TempDir() + "/go"
	fn := ot.ShellFunction(ns+"-block", blockingBackup, "snapshotID")
	fn.Spec.Env = []corev1.EnvVar{{Name: "GO", Value: gate}}
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), fn, ot.Task(ns+"-block", ns+"-block"), config(ns, "a", "repo", ns+"-block"))
	ot.Start(t, env, ns, fast)
	waitSnapshot(t, ns, "repo", id, func(*v1alpha1.Snapshot) string { return "" })
	ot.Create(t, c, session(ns, "a-1", "a"))
	waitSession(t, ns, "a-1", v1alpha1.BackupSessionRunning)

	deleteObject(t, &v1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: snapshot.Name("repo", id)}})
	waitSnapshot(t, ns, "repo", id, func(s *v1alpha1.Snapshot) string {
		c := conditions.Get(s.Status.Conditions, conditions.Forgotten)
		if c == nil || c.Reason != string(conditions.ReasonRepositoryInUse) || !strings.Contains(c.Message, "BackupSession "+ns+"/a-1") {
			return fmt.Sprintf("condition Forgotten %+v, want False, RepositoryInUse, naming the session", c)
		}
		return ""
	})
	ot.WaitEvent(t, c, ns, string(conditions.ReasonRepositoryInUse), "BackupSession "+ns+"/a-1", 1)
	if ids := resticIDs(t, dir); !slices.Equal(ids, []string{id}) {
		t.Fatalf("restic lists %v while the session runs, want %.8s still there", ids, id)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitSession(t, ns, "a-1", v1alpha1.BackupSessionSucceeded)
	waitSnapshot(t, ns, "repo", id, nil)
	if ids := resticIDs(t, dir); len(ids) != 0 {
		t.Errorf("restic lists %v, want the deleted snapshot forgotten", ids)
	}
}

// TestWipeOut: deleting a Repository with wipeOut false keeps its data
// (plain restic still lists and checks it, and deleting its Snapshot
// objects, as the garbage collector does, forgets nothing); with wipeOut
// true the repository's files are deleted, and a file of someone else's
// beside them stays.
func TestWipeOut(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	keepDir, wipeDir := t.TempDir(), t.TempDir()
	kept, wiped := backupOutside(t, keepDir, "db"), backupOutside(t, wipeDir, "db")
	if err := os.WriteFile(wipeDir+"/NOTES", []byte("not restic's"), 0o600); err != nil {
		t.Fatal(err)
	}
	keep, keepSecret := ot.Repository(ns, "keep", keepDir)
	wipe, wipeSecret := ot.Repository(ns, "wipe", wipeDir)
	wipe.Spec.WipeOut = true
	ot.Create(t, c, keep, keepSecret, wipe, wipeSecret)
	ot.Start(t, env, ns, fast)
	waitSnapshot(t, ns, "keep", kept, func(*v1alpha1.Snapshot) string { return "" })
	waitSnapshot(t, ns, "wipe", wiped, func(*v1alpha1.Snapshot) string { return "" })

	deleteObject(t, keep)
	deleteObject(t, wipe)
	for _, name := range []string{"keep", "wipe"} {
		ot.Eventually(t, time.Minute, func() string {
			if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.Repository{}); !apierrors.IsNotFound(err) {
				return fmt.Sprintf("Repository %s still there (%v)", name, err)
			}
			return ""
		})
	}
	// No garbage collector runs here: delete the Snapshots as it would.
	deleteObject(t, &v1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: snapshot.Name("keep", kept)}})
	waitSnapshot(t, ns, "keep", kept, nil)
	if ids := resticIDs(t, keepDir); !slices.Equal(ids, []string{kept}) {
		t.Errorf("wipeOut false: restic lists %v, want %.8s kept", ids, kept)
	}
	restic(t, keepDir, password, nil, "check")
	entries, err := os.ReadDir(wipeDir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "NOTES" {
		t.Errorf("wipeOut true: the directory holds %v (%v), want only NOTES", entries, err)
	}
	ot.WaitEvent(t, c, ns, string(conditions.ReasonWipedOut), "deleted its data", 1)
}

// TestSessionSnapshotTimeIsRestics: the Snapshot object a BackupSession
// records has restic's time of the snapshot (`restic snapshots --json`,
// to the second the API keeps), not the end of the step that took it; the
// Repository's refresh, which lists the snapshot afterwards, leaves it so.
// The step is the real volume-backup Function, held a second and a half
// after restic ended so that its end falls in a later second than
// restic's time: with the step's end as the time the test fails.
func TestSessionSnapshotTimeIsRestics(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir, data := t.TempDir(), t.TempDir()
	if err := os.WriteFile(data+"/file", []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is `stashflow fn` (TestMain dispatches it).
	fn := ot.ShellFunction(ns+"-volume", `"$STASHFLOW" fn volume-backup --paths="$DATA" --hostname=db --session="$SESSION" && sleep 1.5`,
		"snapshotID", "snapshotTime", "size", "uploaded", "files", "duration")
	fn.Spec.Env = []corev1.EnvVar{{Name: "STASHFLOW", Value: self}, {Name: "DATA", Value: data}, {Name: "SESSION", Value: "${BACKUP_SESSION:=}"}}
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), fn, ot.Task(ns+"-volume", ns+"-volume"), config(ns, "a", "repo", ns+"-volume"))
	// No periodic refresh: one listing while the step runs would create
	// the object before the session records it.
	ot.Start(t, env, ns, controllers.Config{})
	ot.Create(t, c, session(ns, "a-1", "a"))
	bs := waitSession(t, ns, "a-1", v1alpha1.BackupSessionSucceeded)

	var snaps []struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	}
	restic(t, dir, password, &snaps, "snapshots")
	if len(snaps) != 1 {
		t.Fatalf("restic lists %d snapshots, want 1", len(snaps))
	}
	want := snaps[0].Time.Truncate(time.Second)
	var stepEnd time.Time
	for _, tg := range bs.Status.Targets {
		for _, s := range tg.Steps {
			if s.FinishedAt != nil {
				stepEnd = s.FinishedAt.Time
			}
		}
	}
	if !stepEnd.After(want) {
		t.Fatalf("the step ended at %v, not after restic's time %v: the test cannot tell them apart", stepEnd, want)
	}
	timeOf := func(s *v1alpha1.Snapshot) string {
		switch {
		case s.Spec.Time == nil:
			return "spec.time not set"
		case !s.Spec.Time.Time.Equal(want):
			return fmt.Sprintf("spec.time %v, want restic's %v (the step ended %v)", s.Spec.Time.Time, want, stepEnd)
		}
		return ""
	}
	snap := waitSnapshot(t, ns, "repo", snaps[0].ID, func(s *v1alpha1.Snapshot) string { return "" })
	if msg := timeOf(snap); msg != "" || snap.Spec.Session != "a-1" {
		t.Errorf("Snapshot recorded by the session: %s; session %q", msg, snap.Spec.Session)
	}
	// The refresh after the session lists the snapshot (its record in the
	// status) and keeps the time.
	snap = waitSnapshot(t, ns, "repo", snaps[0].ID, func(s *v1alpha1.Snapshot) string {
		if s.Status.Tree == "" {
			return "status not written by a refresh yet"
		}
		return ""
	})
	if msg := timeOf(snap); msg != "" {
		t.Errorf("after the refresh: %s", msg)
	}
}

// TestRefreshCorrectsSnapshotTime: a Snapshot object written with a time
// that is not restic's (as sessions wrote it before they had restic's
// time: the step's end) gets restic's time, to the second, and restic's
// owner, from the Repository's next listing of a real restic repository.
// An object of a snapshot the listing does not hold (no listing ever saw
// it) keeps its spec as written.
func TestRefreshCorrectsSnapshotTime(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	id := backupOutside(t, dir, "db")
	var snaps []struct {
		ID       string    `json:"id"`
		Time     time.Time `json:"time"`
		Username string    `json:"username"`
	}
	restic(t, dir, password, &snaps, "snapshots")
	if len(snaps) != 1 || snaps[0].ID != id || snaps[0].Username == "" {
		t.Fatalf("restic lists %+v, want %.8s with its username", snaps, id)
	}
	want := snaps[0].Time.Truncate(time.Second)
	wrong := want.Add(90 * time.Second)
	repo, secret := ot.Repository(ns, "repo", dir)
	ot.Create(t, c, repo, secret)
	if msg := ot.Get(c, ns, "repo", repo); msg != "" {
		t.Fatal(msg)
	}
	// As a session wrote them: its own time, no owner.
	recorded := snapshot.New(repo, snapshot.Facts{ID: id, Time: wrong, Hostname: "db", Session: "a-1"}, c.Scheme())
	unknownID := strings.Repeat("ab", 32)
	unknown := snapshot.New(repo, snapshot.Facts{ID: unknownID, Time: wrong, Hostname: "db", Session: "a-2"}, c.Scheme())
	ot.Create(t, c, recorded, unknown)
	ot.Start(t, env, ns, fast)

	snap := waitSnapshot(t, ns, "repo", id, func(s *v1alpha1.Snapshot) string {
		switch {
		case s.Status.Tree == "":
			return "status not written by a refresh yet"
		case s.Spec.Time == nil || !s.Spec.Time.Time.Equal(want):
			return fmt.Sprintf("spec.time %v, want restic's %v (was %v)", s.Spec.Time, want, wrong)
		}
		return ""
	})
	if snap.Spec.Username != snaps[0].Username || snap.Spec.UID == nil || snap.Spec.GID == nil ||
		!slices.Equal(snap.Spec.Tags, []string{"made=outside"}) || snap.Spec.Size == nil ||
		snap.Spec.Hostname != "db" || snap.Spec.Session != "a-1" || snap.Spec.SnapshotID != id {
		t.Errorf("Snapshot after the refresh: %s; want restic's owner, tags and size filled in, hostname, session and id kept", mustJSON(snap.Spec))
	}
	// The listing that corrected it did not hold the other snapshot: its
	// object stays as written.
	other := &v1alpha1.Snapshot{}
	if msg := ot.Get(c, ns, unknown.Name, other); msg != "" {
		t.Fatal(msg)
	}
	if other.Spec.Time == nil || !other.Spec.Time.Time.Equal(wrong) || other.Spec.Username != "" {
		t.Errorf("Snapshot of a snapshot not listed: %s; want it as written (time %v, no username)", mustJSON(other.Spec), wrong)
	}
}

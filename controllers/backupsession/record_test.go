package backupsession_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

// TestRunReadAgainstItsRecord changes the Task of running sessions on the
// local engine: the session's status.plan keeps the steps it was submitted
// with, and its status names those steps, both when the run goes on to the
// end and when the operator restarts in between (the run is then lost, and
// the session says so against the plan it ran).
func TestRunReadAgainstItsRecord(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	dir := t.TempDir()
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	// The first step of a session runs until the file release-<session> exists.
	first := ot.ShellFunction(ns+"-first", fmt.Sprintf(`while [ ! -e %s/release-"$SESSION" ]; do sleep 0.05; done; : > "$STASHFLOW_OUTPUT_DIR/snapshotID"`, dir), "snapshotID")
	first.Spec.Env = []corev1.EnvVar{{Name: "SESSION", Value: "${BACKUP_SESSION:=}"}}
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), first,
		ot.ShellFunction(ns+"-added", `echo added; : > "$STASHFLOW_OUTPUT_DIR/snapshotID"`, "snapshotID"),
		ot.Task(ns+"-goes-on", ns+"-first"), ot.Task(ns+"-restarts", ns+"-first"),
	)
	ot.Initialized(t, c, repo)
	op := ot.Start(t, env, ns, controllers.Config{})
	// "restarts" names no target (its Task needs none): a record's target
	// without a ref must pass the API's validation.
	noTarget := func(bc *v1alpha1.BackupConfiguration) { bc.Spec.Target = nil }
	ot.Create(t, c, config(ns, "goes-on", ns+"-goes-on"), config(ns, "restarts", ns+"-restarts", noTarget),
		session(ns, "goes-on-1", "goes-on"), session(ns, "restarts-1", "restarts"))
	submitted := map[string]*v1alpha1.RunPlan{}
	for _, name := range []string{"goes-on-1", "restarts-1"} {
		bs := waitPhase(t, ns, name, v1alpha1.BackupSessionRunning, 20*time.Second)
		if bs.Status.Plan == nil || len(bs.Status.Plan.Steps) != 1 || bs.Status.Plan.Steps[0].Name != ns+"-first" {
			t.Fatalf("%s: status.plan = %+v, want the one step of the Task", name, bs.Status.Plan)
		}
		submitted[name] = bs.Status.Plan
	}
	// Both Tasks change while their runs go on: another step first.
	for _, name := range []string{ns + "-goes-on", ns + "-restarts"} {
		task := &v1alpha1.Task{}
		if err := c.Get(t.Context(), client.ObjectKey{Name: name}, task); err != nil {
			t.Fatal(err)
		}
		task.Spec.Steps = []v1alpha1.FunctionRef{{Name: ns + "-added"}, {Name: ns + "-first"}}
		if err := c.Update(t.Context(), task); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("the run goes on", func(t *testing.T) {
		// The Task changed before the step ends: the reconcile that sees
		// the run end reads it against the record.
		if err := os.WriteFile(filepath.Join(dir, "release-goes-on-1"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		bs := waitPhase(t, ns, "goes-on-1", v1alpha1.BackupSessionSucceeded, 20*time.Second)
		checkReadAgainst(t, bs, submitted["goes-on-1"], v1alpha1.StepSucceeded)
	})

	t.Run("the operator restarts", func(t *testing.T) {
		bs := &v1alpha1.BackupSession{}
		if msg := ot.Get(c, ns, "restarts-1", bs); msg != "" {
			t.Fatal(msg)
		}
		if bs.Status.Phase != v1alpha1.BackupSessionRunning {
			t.Fatalf("restarts-1 is %s before the restart, want Running: its step waits for a file nobody writes", bs.Status.Phase)
		}
		op.Stop()
		ot.Start(t, env, ns, controllers.Config{})
		bs = waitPhase(t, ns, "restarts-1", v1alpha1.BackupSessionUnknown, 20*time.Second)
		if bs.Status.Reason != string(conditions.ReasonRunLost) || bs.Status.Message != engine.LostOnRestart {
			t.Errorf("restarts-1: %s %q, want RunLost %q", bs.Status.Reason, bs.Status.Message, engine.LostOnRestart)
		}
		checkReadAgainst(t, bs, submitted["restarts-1"], "")
	})
}

// checkReadAgainst checks that bs still holds the plan it was submitted
// with and that its status lists that plan's steps; phase, if set, is the
// step's.
func checkReadAgainst(t *testing.T, bs *v1alpha1.BackupSession, plan *v1alpha1.RunPlan, phase v1alpha1.StepPhase) {
	t.Helper()
	if diff := cmp.Diff(plan, bs.Status.Plan); diff != "" {
		t.Errorf("%s: status.plan changed (-submitted +now):\n%s", bs.Name, diff)
	}
	if len(bs.Status.Targets) != 1 {
		t.Fatalf("%s: targets = %+v", bs.Name, bs.Status.Targets)
	}
	var steps []string
	for _, s := range bs.Status.Targets[0].Steps {
		steps = append(steps, s.Name)
		if phase != "" && s.Phase != phase {
			t.Errorf("%s: step %s is %s, want %s", bs.Name, s.Name, s.Phase, phase)
		}
	}
	if diff := cmp.Diff([]string{plan.Steps[0].Name}, steps); diff != "" {
		t.Errorf("%s: status steps (-plan +status):\n%s", bs.Name, diff)
	}
}

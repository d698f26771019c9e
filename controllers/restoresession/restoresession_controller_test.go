package restoresession_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

const restoreScript = `set -e
printf 0123456789abcdef > "$STASHFLOW_OUTPUT_DIR/snapshotID"
printf 4096 > "$STASHFLOW_OUTPUT_DIR/size"
printf 2 > "$STASHFLOW_OUTPUT_DIR/files"
printf 1s > "$STASHFLOW_OUTPUT_DIR/duration"`

func target(name, task string) v1alpha1.RestoreTargetSpec {
	return v1alpha1.RestoreTargetSpec{
		Task: &v1alpha1.TaskRef{Name: task},
		Target: &v1alpha1.RestoreTarget{
			Ref:   v1alpha1.TargetRef{APIVersion: "stashflow.dev/v1alpha1", Kind: "AppBinding", Name: name},
			Rules: []v1alpha1.RestoreRule{{Snapshots: []string{"latest"}}},
		},
	}
}

// waitRestore waits until obj (a RestoreSession or RestoreBatch) reaches phase.
func waitRestore(t *testing.T, obj client.Object, status func() v1alpha1.RestoreSessionStatus, phase v1alpha1.RestorePhase) v1alpha1.RestoreSessionStatus {
	t.Helper()
	ot.Eventually(t, 15*time.Second, func() string {
		if msg := ot.Get(c, obj.GetNamespace(), obj.GetName(), obj); msg != "" {
			return msg
		}
		if st := status(); st.Phase != phase {
			return fmt.Sprintf("%s is %s (%s: %s), want %s", obj.GetName(), st.Phase, st.Reason, st.Message, phase)
		}
		return ""
	})
	return status()
}

func TestRestore(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	other := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	foreign, foreignSecret := ot.Repository(other, "foreign", t.TempDir())
	shared, sharedSecret := ot.Repository(other, "shared", t.TempDir())
	shared.Spec.UsagePolicy = &v1alpha1.UsagePolicy{AllowedNamespaces: v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}}
	noPassword, noPasswordSecret := ot.Repository(ns, "no-password", t.TempDir())
	noPasswordSecret.StringData = map[string]string{"OTHER": "value-2b7e"}
	ot.Create(t, c, repo, secret, foreign, foreignSecret, shared, sharedSecret, noPassword, noPasswordSecret, ot.AppBinding(ns, "a"), ot.AppBinding(ns, "b"),
		ot.ShellFunction(ns+"-restore", restoreScript, "snapshotID", "size", "files", "duration"), ot.Task(ns+"-restore", ns+"-restore"),
		ot.ShellFunction(ns+"-fail", "echo 'target is read-only' >&2; exit 3"), ot.Task(ns+"-fail", ns+"-fail"),
		ot.ShellFunction(ns+"-sleep", "sleep 30"), ot.Task(ns+"-sleep", ns+"-sleep"))
	// The fake restores read no repository: mark it as the Repository
	// controller would have found it.
	ot.Initialized(t, c, repo)
	ot.Initialized(t, c, foreign)
	ot.Start(t, env, ns, controllers.Config{})

	t.Run("a RestoreSession succeeds with its stats", func(t *testing.T) {
		t.Parallel()
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore-a"},
			Spec:       v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-restore"), Repository: v1alpha1.ObjectRef{Name: "repo"}},
		}
		ot.Create(t, c, rs)
		st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreSucceeded)
		if !conditions.IsTrue(st.Conditions, conditions.RestoreExecutorEnsured) || st.Workflow == nil || st.SessionDuration == "" {
			t.Errorf("status = %+v, want RestoreExecutorEnsured, a workflow and a duration", st)
		}
		if len(st.Targets) != 1 || st.Targets[0].Phase != v1alpha1.TargetSucceeded || len(st.Targets[0].Stats) != 1 {
			t.Fatalf("targets = %+v, want a Succeeded target with stats", st.Targets)
		}
		h := st.Targets[0].Stats[0]
		if h.Hostname != "a" || h.SnapshotID != "0123456789abcdef" || ptr.Deref(h.Size, 0) != 4096 || ptr.Deref(h.Files, 0) != 2 || h.Duration != "1s" {
			t.Errorf("stats = %+v, want the step's outputs", h)
		}
	})

	t.Run("a RestoreBatch with a failing member fails", func(t *testing.T) {
		t.Parallel()
		rb := &v1alpha1.RestoreBatch{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "batch"},
			Spec: v1alpha1.RestoreBatchSpec{
				Repository:     v1alpha1.ObjectRef{Name: "repo"},
				ExecutionOrder: v1alpha1.Parallel,
				Members: []v1alpha1.RestoreBatchMember{
					{RestoreTargetSpec: target("a", ns+"-restore")},
					{RestoreTargetSpec: target("b", ns+"-fail")},
				},
			},
		}
		ot.Create(t, c, rb)
		st := waitRestore(t, rb, func() v1alpha1.RestoreSessionStatus { return rb.Status }, v1alpha1.RestoreFailed)
		if len(st.Targets) != 2 || st.Targets[0].Phase != v1alpha1.TargetSucceeded || st.Targets[1].Phase != v1alpha1.TargetFailed {
			t.Fatalf("targets = %+v, want a Succeeded and b Failed", st.Targets)
		}
		if st.Reason != string(conditions.ReasonStepFailed) || !strings.Contains(st.Message, "read-only") {
			t.Errorf("reason, message = %s, %q; want StepFailed with the step's error", st.Reason, st.Message)
		}
	})

	t.Run("a RestoreSession from a Repository that forbids the namespace is Invalid", func(t *testing.T) {
		t.Parallel()
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore-foreign"},
			Spec: v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-restore"),
				Repository: v1alpha1.ObjectRef{Name: "foreign", Namespace: other}},
		}
		ot.Create(t, c, rs)
		st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreInvalid)
		if st.Reason != string(conditions.ReasonNamespaceNotAllowed) || st.Workflow != nil {
			t.Errorf("status = %+v, want NamespaceNotAllowed and no workflow", st)
		}
	})

	t.Run("a RestoreSession from another namespace's Repository that allows All is Invalid: its Secret cannot reach the steps", func(t *testing.T) {
		t.Parallel()
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore-shared"},
			Spec: v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-restore"),
				Repository: v1alpha1.ObjectRef{Name: "shared", Namespace: other}},
		}
		ot.Create(t, c, rs)
		st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreInvalid)
		want := fmt.Sprintf("Repository %s/shared is in another namespace than %s", other, ns)
		if st.Reason != string(conditions.ReasonNamespaceNotAllowed) || st.Workflow != nil ||
			!strings.Contains(st.Message, want) || !strings.Contains(st.Message, "storage Secret "+other+"/shared-secret") {
			t.Errorf("status = %+v, want NamespaceNotAllowed saying %q and naming the Secret, and no workflow", st, want)
		}
	})

	t.Run("a RestoreSession whose storage Secret has no RESTIC_PASSWORD says so before any step", func(t *testing.T) {
		t.Parallel()
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore-nopass"},
			Spec:       v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-restore"), Repository: v1alpha1.ObjectRef{Name: "no-password"}},
		}
		ot.Create(t, c, rs)
		st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreFailed)
		want := "spec.backend.storageSecretName of Repository " + ns + "/no-password: Secret key RESTIC_PASSWORD not found: Secret " + ns + "/no-password-secret has no key RESTIC_PASSWORD"
		if st.Reason != string(conditions.ReasonSecretKeyMissing) || st.Workflow != nil || !strings.Contains(st.Message, want) || strings.Contains(st.Message, "value-2b7e") {
			t.Errorf("status = %+v, want SecretKeyMissing saying %q, no value and no workflow", st, want)
		}
	})

	t.Run("a volume or workload target on the local engine is Invalid, naming --engine=argo", func(t *testing.T) {
		t.Parallel()
		for i, ref := range []v1alpha1.TargetRef{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: "www"},
			{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: "data"},
		} {
			rs := &v1alpha1.RestoreSession{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("restore-local-%d", i)},
				Spec: v1alpha1.RestoreSessionSpec{RestoreTargetSpec: v1alpha1.RestoreTargetSpec{Target: &v1alpha1.RestoreTarget{Ref: ref}},
					Repository: v1alpha1.ObjectRef{Name: "repo"}},
			}
			ot.Create(t, c, rs)
			st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreInvalid)
			if st.Reason != string(conditions.ReasonInvalidInput) || st.Workflow != nil ||
				!strings.Contains(st.Message, "spec.target.ref: "+ref.Kind+` "`+ref.Name+`" cannot be backed up or restored on the local engine`) ||
				!strings.Contains(st.Message, "--engine=argo") {
				t.Errorf("status = %+v, want InvalidInput naming the target and --engine=argo, and no workflow", st)
			}
		}
	})

	t.Run("a RestoreSession of a missing Task fails after the grace", func(t *testing.T) {
		t.Parallel()
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore-notask"},
			Spec:       v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-nope"), Repository: v1alpha1.ObjectRef{Name: "repo"}},
		}
		ot.Create(t, c, rs)
		st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreFailed)
		if st.Reason != string(conditions.ReasonTaskNotFound) || !strings.Contains(st.Message, "Task "+ns+"-nope not found") {
			t.Errorf("reason, message = %s, %q; want TaskNotFound", st.Reason, st.Message)
		}
	})

	t.Run("a RestoreSession past its timeOut fails", func(t *testing.T) {
		t.Parallel()
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restore-slow"},
			Spec: v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-sleep"),
				Repository: v1alpha1.ObjectRef{Name: "repo"}, TimeOut: "1s"},
		}
		ot.Create(t, c, rs)
		st := waitRestore(t, rs, func() v1alpha1.RestoreSessionStatus { return rs.Status }, v1alpha1.RestoreFailed)
		if st.Reason != string(conditions.ReasonDeadlineExceeded) || !conditions.IsTrue(st.Conditions, conditions.DeadlineExceeded) {
			t.Errorf("status = %+v, want DeadlineExceeded", st)
		}
	})
}

// TestRestoresOfOneTargetTakeTurns: three restores that write target a,
// two RestoreSessions and a RestoreBatch member, created together, run one
// after the other: the step fails if it finds another one writing (a
// marker it creates with noclobber), so all three succeed only if they took
// turns, and the ones that waited said why.
func TestRestoresOfOneTargetTakeTurns(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	script := ot.ExclusiveScript(t.TempDir(), "another restore is writing the target")
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "a"), ot.AppBinding(ns, "b"),
		ot.ShellFunction(ns+"-write", script), ot.Task(ns+"-write", ns+"-write"),
		ot.ShellFunction(ns+"-other", "true"), ot.Task(ns+"-other", ns+"-other"))
	ot.Initialized(t, c, repo)
	ot.Start(t, env, ns, controllers.Config{})

	session := func(name string) *v1alpha1.RestoreSession {
		return &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       v1alpha1.RestoreSessionSpec{RestoreTargetSpec: target("a", ns+"-write"), Repository: v1alpha1.ObjectRef{Name: "repo"}},
		}
	}
	r1, r2 := session("first"), session("second")
	batch := &v1alpha1.RestoreBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "batch"},
		Spec: v1alpha1.RestoreBatchSpec{
			Repository: v1alpha1.ObjectRef{Name: "repo"},
			Members: []v1alpha1.RestoreBatchMember{
				{RestoreTargetSpec: target("b", ns+"-other")},
				{RestoreTargetSpec: target("a", ns+"-write")},
			},
		},
	}
	ot.Create(t, c, r1, r2, batch)
	for _, x := range []struct {
		obj    client.Object
		status func() v1alpha1.RestoreSessionStatus
	}{
		{r1, func() v1alpha1.RestoreSessionStatus { return r1.Status }},
		{r2, func() v1alpha1.RestoreSessionStatus { return r2.Status }},
		{batch, func() v1alpha1.RestoreSessionStatus { return batch.Status }},
	} {
		waitRestore(t, x.obj, x.status, v1alpha1.RestoreSucceeded)
	}
	ot.WaitEvent(t, c, ns, string(v1alpha1.RestorePending), "target AppBinding/a is being restored by", 2)
}

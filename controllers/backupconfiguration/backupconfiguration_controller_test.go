package backupconfiguration_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/backupconfiguration"
	"github.com/stashflow/stashflow/controllers/backupsession"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/controllers/resolve"
)

func appBindingTarget(name string) *v1alpha1.BackupTarget {
	return &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "stashflow.dev/v1alpha1", Kind: "AppBinding", Name: name}}
}

func sessionsOf(t *testing.T, ns, invoker string) []v1alpha1.BackupSession {
	t.Helper()
	list := &v1alpha1.BackupSessionList{}
	if err := c.List(context.Background(), list, client.InNamespace(ns)); err != nil {
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

// TestSchedule runs a BackupConfiguration on "@every 2s" with a shell Task:
// sessions get the names of their slots, succeed, record Snapshots, and
// the history is pruned to the limit.
func TestSchedule(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"), ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"))
	ot.Start(t, env, ns, controllers.Config{})

	bc := &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: ns + "-backup"},
				Target: appBindingTarget("db"),
			},
			Repository:         v1alpha1.ObjectRef{Name: "repo"},
			Schedule:           "@every 2s",
			BackupHistoryLimit: ptr.To[int32](2),
		},
	}
	ot.Create(t, c, bc)
	if msg := ot.Get(c, ns, "nightly", bc); msg != "" {
		t.Fatal(msg)
	}
	created := bc.CreationTimestamp.Unix()
	slotName := regexp.MustCompile(`^nightly-(\d{10})$`)
	seen := map[string]bool{}
	succeeded := map[string]v1alpha1.BackupSession{}

	ot.Eventually(t, 25*time.Second, func() string {
		for _, s := range sessionsOf(t, ns, "nightly") {
			m := slotName.FindStringSubmatch(s.Name)
			if m == nil {
				t.Fatalf("session %s is not named <invoker>-<unix slot>", s.Name)
			}
			slot, _ := strconv.ParseInt(m[1], 10, 64)
			if (slot-created)%2 != 0 || slot <= created {
				t.Fatalf("session %s: slot %d is not creation (%d) + k*2s", s.Name, slot, created)
			}
			if s.Annotations[v1alpha1.AnnotationTrigger] != v1alpha1.TriggerSchedule || s.Labels[v1alpha1.LabelInvoker] != "nightly" {
				t.Fatalf("session %s: labels %v, annotations %v; want invoker and trigger=schedule", s.Name, s.Labels, s.Annotations)
			}
			seen[s.Name] = true
			if s.Status.Phase == v1alpha1.BackupSessionSucceeded {
				succeeded[s.Name] = s
			}
		}
		if len(succeeded) < 3 {
			return fmt.Sprintf("%d sessions succeeded, want 3", len(succeeded))
		}
		return ""
	})

	// Every succeeded session has its step, stats and Snapshot.
	for name, s := range succeeded {
		tg := s.Status.Targets
		if len(tg) != 1 || len(tg[0].Steps) != 1 || tg[0].Steps[0].Phase != v1alpha1.StepSucceeded || len(tg[0].Stats) != 1 {
			t.Errorf("session %s: targets = %+v, want one succeeded step and its stats", name, tg)
			continue
		}
		id := tg[0].Stats[0].SnapshotID
		snap := &v1alpha1.Snapshot{}
		if msg := ot.Get(c, ns, backupsession.SnapshotName("repo", id), snap); msg != "" {
			t.Errorf("session %s: %s", name, msg)
		} else if snap.Spec.Session != name {
			t.Errorf("snapshot %s: session = %q, want %q", snap.Name, snap.Spec.Session, name)
		}
	}

	// The history keeps the newest 2 finished sessions.
	ot.Eventually(t, 10*time.Second, func() string {
		var finished []string
		for _, s := range sessionsOf(t, ns, "nightly") {
			if s.Status.Phase == v1alpha1.BackupSessionSucceeded {
				finished = append(finished, s.Name)
			}
		}
		if len(finished) > 2 {
			return fmt.Sprintf("finished sessions %v, want at most 2", finished)
		}
		return ""
	})
	if len(seen) < 4 {
		t.Logf("sessions seen: %v", seen)
	}

	ot.Eventually(t, 5*time.Second, func() string {
		if msg := ot.Get(c, ns, "nightly", bc); msg != "" {
			return msg
		}
		st := bc.Status
		switch {
		case st.Phase != v1alpha1.InvokerReady:
			return fmt.Sprintf("phase = %s, want Ready", st.Phase)
		case st.NextBackupTime == nil || (st.NextBackupTime.Unix()-created)%2 != 0:
			return fmt.Sprintf("nextBackupTime = %v, want a slot", st.NextBackupTime)
		case st.LastBackupTime == nil:
			return "lastBackupTime is not set"
		case !conditions.IsTrue(st.Conditions, conditions.BackupHistoryCleaned):
			return fmt.Sprintf("conditions = %+v, want BackupHistoryCleaned", st.Conditions)
		}
		return ""
	})
	r := &v1alpha1.Repository{}
	if msg := ot.Get(c, ns, "repo", r); msg != "" {
		t.Fatal(msg)
	}
	if !conditions.IsTrue(r.Status.Conditions, conditions.Initialized) {
		t.Errorf("repository conditions = %+v, want Initialized by the Repository controller before the first session", r.Status.Conditions)
	}

	// Paused: no new session.
	if err := c.Patch(context.Background(), bc, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"paused":true}}`))); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 5*time.Second, func() string {
		_ = ot.Get(c, ns, "nightly", bc)
		if bc.Status.NextBackupTime != nil {
			return "nextBackupTime is still set on a paused configuration"
		}
		return ""
	})
	before := len(sessionsOf(t, ns, "nightly"))
	time.Sleep(3 * time.Second)
	for _, s := range sessionsOf(t, ns, "nightly") {
		if !seen[s.Name] && s.CreationTimestamp.After(time.Now().Add(-2*time.Second)) {
			t.Errorf("session %s was created while paused (%d before)", s.Name, before)
		}
	}
}

// TestInvalidReferences checks that every broken reference ends in a
// condition that says what is wrong.
func TestInvalidReferences(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	other := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	foreign, foreignSecret := ot.Repository(other, "foreign", t.TempDir())
	// Shared with every namespace, and with the namespaces a selector
	// matches: one that matches ns, one that does not.
	shared, sharedSecret := ot.Repository(other, "shared", t.TempDir())
	shared.Spec.UsagePolicy = &v1alpha1.UsagePolicy{AllowedNamespaces: v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromAll}}
	selected, selectedSecret := ot.Repository(other, "selected", t.TempDir())
	selected.Spec.UsagePolicy = &v1alpha1.UsagePolicy{AllowedNamespaces: v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSelector,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}}
	unselected, unselectedSecret := ot.Repository(other, "unselected", t.TempDir())
	unselected.Spec.UsagePolicy = &v1alpha1.UsagePolicy{AllowedNamespaces: v1alpha1.AllowedNamespaces{From: v1alpha1.NamespacesFromSelector,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": other}}}}
	noSecret, _ := ot.Repository(ns, "no-secret", t.TempDir())
	// A Secret without RESTIC_PASSWORD, and an S3 Secret with an access key
	// id but no secret key: conditions name the key, never a value.
	noPassword, noPasswordSecret := ot.Repository(ns, "no-password", t.TempDir())
	noPasswordSecret.StringData = map[string]string{"OTHER": "value-7c1e"}
	halfS3, halfS3Secret := ot.Repository(ns, "half-s3", t.TempDir())
	halfS3.Spec.Backend.Local, halfS3.Spec.Backend.S3 = nil, &v1alpha1.S3Spec{Endpoint: "http://minio:9000", Bucket: "b"}
	halfS3Secret.StringData["AWS_ACCESS_KEY_ID"] = "key-id-value-d41f"
	checkedApp := ot.AppBinding(ns, "chk")
	checkedApp.Spec.Type = ns + "-chk"
	ot.Create(t, c, repo, secret, foreign, foreignSecret, noSecret, noPassword, noPasswordSecret, halfS3, halfS3Secret,
		shared, sharedSecret, selected, selectedSecret, unselected, unselectedSecret, ot.AppBinding(ns, "db"),
		ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-backup", ns+"-backup"), ot.Task(ns+"-broken", ns+"-missing-fn"),
		// Tasks of the catalog's Functions: repository-check alone backs up
		// nothing; after a backup step it is a Task that backs up.
		ot.Task(ns+"-check-only", "repository-check"), ot.Task(ns+"-backup-check", ns+"-backup", "repository-check"),
		ot.Task(ns+"-retention-only", "retention"),
		// An AppBinding whose type implies a Task that backs up nothing.
		checkedApp, ot.Task(ns+"-chk-backup", "repository-check"))
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	ot.Start(t, env, ns, controllers.Config{Builtins: resolve.Builtins{Functions: cat.Functions, Tasks: cat.Tasks}})

	tests := []struct {
		name      string
		mutate    func(*v1alpha1.BackupConfigurationSpec)
		phase     v1alpha1.BackupInvokerPhase
		condition string
		reason    conditions.Reason
		message   string
	}{
		{
			name:   "ready",
			mutate: func(*v1alpha1.BackupConfigurationSpec) {},
			phase:  v1alpha1.InvokerReady, condition: v1alpha1.ConditionReady, reason: conditions.ReasonReady,
			message: `sessions run on schedule "@every 1h"`,
		},
		{
			name:   "missing repository",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Repository.Name = "nope" },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionRepositoryFound, reason: conditions.ReasonRepositoryNotFound,
			message: "spec.repository: Repository " + ns + "/nope not found",
		},
		{
			name: "repository of another namespace",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) {
				s.Repository = v1alpha1.ObjectRef{Name: "foreign", Namespace: other}
			},
			phase: v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionRepositoryFound, reason: conditions.ReasonNamespaceNotAllowed,
			message: fmt.Sprintf("spec.repository: Repository %s/foreign does not allow namespace %q to use it (usagePolicy.allowedNamespaces.from is Same)", other, ns),
		},
		{
			name: "repository of another namespace that allows All",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) {
				s.Repository = v1alpha1.ObjectRef{Name: "shared", Namespace: other}
			},
			phase: v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionRepositoryFound, reason: conditions.ReasonNamespaceNotAllowed,
			message: fmt.Sprintf("spec.repository: Repository %s/shared is in another namespace than %s: its steps would run in namespace %s, where a pod can read only that namespace's Secrets, not the storage Secret %s/shared-secret", other, ns, ns, other),
		},
		{
			name: "repository of another namespace whose selector matches",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) {
				s.Repository = v1alpha1.ObjectRef{Name: "selected", Namespace: other}
			},
			phase: v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionRepositoryFound, reason: conditions.ReasonNamespaceNotAllowed,
			message: fmt.Sprintf("Repository %s/selected is in another namespace than %s", other, ns),
		},
		{
			name: "repository of another namespace whose selector does not match",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) {
				s.Repository = v1alpha1.ObjectRef{Name: "unselected", Namespace: other}
			},
			phase: v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionRepositoryFound, reason: conditions.ReasonNamespaceNotAllowed,
			message: fmt.Sprintf("Repository %s/unselected does not allow namespace %q to use it (usagePolicy.allowedNamespaces.from is Selector)", other, ns),
		},
		{
			name:   "missing storage secret",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Repository.Name = "no-secret" },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionBackendSecretFound, reason: conditions.ReasonSecretNotFound,
			message: "Secret " + ns + "/no-secret-secret not found",
		},
		{
			name:   "storage secret without RESTIC_PASSWORD",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Repository.Name = "no-password" },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionBackendSecretFound, reason: conditions.ReasonSecretKeyMissing,
			message: "spec.backend.storageSecretName of Repository " + ns + "/no-password: Secret key RESTIC_PASSWORD not found: Secret " + ns + "/no-password-secret has no key RESTIC_PASSWORD (the restic repository's password)",
		},
		{
			name:   "s3 storage secret without AWS_SECRET_ACCESS_KEY",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Repository.Name = "half-s3" },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionBackendSecretFound, reason: conditions.ReasonSecretKeyMissing,
			message: "Secret " + ns + "/half-s3-secret has no key AWS_SECRET_ACCESS_KEY (it comes with AWS_ACCESS_KEY_ID)",
		},
		{
			name:   "missing target",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Target = appBindingTarget("ghost") },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionTargetFound, reason: conditions.ReasonTargetNotFound,
			message: "spec.target.ref: AppBinding " + ns + "/ghost not found",
		},
		{
			name:   "missing task",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Task.Name = ns + "-nope" },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonTaskNotFound,
			message: "spec.task.name: Task " + ns + "-nope not found",
		},
		{
			name:   "missing function",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Task.Name = ns + "-broken" },
			phase:  v1alpha1.InvokerNotReady, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonFunctionNotFound,
			message: "Function " + ns + "-missing-fn not found",
		},
		{
			name:   "task of repository-check alone",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Task.Name = ns + "-check-only" },
			phase:  v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonInvalidSpec,
			message: `spec.task.name: Task "` + ns + `-check-only" has no step that backs up: none of its Functions (repository-check) declares the snapshotID output without reading ${RESTORE_SNAPSHOTS}`,
		},
		{
			name:   "task of retention alone",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Task.Name = ns + "-retention-only" },
			phase:  v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonInvalidSpec,
			message: `spec.task.name: Task "` + ns + `-retention-only" has no step that backs up: none of its Functions (retention)`,
		},
		{
			// The catalog's restore Task: its Function declares snapshotID
			// (the snapshot it restored) and reads ${RESTORE_SNAPSHOTS}.
			name:   "restore task",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Task.Name = "volume-restore" },
			phase:  v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonInvalidSpec,
			message: `spec.task.name: Task "volume-restore" has no step that backs up: none of its Functions (volume-restore)`,
		},
		{
			// No task set: the refusal names the target the Task came from.
			name: "inferred task of repository-check alone",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) {
				s.Task, s.Target = nil, appBindingTarget("chk")
			},
			phase: v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonInvalidSpec,
			message: `spec.target.ref (no task set: the Task is inferred from AppBinding "chk" of type "` + ns + `-chk"): Task "` + ns + `-chk-backup" has no step that backs up`,
		},
		{
			name:   "backup then repository-check",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) { s.Task.Name = ns + "-backup-check" },
			phase:  v1alpha1.InvokerReady, condition: v1alpha1.ConditionTaskResolved, reason: conditions.ReasonTaskResolved,
			message: "Task " + ns + "-backup-check and its Functions (repository-check, " + ns + "-backup) resolved",
		},
		{
			name: "param no function uses",
			mutate: func(s *v1alpha1.BackupConfigurationSpec) {
				s.Task.Params = []v1alpha1.Param{{Name: "TYPO", Value: "x"}}
			},
			phase: v1alpha1.InvokerInvalid, condition: v1alpha1.ConditionReady, reason: conditions.ReasonInvalidSpec,
			message: `param "TYPO" is not used by any Function`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bc := &v1alpha1.BackupConfiguration{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("bc-%d", i)},
				Spec: v1alpha1.BackupConfigurationSpec{
					BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
						Task:   &v1alpha1.TaskRef{Name: ns + "-backup"},
						Target: appBindingTarget("db"),
					},
					Repository: v1alpha1.ObjectRef{Name: "repo"},
					Schedule:   "@every 1h",
				},
			}
			tt.mutate(&bc.Spec)
			ot.Create(t, c, bc)
			ot.Eventually(t, 10*time.Second, func() string {
				if msg := ot.Get(c, ns, bc.Name, bc); msg != "" {
					return msg
				}
				cond := conditions.Get(bc.Status.Conditions, tt.condition)
				switch {
				case bc.Status.Phase != tt.phase:
					return fmt.Sprintf("phase = %s, want %s (conditions %+v)", bc.Status.Phase, tt.phase, bc.Status.Conditions)
				case cond == nil:
					return fmt.Sprintf("no %s condition in %+v", tt.condition, bc.Status.Conditions)
				case cond.Reason != string(tt.reason) || !strings.Contains(cond.Message, tt.message):
					return fmt.Sprintf("%s = %s %q, want %s containing %q", tt.condition, cond.Reason, cond.Message, tt.reason, tt.message)
				case cond.ObservedGeneration != bc.Generation:
					return fmt.Sprintf("%s observedGeneration = %d, want %d", tt.condition, cond.ObservedGeneration, bc.Generation)
				case strings.Contains(cond.Message, "value-7c1e") || strings.Contains(cond.Message, "key-id-value-d41f"):
					return fmt.Sprintf("%s shows a Secret value: %q", tt.condition, cond.Message)
				}
				ready := conditions.Get(bc.Status.Conditions, v1alpha1.ConditionReady)
				if tt.phase != v1alpha1.InvokerReady && (ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, tt.message)) {
					return fmt.Sprintf("Ready = %+v, want False with the message", ready)
				}
				return ""
			})
		})
	}
}

// TestBatchMemberWithoutBackupStep: a BackupBatch member whose Task backs
// up nothing (the catalog's repository-check alone) is refused on its own
// member status, naming the member's task field, and the batch is Invalid;
// the other member stays Ready.
func TestBatchMemberWithoutBackupStep(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "a"), ot.AppBinding(ns, "b"),
		ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-ok", ns+"-backup"), ot.Task(ns+"-check", "repository-check"))
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	ot.Start(t, env, ns, controllers.Config{Builtins: resolve.Builtins{Functions: cat.Functions, Tasks: cat.Tasks}})
	member := func(target, task string) v1alpha1.BackupBatchMember {
		return v1alpha1.BackupBatchMember{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
			Task: &v1alpha1.TaskRef{Name: task}, Target: appBindingTarget(target),
		}}
	}
	bb := &v1alpha1.BackupBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "batch"},
		Spec: v1alpha1.BackupBatchSpec{
			Repository: v1alpha1.ObjectRef{Name: "repo"},
			Paused:     true,
			Members:    []v1alpha1.BackupBatchMember{member("a", ns+"-ok"), member("b", ns+"-check")},
		},
	}
	ot.Create(t, c, bb)
	want := `spec.members[1].task.name: Task "` + ns + `-check" has no step that backs up: none of its Functions (repository-check)`
	ot.Eventually(t, 10*time.Second, func() string {
		if msg := ot.Get(c, ns, bb.Name, bb); msg != "" {
			return msg
		}
		if bb.Status.Phase != v1alpha1.InvokerInvalid || len(bb.Status.Members) != 2 ||
			bb.Status.Members[0].Phase != v1alpha1.InvokerReady || bb.Status.Members[1].Phase != v1alpha1.InvokerInvalid {
			return fmt.Sprintf("status = %+v, want Invalid, member 0 Ready, member 1 Invalid", bb.Status)
		}
		cond := conditions.Get(bb.Status.Members[1].Conditions, v1alpha1.ConditionTaskResolved)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != string(conditions.ReasonInvalidSpec) || !strings.Contains(cond.Message, want) {
			return fmt.Sprintf("member 1 TaskResolved = %+v, want False, InvalidSpec, containing %q", cond, want)
		}
		ready := conditions.Get(bb.Status.Conditions, v1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, want) {
			return fmt.Sprintf("Ready = %+v, want False with the message", ready)
		}
		return ""
	})
}

// TestBatch runs BackupBatches of two members, one of which fails, in
// sequence and in parallel. Hooks are not part of it: hook steps run
// `stashflow fn hook`, which the test binary is not.
func TestBatch(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "a"), ot.AppBinding(ns, "b"),
		ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-ok", ns+"-backup"),
		ot.ShellFunction(ns+"-fail", "sleep 1.2; echo 'cannot reach b' >&2; exit 1", "snapshotID"), ot.Task(ns+"-fail", ns+"-fail"))
	ot.Start(t, env, ns, controllers.Config{})

	member := func(target, task string) v1alpha1.BackupBatchMember {
		return v1alpha1.BackupBatchMember{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
			Task: &v1alpha1.TaskRef{Name: task}, Target: appBindingTarget(target),
		}}
	}
	for _, order := range []v1alpha1.ExecutionOrder{v1alpha1.Sequential, v1alpha1.Parallel} {
		t.Run(string(order), func(t *testing.T) {
			t.Parallel()
			name := strings.ToLower(string(order))
			bb := &v1alpha1.BackupBatch{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Spec: v1alpha1.BackupBatchSpec{
					Repository:     v1alpha1.ObjectRef{Name: "repo"},
					Paused:         true,
					ExecutionOrder: order,
					Members:        []v1alpha1.BackupBatchMember{member("b", ns+"-fail"), member("a", ns+"-ok")},
				},
			}
			ot.Create(t, c, bb)
			ot.Eventually(t, 10*time.Second, func() string {
				if msg := ot.Get(c, ns, name, bb); msg != "" {
					return msg
				}
				if bb.Status.Phase != v1alpha1.InvokerReady || len(bb.Status.Members) != 2 || bb.Status.Members[1].Phase != v1alpha1.InvokerReady {
					return fmt.Sprintf("status = %+v, want Ready with two Ready members", bb.Status)
				}
				return ""
			})
			// Trigger by annotation: the session is named after its value.
			if err := c.Patch(context.Background(), bb, client.RawPatch("application/merge-patch+json",
				[]byte(`{"metadata":{"annotations":{"stashflow.dev/trigger":"now"}}}`))); err != nil {
				t.Fatal(err)
			}
			var bs v1alpha1.BackupSession
			ot.Eventually(t, 15*time.Second, func() string {
				ss := sessionsOf(t, ns, name)
				if len(ss) != 1 {
					return fmt.Sprintf("%d sessions, want 1", len(ss))
				}
				bs = ss[0]
				if bs.Status.Phase != v1alpha1.BackupSessionFailed {
					return fmt.Sprintf("session %s is %s, want Failed", bs.Name, bs.Status.Phase)
				}
				return ""
			})
			if !strings.HasPrefix(bs.Name, name+"-manual-") || bs.Annotations[v1alpha1.AnnotationTrigger] != v1alpha1.TriggerManual {
				t.Errorf("session %s (%v), want a manual session", bs.Name, bs.Annotations)
			}
			tg := bs.Status.Targets
			if len(tg) != 2 || tg[0].Phase != v1alpha1.TargetFailed || tg[1].Phase != v1alpha1.TargetSucceeded {
				t.Fatalf("targets = %+v, want b Failed and a Succeeded", tg)
			}
			if !strings.Contains(bs.Status.Message, "target AppBinding/b") || !strings.Contains(bs.Status.Message, "cannot reach b") {
				t.Errorf("message = %q, want it to name target b and its error", bs.Status.Message)
			}
			bStep, aStep := tg[0].Steps[0], tg[1].Steps[0]
			if order == v1alpha1.Sequential && aStep.StartedAt.Before(bStep.FinishedAt) {
				t.Errorf("sequential: a started at %v, before b finished at %v", aStep.StartedAt, bStep.FinishedAt)
			}
			if order == v1alpha1.Parallel && !aStep.StartedAt.Before(bStep.FinishedAt) {
				t.Errorf("parallel: a started at %v, after b finished at %v", aStep.StartedAt, bStep.FinishedAt)
			}
			if len(tg[1].Stats) != 1 || tg[1].Stats[0].SnapshotID == "" {
				t.Errorf("stats of a = %+v, want its snapshot", tg[1].Stats)
			}
			// The annotation is consumed.
			ot.Eventually(t, 5*time.Second, func() string {
				_ = ot.Get(c, ns, name, bb)
				if _, ok := bb.Annotations[v1alpha1.AnnotationTrigger]; ok {
					return "the trigger annotation is still there"
				}
				return ""
			})
		})
	}
}

// TestOperatorRestart stops the operator while a local session runs and
// starts it again: the session ends Unknown with the reason, and its slot
// gets no second session.
func TestOperatorRestart(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", t.TempDir())
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"),
		ot.ShellFunction(ns+"-sleep", "sleep 30", "snapshotID"), ot.Task(ns+"-sleep", ns+"-sleep"))
	op := ot.Start(t, env, ns, controllers.Config{})

	bc := &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slow"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task: &v1alpha1.TaskRef{Name: ns + "-sleep"}, Target: appBindingTarget("db"),
			},
			Repository:         v1alpha1.ObjectRef{Name: "repo"},
			Schedule:           "@every 4s",
			BackupHistoryLimit: ptr.To[int32](10),
		},
	}
	ot.Create(t, c, bc)
	var first v1alpha1.BackupSession
	ot.Eventually(t, 15*time.Second, func() string {
		ss := sessionsOf(t, ns, "slow")
		if len(ss) == 0 || ss[0].Status.Phase != v1alpha1.BackupSessionRunning {
			return fmt.Sprintf("sessions %+v, want one Running", ss)
		}
		first = ss[0]
		return ""
	})
	op.Stop()
	ot.Start(t, env, ns, controllers.Config{})

	ot.Eventually(t, 15*time.Second, func() string {
		got := &v1alpha1.BackupSession{}
		if msg := ot.Get(c, ns, first.Name, got); msg != "" {
			return msg
		}
		if got.UID != first.UID {
			return "the session was replaced"
		}
		if got.Status.Phase != v1alpha1.BackupSessionUnknown || got.Status.Reason != string(conditions.ReasonRunLost) || got.Status.Message != engine.LostOnRestart {
			return fmt.Sprintf("session %s: %s %s %q, want Unknown RunLost %q", got.Name, got.Status.Phase, got.Status.Reason, got.Status.Message, engine.LostOnRestart)
		}
		return ""
	})
	// Later slots go on; no slot has two sessions.
	ot.Eventually(t, 15*time.Second, func() string {
		ss := sessionsOf(t, ns, "slow")
		if len(ss) < 2 {
			return fmt.Sprintf("%d sessions, want a second slot's", len(ss))
		}
		return ""
	})
	slots := map[string]string{}
	for _, s := range sessionsOf(t, ns, "slow") {
		slot := s.Annotations[backupconfiguration.AnnotationScheduleTime]
		if other, dup := slots[slot]; dup {
			t.Errorf("slot %s has two sessions: %s and %s", slot, other, s.Name)
		}
		slots[slot] = s.Name
	}
}

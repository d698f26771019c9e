package repository

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/internal/names"
	"github.com/stashflow/stashflow/controllers/snapshot"
	"github.com/stashflow/stashflow/translators"
)

// reconcileSecret checks that the storage Secret exists: without it no run
// can open the repository, and the conditions say so.
func (r *Reconciler) reconcileSecret(ctx context.Context, s *scope) (ctrl.Result, error) {
	repo := s.repo
	key := types.NamespacedName{Namespace: repo.Namespace, Name: repo.Spec.Backend.StorageSecretName}
	err := r.APIReader.Get(ctx, key, &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}})
	switch {
	case apierrors.IsNotFound(err):
		msg := fmt.Sprintf("Repository %s/%s: Secret %s (spec.backend.storageSecretName) not found", repo.Namespace, repo.Name, key)
		st := &repo.Status
		conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionBackendSecretFound, conditions.ReasonSecretNotFound, msg)
		if !r.initialized(repo) {
			conditions.False(&st.Conditions, repo.Generation, conditions.Initialized, conditions.ReasonSecretNotFound, msg)
		}
		conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonSecretNotFound, msg)
		s.done = true
		return ctrl.Result{RequeueAfter: r.RetryDelay}, nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	conditions.True(&repo.Status.Conditions, repo.Generation, v1alpha1.ConditionBackendSecretFound, conditions.ReasonSecretFound,
		fmt.Sprintf("Secret %s found", key))
	return ctrl.Result{}, nil
}

// reconcileUsers finds the BackupConfigurations and BackupBatches that back
// up into the Repository (by the cache's InvokerRepository index, in every
// namespace the cache sees) and their sessions that ended.
func (r *Reconciler) reconcileUsers(ctx context.Context, s *scope) (ctrl.Result, error) {
	match := client.MatchingFields{index.InvokerRepository: s.repo.Namespace + "/" + s.repo.Name}
	configs := &v1alpha1.BackupConfigurationList{}
	if err := r.Client.List(ctx, configs, match); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the BackupConfigurations of the Repository: %w", err)
	}
	batches := &v1alpha1.BackupBatchList{}
	if err := r.Client.List(ctx, batches, match); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the BackupBatches of the Repository: %w", err)
	}
	type invoker struct{ ns, key string }
	var invokers []invoker
	for _, c := range configs.Items {
		invokers = append(invokers, invoker{c.Namespace, index.InvokerKey(v1alpha1.KindBackupConfiguration, c.Name)})
	}
	for _, b := range batches.Items {
		invokers = append(invokers, invoker{b.Namespace, index.InvokerKey(v1alpha1.KindBackupBatch, b.Name)})
	}
	s.backedUp = len(invokers) > 0
	for _, inv := range invokers {
		sessions := &v1alpha1.BackupSessionList{}
		if err := r.Client.List(ctx, sessions, client.InNamespace(inv.ns), client.MatchingFields{index.SessionInvoker: inv.key}); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing the sessions of %s: %w", inv.key, err)
		}
		for i := range sessions.Items {
			bs := &sessions.Items[i]
			if end := sessionEnd(bs); !end.IsZero() {
				s.ended = append(s.ended, endedSession{uid: bs.UID, end: end})
			}
			if !bs.Status.Phase.IsFinal() && bs.Status.Workflow != nil {
				s.using = append(s.using, "BackupSession "+bs.Namespace+"/"+bs.Name)
			}
		}
	}
	return ctrl.Result{}, r.restoresUsing(ctx, s)
}

// restoresUsing adds the RestoreSessions and RestoreBatches that restore
// from the Repository now to s.using.
func (r *Reconciler) restoresUsing(ctx context.Context, s *scope) error {
	uses := func(ref v1alpha1.ObjectRef, ns string, st *v1alpha1.RestoreSessionStatus) bool {
		return ref.Name == s.repo.Name && ref.NamespaceOr(ns) == s.repo.Namespace && !st.Phase.IsFinal() && st.Workflow != nil
	}
	sessions := &v1alpha1.RestoreSessionList{}
	if err := r.Client.List(ctx, sessions); err != nil {
		return fmt.Errorf("listing RestoreSessions: %w", err)
	}
	for i := range sessions.Items {
		rs := &sessions.Items[i]
		if uses(rs.Spec.Repository, rs.Namespace, &rs.Status) {
			s.using = append(s.using, "RestoreSession "+rs.Namespace+"/"+rs.Name)
		}
	}
	batches := &v1alpha1.RestoreBatchList{}
	if err := r.Client.List(ctx, batches); err != nil {
		return fmt.Errorf("listing RestoreBatches: %w", err)
	}
	for i := range batches.Items {
		rb := &batches.Items[i]
		if uses(rb.Spec.Repository, rb.Namespace, &rb.Status) {
			s.using = append(s.using, "RestoreBatch "+rb.Namespace+"/"+rb.Name)
		}
	}
	return nil
}

// maxForgetPerRun bounds the snapshots one run forgets; the next run
// forgets the rest.
const maxForgetPerRun = 100

// reconcileForgets finds the deleted Snapshot objects whose snapshot the
// next run forgets; while a session uses the Repository they wait, and
// say so.
func (r *Reconciler) reconcileForgets(ctx context.Context, s *scope) (ctrl.Result, error) {
	objs, err := snapshot.Of(ctx, r.Client, s.repo.Namespace, s.repo.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	pending, orphans := snapshot.Pending(s.repo, objs)
	for _, o := range orphans {
		// Deleted with an earlier Repository of this name: forget nothing.
		if err := snapshot.Release(ctx, r.Client, o); err != nil {
			return ctrl.Result{}, err
		}
	}
	if len(pending) == 0 {
		return ctrl.Result{}, nil
	}
	if r.terminating(ctx, s.repo.Namespace) {
		// Deleted with their namespace: nobody asked to forget them.
		return ctrl.Result{}, r.mirror.ReleaseAll(ctx, s.repo.Namespace, s.repo.Name, true)
	}
	if len(s.using) > 0 {
		why := fmt.Sprintf("waits: %s uses Repository %s/%s; it runs once no session uses it", strings.Join(s.using, ", "), s.repo.Namespace, s.repo.Name)
		return ctrl.Result{RequeueAfter: waitPoll}, r.mirror.Wait(ctx, pending, conditions.ReasonRepositoryInUse, why)
	}
	for _, p := range pending[:min(len(pending), maxForgetPerRun)] {
		s.forget = append(s.forget, p.Spec.SnapshotID)
	}
	return ctrl.Result{}, r.mirror.Wait(ctx, pending, conditions.ReasonForgetPending,
		fmt.Sprintf("is done by the next run of Repository %s/%s", s.repo.Namespace, s.repo.Name))
}

// sessionEnd is when a session that ran ended (its creation plus its
// duration, to the second), or zero.
func sessionEnd(bs *v1alpha1.BackupSession) time.Time {
	if !bs.Status.Phase.IsFinal() || bs.Status.Workflow == nil {
		return time.Time{}
	}
	d, err := time.ParseDuration(bs.Status.SessionDuration)
	if err != nil {
		return time.Time{}
	}
	return bs.CreationTimestamp.Add(d)
}

// reconcileRun follows the run named in status.workflow: it submits it
// (again: submission is idempotent, and the name was written before the
// first), and when it ends writes its outcome. The run is forgotten, and
// its name remembered as done, once that outcome is in the API server
// (Reconcile's deferred patch): a reconcile that reads an older copy of the
// Repository from the cache then neither starts a done run again nor loses
// its outcome.
func (r *Reconciler) reconcileRun(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := &s.repo.Status
	if st.Workflow == nil {
		return ctrl.Result{}, nil
	}
	key := client.ObjectKeyFromObject(s.repo)
	if r.cov.done(key, s.repo.UID, st.Workflow.Name) {
		s.done = true // a stale read: the patch that ended the run brings a fresh one
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	r.cov.commit(key, st.Workflow.Name)
	create := s.backedUp
	s.check = checking(s.repo)
	work := translators.RepositoryWork{Create: create, Forget: s.forget}
	if s.check {
		work = checkWork(s.repo)
	}
	g, err := translators.RepositoryRun(s.repo, st.Workflow.Name, work, r.Translate)
	var ref *v1alpha1.WorkflowRef
	if err == nil {
		ref, err = r.Engine.Submit(ctx, s.repo, g)
		if err != nil && !errors.Is(err, engine.ErrInvalidGraph) {
			return ctrl.Result{}, fmt.Errorf("submitting the Repository's run: %w", err)
		}
	}
	if err != nil { // retrying the same run cannot help
		r.failed(s, err.Error())
		s.endRun()
		return ctrl.Result{RequeueAfter: r.RetryDelay}, nil
	}
	st.Workflow.UIURL = ref.UIURL
	run, err := r.Engine.Status(ctx, s.repo, ref, runPlan(g))
	if lost := engine.AsLost(err); lost != nil {
		return r.rerun(ctx, s, lost.Message), nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if !run.Finished {
		if !s.check {
			r.running(s, create)
		}
		s.done = true
		return ctrl.Result{RequeueAfter: runPoll}, nil
	}
	if s.check {
		r.checkFinished(ctx, s, run)
	} else if err := r.finished(ctx, s, run); err != nil {
		// The run stays: its outcome is read again and mirrored next time.
		return ctrl.Result{}, err
	}
	s.endRun()
	return ctrl.Result{}, nil
}

// failed writes why the run in status.workflow failed.
func (r *Reconciler) failed(s *scope, cause string) {
	if s.check {
		r.checkFailed(s, cause)
		return
	}
	r.runFailed(s, cause)
}

// endRun clears status.workflow; the run is forgotten once that is written.
func (s *scope) endRun() {
	s.endedRun = s.repo.Status.Workflow.Name
	s.repo.Status.Workflow = nil
}

// reconcileNextRun starts the next run when one is due: the repository is
// not known to be initialised (or its backend changed), a backup into it
// ended that the last run did not read (coverage), or RefreshInterval
// passed. The run's
// name is written first; the next reconcile submits it.
func (r *Reconciler) reconcileNextRun(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := &s.repo.Status
	if st.Workflow != nil {
		return ctrl.Result{}, nil
	}
	wait := r.nextRun(s)
	if wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if s.specChanged && st.ObservedGeneration != 0 {
		conditions.Unknown(&st.Conditions, s.repo.Generation, conditions.Initialized, conditions.ReasonInitializing,
			"the Repository's spec changed: its backend is opened again")
	}
	key := client.ObjectKeyFromObject(s.repo)
	name := r.runName(s, runRefresh)
	st.Workflow = &v1alpha1.WorkflowRef{Engine: r.Engine.Name(), Name: name}
	now := metav1.NewTime(s.now)
	r.cov.propose(key, s.repo.UID, name, s.ended, lastRun(st))
	st.RefreshTime = &now
	s.startedRun = true
	r.running(s, s.backedUp)
	ctrl.LoggerFrom(ctx).Info("Repository run started", "workflow", name, "engine", r.Engine.Name(), "create", s.backedUp)
	return ctrl.Result{}, nil
}

// The kinds of a Repository's runs, the first word of their names'
// suffix: <repository>-repository-…, -check-…, -wipe-….
const (
	runRefresh = "repository"
	runCheck   = "check"
	runWipe    = "wipe"
)

// runName names the next run of kind: a name no earlier run of this
// Repository had (nor the run in status.workflow). A run remembered as done
// under the same name would be taken for a stale read forever (two runs can
// start in one millisecond, e.g. before and after the first
// BackupConfiguration into a new Repository is seen).
func (r *Reconciler) runName(s *scope, kind string) string {
	key := client.ObjectKeyFromObject(s.repo)
	suffix := kind + "-" + strconv.FormatInt(s.now.UnixMilli(), 36)
	name := names.Join(s.repo.Name, suffix)
	for i := 1; r.cov.done(key, s.repo.UID, name) || name == nameOf(s.repo.Status.Workflow); i++ {
		name = names.Join(s.repo.Name, suffix+"-"+strconv.Itoa(i))
	}
	return name
}

// rerun replaces the run in status.workflow, which the engine lost before
// it reported an outcome (its Workflow deleted while it ran, or while the
// operator was down; the local run stopped with the operator), by a new
// run of the same kind. A run that is gone says nothing about the
// repository: no condition turns False, the conditions that name the run
// name the new one, and an event (RunLost) and a log line say what was
// gone. A wipe is run again, never taken as done. The lost run is forgotten
// once the new name is written.
func (r *Reconciler) rerun(ctx context.Context, s *scope, cause string) ctrl.Result {
	repo, st := s.repo, &s.repo.Status
	gone := st.Workflow.Name
	kind := runRefresh
	switch {
	case repo.DeletionTimestamp != nil:
		kind = runWipe
	case s.check:
		kind = runCheck
	}
	name := r.runName(s, kind)
	s.endedRun, s.startedRun, s.done = gone, true, true
	st.Workflow = &v1alpha1.WorkflowRef{Engine: r.Engine.Name(), Name: name}
	switch kind {
	case runWipe:
		r.wipes.Store(repo.UID, name)
		conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonWipingOut,
			fmt.Sprintf("Repository %s/%s was deleted with wipeOut: run %s deletes its data at %s", repo.Namespace, repo.Name, name,
				translators.ResticRepository(&repo.Spec.Backend)))
	case runCheck:
		conditions.Unknown(&st.Conditions, repo.Generation, v1alpha1.ConditionIntegrityVerified, conditions.ReasonChecking,
			fmt.Sprintf("run %s on the %s engine runs restic check%s; sessions into the Repository wait until it ends (restic check holds an exclusive lock)",
				name, st.Workflow.Engine, subsetNote(repo)))
	default:
		now := metav1.NewTime(s.now)
		st.RefreshTime = &now
		r.cov.propose(client.ObjectKeyFromObject(repo), repo.UID, name, s.ended, lastRun(st))
		r.running(s, s.backedUp)
	}
	msg := fmt.Sprintf("Repository %s/%s: run %s is gone without an outcome (%s); run %s does its work again", repo.Namespace, repo.Name, gone, cause, name)
	r.event(repo, false, conditions.ReasonRunLost, msg)
	ctrl.LoggerFrom(ctx).Info("Repository run gone without an outcome, run again", "workflow", gone, "next", name, "cause", cause)
	return ctrl.Result{}
}

// nextRun returns how long until the next run is due, 0 if it is now.
func (r *Reconciler) nextRun(s *scope) time.Duration {
	st := &s.repo.Status
	if st.RefreshTime == nil || s.specChanged {
		return 0
	}
	since := s.now.Sub(st.RefreshTime.Time)
	init := conditions.Get(st.Conditions, conditions.Initialized)
	ready := conditions.Get(st.Conditions, v1alpha1.ConditionReady)
	switch {
	case ready != nil && ready.Status == metav1.ConditionFalse && (ready.Reason == string(conditions.ReasonOpenFailed) || ready.Reason == string(conditions.ReasonRefreshFailed)):
		// The last run failed: try again after RetryDelay.
		return max(0, r.RetryDelay-since)
	case len(s.forget) > 0:
		return 0 // a deleted Snapshot waits to be forgotten
	case init != nil && init.Reason == string(conditions.ReasonNotInitialized) && s.backedUp:
		return 0 // a backup uses it now: initialise it
	case init == nil || init.Status != metav1.ConditionTrue && init.Reason != string(conditions.ReasonNotInitialized):
		return 0
	case r.cov.uncovered(client.ObjectKeyFromObject(s.repo), s.repo.UID, s.ended, lastRun(st)) > 0:
		// A backup ended that the last run did not read.
		return 0
	}
	return max(0, r.RefreshInterval-since)
}

func lastRun(st *v1alpha1.RepositoryStatus) time.Time {
	if st.RefreshTime == nil {
		return time.Time{}
	}
	return st.RefreshTime.Time
}

// running says, while the first run goes on, what it does.
func (r *Reconciler) running(s *scope, create bool) {
	repo, st := s.repo, &s.repo.Status
	if c := conditions.Get(st.Conditions, conditions.Initialized); c != nil && c.Status != metav1.ConditionUnknown {
		// A refresh (the Repository stays usable meanwhile), or a retry
		// after a failure, which stays visible until the retry ends.
		return
	}
	what := "opens the repository"
	if create {
		what = "opens the repository and initialises it if the backend holds none"
	}
	msg := fmt.Sprintf("run %s on the %s engine %s", st.Workflow.Name, st.Workflow.Engine, what)
	conditions.Unknown(&st.Conditions, repo.Generation, conditions.Initialized, conditions.ReasonInitializing, msg)
	conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonInitializing, msg)
}

// initialized says whether the Repository's Initialized condition is True
// for its current spec.
func (r *Reconciler) initialized(repo *v1alpha1.Repository) bool {
	c := conditions.Get(repo.Status.Conditions, conditions.Initialized)
	return c != nil && c.Status == metav1.ConditionTrue
}

// event records an event on the Repository.
func (r *Reconciler) event(repo *v1alpha1.Repository, warning bool, reason conditions.Reason, msg string) {
	if r.Recorder == nil {
		return
	}
	t := corev1.EventTypeNormal
	if warning {
		t = corev1.EventTypeWarning
	}
	r.Recorder.Event(repo, t, string(reason), conditions.Truncate(msg, 1024))
}

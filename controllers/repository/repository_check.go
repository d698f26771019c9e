package repository

import (
	"context"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/schedule"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// Integrity checks. A check is a run like the refresh run (status.workflow,
// one run at a time per Repository) whose step is `stashflow fn
// repository-check`. It starts when a slot of spec.integrityCheck.schedule
// is due or when the stashflow.dev/check-requested annotation holds a value
// status.checkRequest has not answered, once the repository is initialised
// and no session uses it.
//
// restic check takes an exclusive lock (restic 0.18
// cmd/restic/cmd_check.go: openWithExclusiveLock) and a backup or restore a
// shared one, so they cannot overlap: a check waits for the sessions that
// use the Repository to end, and sessions not yet submitted wait, Pending
// with reason Checking (ReadinessOf), while a check runs. A session that
// slips in between (a stale cache read) makes one of them meet the other's
// lock: a check that meets it fails to run (CheckFailed, tried again after
// RetryDelay), and nothing is taken for damage.

// checkTrigger is why a check is due.
type checkTrigger string

const (
	checkScheduled checkTrigger = "schedule"
	checkRequested checkTrigger = "requested"
	checkRetry     checkTrigger = "retry"
)

// checkInput is what the choice of the next check reads.
type checkInput struct {
	// schedule is spec.integrityCheck.schedule ("" for none).
	schedule string
	// anchor is the Repository's creation: no slot before it is due.
	anchor time.Time
	// last is status.lastIntegrityCheckTime (to the second), zero if none.
	last time.Time
	// requested is the annotation's value, answered status.checkRequest.
	requested, answered string
	// failed: the last check could not run; retryDelay after it starts it again.
	failed     bool
	retryDelay time.Duration
	now        time.Time
}

// checkDue says whether a check is due at in.now and why; if not, after how
// long to look again (0: no slot to wait for). A schedule robfig/cron
// cannot parse is an error.
func checkDue(in checkInput) (checkTrigger, time.Duration, error) {
	if in.requested != "" && in.requested != in.answered {
		return checkRequested, 0, nil
	}
	var wait time.Duration
	if in.failed && !in.last.IsZero() {
		if wait = in.last.Add(in.retryDelay).Sub(in.now); wait <= 0 {
			return checkRetry, 0, nil
		}
	}
	if in.schedule == "" {
		return "", wait, nil
	}
	sch, err := schedule.Parse(in.schedule)
	if err != nil {
		return "", 0, err
	}
	handled := time.Time{}
	if !in.last.IsZero() {
		// The status keeps whole seconds: the slot a check started in is handled.
		handled = in.last.Add(time.Second)
	}
	d := sch.Decide(schedule.Input{Anchor: in.anchor, Handled: handled, Now: in.now})
	if !d.Due.IsZero() {
		return checkScheduled, 0, nil
	}
	if !d.Next.IsZero() && (wait == 0 || d.Next.Sub(in.now) < wait) {
		wait = d.Next.Sub(in.now)
	}
	return "", wait, nil
}

// checking says whether the run in status.workflow is an integrity check.
func checking(repo *v1alpha1.Repository) bool {
	c := conditions.Get(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified)
	return repo.Status.Workflow != nil && c != nil && c.Reason == string(conditions.ReasonChecking)
}

// reconcileCheck starts an integrity check when one is due and the
// Repository has no run on the engine.
func (r *Reconciler) reconcileCheck(ctx context.Context, s *scope) (ctrl.Result, error) {
	repo, st := s.repo, &s.repo.Status
	if st.Workflow != nil || s.specChanged || !r.initialized(repo) {
		return ctrl.Result{}, nil
	}
	in := checkInput{anchor: repo.CreationTimestamp.Time, requested: repo.Annotations[v1alpha1.AnnotationCheckRequested],
		answered: st.CheckRequest, retryDelay: r.RetryDelay, now: s.now}
	if ic := repo.Spec.IntegrityCheck; ic != nil {
		in.schedule = ic.Schedule
	}
	if st.LastIntegrityCheckTime != nil {
		in.last = st.LastIntegrityCheckTime.Time
	}
	if c := conditions.Get(st.Conditions, v1alpha1.ConditionIntegrityVerified); c != nil {
		in.failed = c.Reason == string(conditions.ReasonCheckFailed)
	}
	trigger, wait, err := checkDue(in)
	if err != nil {
		msg := fmt.Sprintf("Repository %s/%s: spec.integrityCheck.schedule: %v", repo.Namespace, repo.Name, err)
		if conditions.Unknown(&st.Conditions, repo.Generation, v1alpha1.ConditionIntegrityVerified, conditions.ReasonInvalidSchedule, msg) {
			r.event(repo, true, conditions.ReasonInvalidSchedule, msg)
		}
		return ctrl.Result{}, nil
	}
	if trigger == "" {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if len(s.using) > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("Integrity check waits for the sessions that use the Repository", "sessions", s.using)
		return ctrl.Result{RequeueAfter: waitPoll}, nil
	}
	name := r.runName(s, runCheck)
	st.Workflow = &v1alpha1.WorkflowRef{Engine: r.Engine.Name(), Name: name}
	now := metav1.NewTime(s.now)
	st.LastIntegrityCheckTime = &now
	if trigger == checkRequested {
		st.CheckRequest = in.requested
	}
	s.startedRun = true
	msg := fmt.Sprintf("run %s on the %s engine runs restic check%s; sessions into the Repository wait until it ends (restic check holds an exclusive lock)",
		name, st.Workflow.Engine, subsetNote(repo))
	conditions.Unknown(&st.Conditions, repo.Generation, v1alpha1.ConditionIntegrityVerified, conditions.ReasonChecking, msg)
	ctrl.LoggerFrom(ctx).Info("Repository integrity check started", "workflow", name, "trigger", string(trigger))
	return ctrl.Result{}, nil
}

// checkWork is the work of a check run of repo.
func checkWork(repo *v1alpha1.Repository) translators.RepositoryWork {
	c := &translators.RepositoryCheck{}
	if ic := repo.Spec.IntegrityCheck; ic != nil {
		c.ReadDataSubset = ic.ReadDataSubset
	}
	return translators.RepositoryWork{Check: c}
}

func subsetNote(repo *v1alpha1.Repository) string {
	if ic := repo.Spec.IntegrityCheck; ic != nil && ic.ReadDataSubset != "" {
		return ", reading " + ic.ReadDataSubset + " of the data"
	}
	return ""
}

// checkFinished writes the outcome of a check run that ended: integrity,
// the IntegrityVerified condition and the gauge (exportMetrics).
func (r *Reconciler) checkFinished(ctx context.Context, s *scope, run *engine.Run) {
	node := runNode(run)
	integrity, perr := strconv.ParseBool(node.Outputs[outputs.Integrity])
	switch {
	case run.Failure != "":
		r.checkFailed(s, run.Failure)
		return
	case node.Phase != pipeline.PhaseSucceeded:
		msg := node.Message
		if msg == "" {
			msg = fmt.Sprintf("the step ended %s", node.Phase)
		}
		r.checkFailed(s, msg)
		return
	case perr != nil:
		r.checkFailed(s, fmt.Sprintf("the step reported integrity %q", node.Outputs[outputs.Integrity]))
		return
	}
	repo, st := s.repo, &s.repo.Status
	st.Integrity = &integrity
	run0 := nameOf(st.Workflow)
	if integrity {
		conditions.True(&st.Conditions, repo.Generation, v1alpha1.ConditionIntegrityVerified, conditions.ReasonNoErrorsFound,
			fmt.Sprintf("restic check (run %s%s) found no error", run0, subsetNote(repo)))
		ctrl.LoggerFrom(ctx).Info("Repository integrity verified", "workflow", run0)
		return
	}
	msg := fmt.Sprintf("Repository %s/%s: restic check (run %s%s) found %s error(s) and %s broken pack(s) in the repository at %s; `restic check` shows them, `restic repair index` and `restic repair packs` repair what they can",
		repo.Namespace, repo.Name, run0, subsetNote(repo), orZero(node.Outputs[outputs.Errors]), orZero(node.Outputs[outputs.BrokenPacks]),
		translators.ResticRepository(&repo.Spec.Backend))
	conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionIntegrityVerified, conditions.ReasonErrorsFound, msg)
	r.event(repo, true, conditions.ReasonErrorsFound, msg)
	ctrl.LoggerFrom(ctx).Info("Repository damaged", "workflow", run0, "errors", node.Outputs[outputs.Errors], "brokenPacks", node.Outputs[outputs.BrokenPacks])
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// checkFailed writes why a check could not check the repository; the last
// result (status.integrity, the gauge) stays, and the check is tried again
// after RetryDelay.
func (r *Reconciler) checkFailed(s *scope, cause string) {
	repo, st := s.repo, &s.repo.Status
	msg := fmt.Sprintf("Repository %s/%s: the integrity check (run %s) could not check the repository at %s with Secret %s/%s, tried again in %s: %s",
		repo.Namespace, repo.Name, nameOf(st.Workflow), translators.ResticRepository(&repo.Spec.Backend), repo.Namespace,
		repo.Spec.Backend.StorageSecretName, r.RetryDelay, cause)
	conditions.Unknown(&st.Conditions, repo.Generation, v1alpha1.ConditionIntegrityVerified, conditions.ReasonCheckFailed, msg)
	r.event(repo, true, conditions.ReasonCheckFailed, msg)
}

package repository

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// reconcileDelete handles a deleted Repository. Without wipeOut its data
// stays in the backend: its Snapshot objects are released (deleting them
// forgets nothing) and the Repository goes. With wipeOut, once no session
// uses it, a run deletes the backend's data (repository-wipe); only when
// that succeeded are its Snapshots released and the Repository goes.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	repo, st := s.repo, &s.repo.Status
	if !controllerutil.ContainsFinalizer(repo, Finalizer) {
		s.gone = true
		return ctrl.Result{}, nil
	}
	key := engine.KeyOf(Kind, repo)
	if !repo.Spec.WipeOut {
		r.Engine.Forget(key) // a refresh or forget run in flight is stopped
		return ctrl.Result{}, r.release(ctx, s, "Repository deleted; its data stays in the backend (wipeOut is false)")
	}
	wiping := conditions.Get(st.Conditions, v1alpha1.ConditionReady)
	if st.Workflow != nil && (wiping == nil || wiping.Reason != string(conditions.ReasonWipingOut)) {
		// A refresh or forget run of the Repository is in flight: it ends
		// first (a wipe must not race a prune).
		run, err := r.Engine.Status(ctx, repo, st.Workflow, anyRunPlan)
		if err == nil && !run.Finished {
			return ctrl.Result{RequeueAfter: waitPoll}, nil
		}
		r.Engine.Forget(key)
		st.Workflow = nil
	}
	if len(s.using) > 0 {
		msg := fmt.Sprintf("Repository %s/%s was deleted with wipeOut: its data is deleted once no session uses it; %s uses it now",
			repo.Namespace, repo.Name, strings.Join(s.using, ", "))
		if conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonRepositoryInUse, msg) {
			r.event(repo, false, conditions.ReasonRepositoryInUse, msg)
		}
		return ctrl.Result{RequeueAfter: waitPoll}, nil
	}
	if st.Workflow == nil {
		if name, ok := r.wipes.Load(repo.UID); ok { // named by a reconcile whose status this read does not show yet
			st.Workflow = &v1alpha1.WorkflowRef{Engine: r.Engine.Name(), Name: name.(string)}
			return r.followWipe(ctx, s)
		}
		name := r.runName(s, runWipe)
		r.wipes.Store(repo.UID, name)
		st.Workflow = &v1alpha1.WorkflowRef{Engine: r.Engine.Name(), Name: name}
		msg := fmt.Sprintf("Repository %s/%s was deleted with wipeOut: run %s deletes its data at %s", repo.Namespace, repo.Name, name,
			translators.ResticRepository(&repo.Spec.Backend))
		conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonWipingOut, msg)
		r.event(repo, false, conditions.ReasonWipingOut, msg)
		ctrl.LoggerFrom(ctx).Info("Repository wipe started", "workflow", name)
	}
	return r.followWipe(ctx, s)
}

// anyRunPlan reads a run of any kind (only whether it finished matters).
var anyRunPlan = &v1alpha1.RunPlan{Steps: []v1alpha1.PlannedStep{
	{Name: translators.RefreshStep}, {Name: translators.CheckStep}, {Name: translators.WipeStep}}}

// runPlan is the plan a Repository run of graph g is read against: its
// step, and for a check or wipe run also translators.RefreshStep, the name
// their step had before it was named for its Function, so that such a run
// submitted by an older operator is read as it ran (runNode).
func runPlan(g *pipeline.Graph) *v1alpha1.RunPlan {
	plan := &v1alpha1.RunPlan{}
	for _, s := range g.Steps {
		plan.Steps = append(plan.Steps, v1alpha1.PlannedStep{Name: s.Name})
	}
	if len(g.Steps) == 1 && g.Steps[0].Name != translators.RefreshStep {
		plan.Steps = append(plan.Steps, v1alpha1.PlannedStep{Name: translators.RefreshStep})
	}
	return plan
}

// runNode is the status of a Repository run's one step: the first step of
// its plan (runPlan) that the engine reached, else the first.
func runNode(run *engine.Run) pipeline.NodeStatus {
	for _, n := range run.Nodes {
		if n.Phase != pipeline.PhasePending && n.Phase != pipeline.PhaseOmitted {
			return n
		}
	}
	if len(run.Nodes) > 0 {
		return run.Nodes[0]
	}
	return pipeline.NodeStatus{}
}

// followWipe submits the wipe run named in status.workflow and, when it
// ends, releases the Repository or says why it failed (and tries again).
func (r *Reconciler) followWipe(ctx context.Context, s *scope) (ctrl.Result, error) {
	repo, st := s.repo, &s.repo.Status
	key := engine.KeyOf(Kind, repo)
	g, err := translators.RepositoryRun(repo, st.Workflow.Name, translators.RepositoryWork{Wipe: true}, r.Translate)
	if err != nil {
		return ctrl.Result{}, err
	}
	ref, err := r.Engine.Submit(ctx, repo, g)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("submitting the Repository's wipe: %w", err)
	}
	run, err := r.Engine.Status(ctx, repo, ref, runPlan(g))
	failure := ""
	switch lost := engine.AsLost(err); {
	case lost != nil:
		// Gone before it said whether the data is deleted: run it again.
		return r.rerun(ctx, s, lost.Message), nil
	case err != nil:
		return ctrl.Result{}, err
	case !run.Finished:
		return ctrl.Result{RequeueAfter: waitPoll}, nil
	case run.Failure != "":
		failure = run.Failure
	case runNode(run).Phase != pipeline.PhaseSucceeded:
		failure = "the wipe step failed"
		if msg := runNode(run).Message; msg != "" {
			failure = msg
		}
	}
	r.Engine.Forget(key)
	if failure != "" {
		msg := fmt.Sprintf("Repository %s/%s: deleting its data (wipeOut) failed, tried again in %s: %s", repo.Namespace, repo.Name, r.RetryDelay, failure)
		conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonWipeOutFailed, msg)
		r.event(repo, true, conditions.ReasonWipeOutFailed, msg)
		r.wipes.CompareAndDelete(repo.UID, st.Workflow.Name)
		st.Workflow = nil
		return ctrl.Result{RequeueAfter: r.RetryDelay}, nil
	}
	defer r.wipes.Delete(repo.UID)
	return ctrl.Result{}, r.release(ctx, s, fmt.Sprintf("Repository deleted with wipeOut: run %s deleted its data at %s",
		st.Workflow.Name, translators.ResticRepository(&repo.Spec.Backend)))
}

// release lets the deleted Repository go: its Snapshot objects are
// released (their deletion forgets nothing), then its finalizer removed.
func (r *Reconciler) release(ctx context.Context, s *scope, msg string) error {
	repo := s.repo
	if err := r.mirror.ReleaseAll(ctx, repo.Namespace, repo.Name, false); err != nil {
		return err
	}
	base := repo.DeepCopy()
	controllerutil.RemoveFinalizer(repo, Finalizer)
	if err := r.Client.Patch(ctx, repo, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the Repository's finalizer: %w", err)
	}
	s.gone = true
	reason := conditions.ReasonWipedOut
	if !repo.Spec.WipeOut {
		reason = "Deleted"
	}
	r.event(repo, false, reason, msg)
	ctrl.LoggerFrom(ctx).Info("Repository released", "wipeOut", repo.Spec.WipeOut)
	return nil
}

// terminating says whether namespace is being deleted.
func (r *Reconciler) terminating(ctx context.Context, namespace string) bool {
	ns := &corev1.Namespace{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: namespace}, ns)
	return err == nil && ns.DeletionTimestamp != nil
}

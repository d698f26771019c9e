// Package engine is what the session controllers (BackupSession,
// RestoreSession, RestoreBatch) run their graphs on. An Engine submits a
// session's pipeline.Graph once, reports the per-step pipeline.NodeStatus,
// stops a run that passed its deadline, and makes the controller reconcile
// the session whenever the run changes:
//
//   - Argo renders the graph as a Workflow owned by the session (so it is
//     garbage-collected with it), creates it, and reads node statuses back
//     from the Workflow; the controller watches Workflows it owns.
//   - Local runs the graph in a goroutine of the operator with
//     pipeline/local, keeps the statuses in memory keyed by the session's
//     UID, and sends a generic event on a channel per session kind at every
//     step change.
//
// A run the engine does not know any more (the operator restarted during a
// local run, the Workflow was deleted) is reported as a *LostError, so that
// the session ends instead of waiting forever.
package engine

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/pipeline"
)

// Engine runs session graphs.
type Engine interface {
	// Name is the engine written into status.workflow.engine.
	Name() v1alpha1.Engine
	// Watch adds to a controller of owner's kind the watch that makes it
	// reconcile a session when its run changes.
	Watch(b *builder.Builder, owner client.Object) (*builder.Builder, error)
	// Submit starts g as the run of owner. It is idempotent: for a run it
	// already started for owner, it returns the same reference.
	Submit(ctx context.Context, owner client.Object, g *pipeline.Graph) (*v1alpha1.WorkflowRef, error)
	// Status reports the run of owner that ref names, one node status per
	// step of plan, the run record it was submitted with. A run the engine
	// lost is a *LostError.
	Status(ctx context.Context, owner client.Object, ref *v1alpha1.WorkflowRef, plan *v1alpha1.RunPlan) (*Run, error)
	// Stop asks the run to stop; steps still running end Failed and steps
	// not started end Omitted. It does not wait.
	Stop(ctx context.Context, owner client.Object, ref *v1alpha1.WorkflowRef, reason string) error
	// Forget drops what the engine keeps about the run of the session key
	// names, stopping it if it still runs: the session ended or was deleted.
	Forget(key Key)
}

// ErrInvalidGraph wraps the error of a graph the engine cannot run as
// written (e.g. a step without an image on Argo): retrying cannot help.
var ErrInvalidGraph = errors.New("the engine cannot run the workflow")

// Key names a session across kinds.
type Key struct {
	Kind string
	types.NamespacedName
}

// KeyOf returns the key of a session object of the given kind.
func KeyOf(kind string, obj client.Object) Key {
	return Key{Kind: kind, NamespacedName: client.ObjectKeyFromObject(obj)}
}

// Run is what an engine knows of one run.
type Run struct {
	// Nodes has one status per graph step, in graph order.
	Nodes []pipeline.NodeStatus
	// Finished is true once the run ended: every node is final, or the
	// engine gave up (Failure).
	Finished bool
	// Failure says why the engine could not run the graph at all (an
	// invalid graph, a volume without a host directory); empty otherwise.
	Failure string
}

// LostError says the engine does not know the run any more.
type LostError struct {
	// Reason is the session's reason, e.g. RunLost or WorkflowDeleted.
	Reason conditions.Reason
	// Message explains it to a person.
	Message string
	// Unknown is true when the run's outcome is unknown (it may have
	// finished), false when it certainly did not finish (deleted).
	Unknown bool
}

func (e *LostError) Error() string { return e.Message }

// AsLost returns err as a *LostError, or nil.
func AsLost(err error) *LostError {
	var l *LostError
	if errors.As(err, &l) {
		return l
	}
	return nil
}

// otherEngine is the LostError of a session that another engine ran.
func otherEngine(ref *v1alpha1.WorkflowRef, this v1alpha1.Engine) error {
	return &LostError{
		Reason:  conditions.ReasonRunLost,
		Message: fmt.Sprintf("the session ran on the %s engine, but the operator now runs the %s engine", ref.Engine, this),
		Unknown: true,
	}
}

// nodesInOrder returns one status per step of the plan, in its order: the
// known ones, and Pending for the others.
func nodesInOrder(plan *v1alpha1.RunPlan, known map[string]pipeline.NodeStatus) []pipeline.NodeStatus {
	out := make([]pipeline.NodeStatus, 0, len(plan.Steps))
	for i := range plan.Steps {
		name := plan.Steps[i].Name
		if st, ok := known[name]; ok {
			out = append(out, st)
			continue
		}
		out = append(out, pipeline.NodeStatus{Step: name, Phase: pipeline.PhasePending})
	}
	return out
}

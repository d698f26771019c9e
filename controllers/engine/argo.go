package engine

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/argo"
	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// ArgoOptions configure the Argo engine.
type ArgoOptions struct {
	// Client creates and patches Workflows and reads them through the cache.
	Client client.Client
	// APIReader reads a Workflow the cache does not hold yet.
	APIReader client.Reader
	// Scheme knows wfv1 and the session kinds (owner references).
	Scheme *runtime.Scheme
	// Image runs steps whose Function names no image (hooks).
	Image string
	// UIBaseURL, if set, fills status.workflow.uiURL with
	// <UIBaseURL>/workflows/<namespace>/<name>.
	UIBaseURL string
	// Render are passed to argo.Render (Name, Namespace and DefaultImage are set by the engine).
	Render argo.Options
	// Now is the clock of the finish times Stop writes; default time.Now.
	Now func() time.Time
}

// Argo runs graphs as Argo Workflows owned by their session.
type Argo struct {
	opts ArgoOptions
}

var _ Engine = (*Argo)(nil)

// NewArgo returns an Argo engine.
func NewArgo(opts ArgoOptions) *Argo {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Argo{opts: opts}
}

// Name implements Engine.
func (a *Argo) Name() v1alpha1.Engine { return v1alpha1.EngineArgo }

// Watch implements Engine: the controller reconciles a session when a
// Workflow it owns changes or goes away.
func (a *Argo) Watch(b *builder.Builder, _ client.Object) (*builder.Builder, error) {
	return b.Owns(&wfv1.Workflow{}), nil
}

// Submit implements Engine. The Workflow is named after the graph; if a
// Workflow of that name belongs to another object (a session of another
// kind with the same name), the name gets a suffix from owner's UID.
func (a *Argo) Submit(ctx context.Context, owner client.Object, g *pipeline.Graph) (*v1alpha1.WorkflowRef, error) {
	for _, name := range []string{argo.WorkflowName(g.Name), argo.WorkflowName(g.Name + "-" + shortUID(owner.GetUID()))} {
		opts := a.opts.Render
		opts.Name, opts.Namespace, opts.DefaultImage = name, owner.GetNamespace(), a.opts.Image
		wf, err := argo.Render(g, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidGraph, err)
		}
		if err := controllerutil.SetControllerReference(owner, wf, a.opts.Scheme); err != nil {
			return nil, fmt.Errorf("argo engine: %w", err)
		}
		err = a.opts.Client.Create(ctx, wf)
		if err == nil {
			return a.ref(wf), nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating Workflow %s/%s: %w", wf.Namespace, wf.Name, err)
		}
		existing := &wfv1.Workflow{}
		if err := a.opts.APIReader.Get(ctx, client.ObjectKeyFromObject(wf), existing); err != nil {
			return nil, fmt.Errorf("reading Workflow %s/%s: %w", wf.Namespace, wf.Name, err)
		}
		if ownedBy(existing, owner) {
			return a.ref(existing), nil
		}
	}
	return nil, fmt.Errorf("argo engine: Workflows named after %s exist and belong to other objects", g.Name)
}

func ownedBy(obj, owner client.Object) bool {
	for _, o := range obj.GetOwnerReferences() {
		if o.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

func (a *Argo) ref(wf *wfv1.Workflow) *v1alpha1.WorkflowRef {
	ref := &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineArgo, Name: wf.Name, Namespace: wf.Namespace}
	if a.opts.UIBaseURL != "" {
		ref.UIURL = strings.TrimRight(a.opts.UIBaseURL, "/") + "/workflows/" + url.PathEscape(wf.Namespace) + "/" + url.PathEscape(wf.Name)
	}
	return ref
}

// Status implements Engine. Step results come from the nodes
// (argo.NodeStatuses), never from the Workflow's phase. A Workflow that is
// gone, replaced by one that is not owner's, or being deleted before it
// finished is a *LostError (reason WorkflowDeleted); the controller then
// fails the session and calls Stop, which ends the steps.
func (a *Argo) Status(ctx context.Context, owner client.Object, ref *v1alpha1.WorkflowRef, plan *v1alpha1.RunPlan) (*Run, error) {
	if ref == nil || ref.Engine != v1alpha1.EngineArgo {
		return nil, otherEngine(ref, v1alpha1.EngineArgo)
	}
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	wf := &wfv1.Workflow{}
	err := a.opts.Client.Get(ctx, key, wf)
	if apierrors.IsNotFound(err) {
		// The cache may not hold a Workflow created a moment ago.
		err = a.opts.APIReader.Get(ctx, key, wf)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, &LostError{
			Reason:  conditions.ReasonWorkflowDeleted,
			Message: fmt.Sprintf("the Argo Workflow %s was deleted while the session was running", key),
		}
	case err != nil:
		return nil, fmt.Errorf("reading Workflow %s: %w", key, err)
	case !ownedBy(wf, owner):
		return nil, &LostError{
			Reason:  conditions.ReasonWorkflowDeleted,
			Message: fmt.Sprintf("the Argo Workflow %s was replaced by one that does not belong to this session", key),
		}
	}
	if wf.DeletionTimestamp != nil && !finishedBefore(wf, wf.DeletionTimestamp.Time) {
		// Deleted and waiting for its dependents to be collected
		// (foreground) or orphaned: it will not finish the run. (If it
		// ends meanwhile, it is because Stop terminated it: the session
		// must read the same story on a retried reconcile.)
		return nil, &LostError{
			Reason:  conditions.ReasonWorkflowDeleted,
			Message: fmt.Sprintf("the Argo Workflow %s was deleted while the session was running", key),
		}
	}
	g := &pipeline.Graph{Name: wf.Name, Steps: make([]pipeline.Step, len(plan.Steps))}
	for i := range plan.Steps {
		g.Steps[i].Name = plan.Steps[i].Name
	}
	red, err := a.redactor(ctx, wf)
	if err != nil {
		return nil, err
	}
	nodes, err := argo.NodeStatuses(wf, g, red.Redact)
	if err != nil {
		return nil, err
	}
	return &Run{Nodes: nodes, Finished: argo.Finished(wf)}, nil
}

// redactor hides, in the node messages of wf, the values of the Secrets
// its containers read (argo.SecretsRead): a container that writes no
// termination message gets its log's tail there from the kubelet, and a
// script may have printed its password. The Secrets are read, uncached,
// only when a message NodeStatuses copies can quote a container's output
// (argo.MayQuoteOutput: a Failed or Error node's message, a failed
// container's message, the finished Workflow's message); the messages of
// pending and running nodes need none, so following a Workflow in which
// nothing failed reads no Secret. A Secret or key that is gone has nothing
// to hide.
func (a *Argo) redactor(ctx context.Context, wf *wfv1.Workflow) (*stepcause.Redactor, error) {
	if !argo.MayQuoteOutput(wf) {
		return nil, nil
	}
	red := &stepcause.Redactor{}
	for name, keys := range argo.SecretsRead(wf) {
		var s corev1.Secret
		err := a.opts.APIReader.Get(ctx, types.NamespacedName{Namespace: wf.Namespace, Name: name}, &s)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading Secret %s/%s to hide its values in the messages of Workflow %s: %w", wf.Namespace, name, wf.Name, err)
		}
		if keys == nil {
			for _, v := range s.Data {
				red.Add(string(v))
			}
			continue
		}
		for _, k := range keys {
			red.Add(string(s.Data[k]))
		}
	}
	return red, nil
}

// finishedBefore says whether wf had finished before t (to the second).
func finishedBefore(wf *wfv1.Workflow, t time.Time) bool {
	return argo.Finished(wf) && !wf.Status.FinishedAt.IsZero() && wf.Status.FinishedAt.Time.Before(t)
}

// Stop implements Engine. A Workflow of the session's that still runs is
// stopped through spec.shutdown=Terminate: Argo kills its running pods and
// starts nothing else, and its nodes say how each step ended.
//
// A run whose Workflow is gone, is being deleted, or was replaced by one
// that is not the session's (Status reported a *LostError) has nothing left
// to stop its pods or to report its steps. Stop then deletes the pods of
// that Workflow that have not ended (found by the label
// workflows.argoproj.io/workflow, since a Workflow deleted with
// --cascade=orphan leaves them without an owner), so that no step outlives
// its run and commits a snapshot for a session that failed; and it ends the
// steps in owner's status itself (sessionstatus.EndBackup/EndRestore):
// steps that ran (by the status, the nodes of a Workflow being deleted, or
// a running pod) Failed and steps not started Skipped, with reason as their
// message and a finish time. A step whose pod or node ended before the
// status showed it is recorded as it ended, with the snapshot it committed.
// The operator never deletes a Workflow itself.
func (a *Argo) Stop(ctx context.Context, owner client.Object, ref *v1alpha1.WorkflowRef, reason string) error {
	if ref == nil || ref.Engine != v1alpha1.EngineArgo {
		return nil
	}
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	wf := &wfv1.Workflow{}
	err := a.opts.APIReader.Get(ctx, key, wf)
	switch {
	case apierrors.IsNotFound(err):
		return a.stopLost(ctx, owner, ref, "", reason, nil)
	case err != nil:
		return fmt.Errorf("reading Workflow %s: %w", key, err)
	case !ownedBy(wf, owner):
		// Another object's Workflow took the name: leave it alone.
		return a.stopLost(ctx, owner, ref, wf.UID, reason, nil)
	}
	// The uid makes the patch fail on a Workflow that replaced this one
	// since the read.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"uid":"`+string(wf.UID)+`"},"spec":{"shutdown":"`+string(wfv1.ShutdownStrategyTerminate)+`"}}`))
	if err := a.opts.Client.Patch(ctx, wf, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("stopping Workflow %s: %w", key, err)
	}
	if wf.DeletionTimestamp != nil {
		// Deleted, waiting for its finalizers (an orphaning or foreground
		// deletion): nothing will report its steps any more. Argo still
		// works on it until it is gone, and would recreate a step pod
		// deleted less than 10s after it started; Terminate (above) makes
		// it create none.
		return a.stopLost(ctx, owner, ref, "", reason, nodesSeen(wf))
	}
	return nil
}

// Forget implements Engine; the Workflow goes with its owner.
func (a *Argo) Forget(Key) {}

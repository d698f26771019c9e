package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
)

// The operator deletes the pods of a Workflow that went away mid-run, and
// reads the outputs of one that ended after it did.
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;delete
// +kubebuilder:rbac:groups=argoproj.io,resources=workflowtaskresults,verbs=get

// What Argo puts on the pods it creates.
const (
	// LabelArgoWorkflow names a pod's Workflow.
	LabelArgoWorkflow = "workflows.argoproj.io/workflow"
	// annotationNodeName is the pod's node name, <workflow>.<step> (with
	// "(N)" for an attempt of a step with retries).
	annotationNodeName = "workflows.argoproj.io/node-name"
	// annotationNodeID is the pod's node id, the name of its WorkflowTaskResult.
	annotationNodeID = "workflows.argoproj.io/node-id"
)

// attemptSuffix is the "(N)" of a retried step's attempt.
var attemptSuffix = regexp.MustCompile(`\(\d+\)$`)

// stopLost stops what is left of a run whose Workflow is gone or going:
// it deletes the pods of the Workflow named by ref that have not ended
// (except those owned by keep, the Workflow that replaced it, if any),
// notes the steps whose pods ran or ended (adding to late, what the
// Workflow's nodes showed), and ends the steps in owner's status.
func (a *Argo) stopLost(ctx context.Context, owner client.Object, ref *v1alpha1.WorkflowRef, keep types.UID, reason string, late map[string]sessionstatus.LateStep) error {
	log := ctrl.LoggerFrom(ctx)
	pods := &corev1.PodList{}
	if err := a.opts.APIReader.List(ctx, pods, client.InNamespace(ref.Namespace), client.MatchingLabels{LabelArgoWorkflow: ref.Name}); err != nil {
		return fmt.Errorf("listing the pods of Workflow %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if late == nil {
		late = map[string]sessionstatus.LateStep{}
	}
	var errs []error
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !podOfRun(pod, owner, keep) {
			continue
		}
		step := stepOfPod(pod, ref.Name)
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			// Of a step's attempts, one that succeeded is the step's end.
			if step != "" && !late[step].Succeeded {
				late[step] = a.lateStep(ctx, pod)
			}
			continue
		}
		uid := pod.UID
		err := a.opts.Client.Delete(ctx, pod, client.Preconditions{UID: &uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
		switch {
		case err == nil:
			log.Info("Deleted a step pod of a lost Workflow", "pod", klog.KObj(pod), "workflow", ref.Name)
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		default:
			errs = append(errs, fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err))
		}
		if step != "" && !late[step].Succeeded && pod.Status.Phase == corev1.PodRunning {
			ls := sessionstatus.LateStep{Stopped: true}
			if pod.Status.StartTime != nil {
				ls.StartedAt = pod.Status.StartTime.Time
			}
			late[step] = ls
		}
	}
	lost := sessionstatus.Lost{Message: reason, At: a.opts.Now(), Late: late}
	switch o := owner.(type) {
	case *v1alpha1.BackupSession:
		sessionstatus.EndBackup(&o.Status, lost)
	case *v1alpha1.RestoreSession:
		sessionstatus.EndRestore(&o.Status, lost)
	case *v1alpha1.RestoreBatch:
		sessionstatus.EndRestore(&o.Status, lost)
	}
	return errors.Join(errs...)
}

// podOfRun says whether pod belongs to the run of owner: not to keep, and
// labelled with owner's session when it carries a session label at all.
func podOfRun(pod *corev1.Pod, owner client.Object, keep types.UID) bool {
	if keep != "" {
		for _, o := range pod.OwnerReferences {
			if o.UID == keep {
				return false
			}
		}
	}
	s, ok := pod.Labels[v1alpha1.LabelSession]
	return !ok || owner == nil || s == owner.GetName()
}

// stepOfPod is the graph step a pod of workflow ran, from its node name.
func stepOfPod(pod *corev1.Pod, workflow string) string {
	name, ok := strings.CutPrefix(pod.Annotations[annotationNodeName], workflow+".")
	if !ok {
		return ""
	}
	return attemptSuffix.ReplaceAllString(name, "")
}

// lateStep is how a step pod ended, with the outputs of its task result
// when it succeeded and they can be read.
func (a *Argo) lateStep(ctx context.Context, pod *corev1.Pod) sessionstatus.LateStep {
	ls := sessionstatus.LateStep{Succeeded: pod.Status.Phase == corev1.PodSucceeded}
	for _, c := range pod.Status.ContainerStatuses {
		if c.Name == "main" && c.State.Terminated != nil {
			ls.FinishedAt = c.State.Terminated.FinishedAt.Time
		}
	}
	id := pod.Annotations[annotationNodeID]
	if !ls.Succeeded || id == "" {
		return ls
	}
	tr := &wfv1.WorkflowTaskResult{}
	if err := a.opts.APIReader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: id}, tr); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot read the outputs of a step that ended after its Workflow", "pod", klog.KObj(pod))
		return ls
	}
	ls.Outputs = parameters(tr.Outputs)
	return ls
}

// parameters are the output parameters that have a value, trimmed.
func parameters(o *wfv1.Outputs) map[string]string {
	if o == nil {
		return nil
	}
	out := map[string]string{}
	for _, p := range o.Parameters {
		if p.Value != nil {
			out[p.Name] = strings.TrimSpace(p.Value.String())
		}
	}
	return out
}

// nodesSeen is what the pod nodes of a Workflow being deleted show of its
// steps: started (Stopped, since Stop ends them), or ended, with outputs.
func nodesSeen(wf *wfv1.Workflow) map[string]sessionstatus.LateStep {
	late := map[string]sessionstatus.LateStep{}
	for _, n := range wf.Status.Nodes {
		step, ok := strings.CutPrefix(n.Name, wf.Name+".")
		if n.Type != wfv1.NodeTypePod || !ok || n.StartedAt.IsZero() {
			continue
		}
		step = attemptSuffix.ReplaceAllString(step, "")
		if late[step].Succeeded {
			continue
		}
		ls := sessionstatus.LateStep{StartedAt: n.StartedAt.Time, FinishedAt: n.FinishedAt.Time}
		switch n.Phase {
		case wfv1.NodeSucceeded:
			ls.Succeeded, ls.Outputs = true, parameters(n.Outputs)
		case wfv1.NodeFailed, wfv1.NodeError:
		default:
			ls.Stopped = true
		}
		late[step] = ls
	}
	return late
}

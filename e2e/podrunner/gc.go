package podrunner

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// The garbage collector's finalizers (metav1.FinalizerOrphanDependents and
// metav1.FinalizerDeleteDependents).
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// gcTimeout bounds the collection of one Workflow's dependents.
const gcTimeout = 30 * time.Second

// A bare apiserver has no garbage collector (it runs in the
// controller-manager), so a deleted Workflow's pods would run on, which no
// cluster does. The runner plays the collector for Workflows and their
// dependents — pods and WorkflowTaskResults, which Argo makes with an owner
// reference to the Workflow — as kube-controller-manager's would:
//
//   - a Workflow deleted with background propagation (the default) is gone
//     at once; its dependents are then deleted;
//   - with foreground propagation it stays, with a deletionTimestamp and
//     the foregroundDeletion finalizer, until its dependents are deleted;
//     then the finalizer is removed and it goes;
//   - with orphan propagation it stays with the orphan finalizer until the
//     owner reference to it is removed from its dependents; then the
//     finalizer is removed and it goes, its pods running on.
//
// A pod whose owner Workflow no longer exists when the runner first sees it
// (a deletion it missed) is deleted too, after a live read confirms it.

// workflowGC collects the dependents of a Workflow being deleted with a
// collector's finalizer, or gone.
func (r *Runner) workflowGC(ctx context.Context, wf *wfv1.Workflow, gone bool) {
	orphan := slices.Contains(wf.Finalizers, finalizerOrphan)
	foreground := slices.Contains(wf.Finalizers, finalizerForeground)
	if !gone && (wf.DeletionTimestamp == nil || !orphan && !foreground) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if again, ok := r.collecting[wf.UID]; ok {
		// Collecting: once done, look again if the Workflow is gone now
		// (for a pod Argo made while it waited for its finalizer, or one
		// the runner found with no owner).
		*again = *again || gone
		return
	}
	again := new(bool)
	r.collecting[wf.UID] = again
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		log := r.log.WithValues("workflow", klog.KObj(wf))
		// next says whether to collect again, as for a Workflow gone.
		next := func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			if *again {
				*again, gone, orphan = false, true, false
				return true
			}
			delete(r.collecting, wf.UID)
			return false
		}
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, gcTimeout, true, func(ctx context.Context) (bool, error) {
			var done bool
			var err error
			switch {
			case orphan && !gone:
				done, err = r.orphanDependents(ctx, wf)
			default:
				done, err = r.deleteDependents(ctx, wf)
			}
			if err == nil && done && !gone {
				err = r.removeFinalizers(ctx, wf)
			}
			if err != nil {
				log.V(1).Info("Collecting the Workflow's dependents", "error", err.Error())
				return false, nil
			}
			if done {
				log.Info("Collected the Workflow's dependents", "orphan", orphan && !gone, "foreground", foreground && !gone)
				return !next(), nil
			}
			return false, nil
		})
		if err != nil {
			log.Error(err, "Gave up collecting the Workflow's dependents")
			r.mu.Lock()
			delete(r.collecting, wf.UID)
			r.mu.Unlock()
		}
	}()
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(o metav1.OwnerReference) bool { return o.UID == uid })
}

// dependents lists the Workflow's pods and task results that name it as an
// owner (the label narrows the lists; the owner reference decides).
func (r *Runner) dependents(ctx context.Context, wf *wfv1.Workflow) ([]corev1.Pod, []wfv1.WorkflowTaskResult, error) {
	sel := metav1.ListOptions{LabelSelector: LabelWorkflow + "=" + wf.Name}
	pods, err := r.kube.CoreV1().Pods(wf.Namespace).List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	results, err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(wf.Namespace).List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	var ps []corev1.Pod
	for _, p := range pods.Items {
		if ownedBy(p.OwnerReferences, wf.UID) {
			ps = append(ps, p)
		}
	}
	var trs []wfv1.WorkflowTaskResult
	for _, tr := range results.Items {
		if ownedBy(tr.OwnerReferences, wf.UID) {
			trs = append(trs, tr)
		}
	}
	return ps, trs, nil
}

// deleteDependents deletes the Workflow's dependents; done once none is left.
func (r *Runner) deleteDependents(ctx context.Context, wf *wfv1.Workflow) (bool, error) {
	pods, results, err := r.dependents(ctx, wf)
	if err != nil || len(pods) == 0 && len(results) == 0 {
		return err == nil, err
	}
	bg := metav1.DeletePropagationBackground
	for _, p := range pods {
		uid := p.UID
		err := r.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, err
		}
		r.log.Info("Deleted a pod of a deleted Workflow", "pod", klog.KObj(&p), "workflow", wf.Name)
	}
	for _, tr := range results {
		uid := tr.UID
		err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(tr.Namespace).Delete(ctx, tr.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, err
		}
	}
	return false, nil
}

// orphanDependents removes the owner reference to the Workflow from its
// dependents; done once none has it.
func (r *Runner) orphanDependents(ctx context.Context, wf *wfv1.Workflow) (bool, error) {
	pods, results, err := r.dependents(ctx, wf)
	if err != nil || len(pods) == 0 && len(results) == 0 {
		return err == nil, err
	}
	for _, p := range pods {
		patch, err := ownerRefsPatch(p.ObjectMeta, wf.UID)
		if err == nil {
			_, err = r.kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, err
		}
	}
	for _, tr := range results {
		patch, err := ownerRefsPatch(tr.ObjectMeta, wf.UID)
		if err == nil {
			_, err = r.argo.ArgoprojV1alpha1().WorkflowTaskResults(tr.Namespace).Patch(ctx, tr.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, err
		}
	}
	return false, nil
}

// ownerRefsPatch is a merge patch that drops the owner reference to uid;
// the resourceVersion makes it fail on a newer object.
func ownerRefsPatch(m metav1.ObjectMeta, uid types.UID) ([]byte, error) {
	refs := slices.DeleteFunc(slices.Clone(m.OwnerReferences), func(o metav1.OwnerReference) bool { return o.UID == uid })
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": refs, "resourceVersion": m.ResourceVersion}})
}

// removeFinalizers removes the collector's finalizers from the Workflow.
func (r *Runner) removeFinalizers(ctx context.Context, wf *wfv1.Workflow) error {
	client := r.argo.ArgoprojV1alpha1().Workflows(wf.Namespace)
	cur, err := client.Get(ctx, wf.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && cur.UID != wf.UID {
		return nil
	}
	if err != nil {
		return err
	}
	fins := slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return f == finalizerOrphan || f == finalizerForeground })
	if fins == nil {
		fins = []string{}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": fins, "resourceVersion": cur.ResourceVersion}})
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, wf.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// collectIfOwnerGone deletes a pod whose owner Workflow does not exist,
// once a live read confirms it; while the owner is being deleted (Argo
// still creates pods for a Workflow that waits for a finalizer) it looks
// again until the owner is gone or stays.
func (r *Runner) collectIfOwnerGone(ctx context.Context, pod *corev1.Pod) {
	var owner *metav1.OwnerReference
	for i, o := range pod.OwnerReferences {
		if o.Kind == "Workflow" {
			owner = &pod.OwnerReferences[i]
		}
	}
	if owner == nil || r.workflows == nil {
		return
	}
	// The collection outlives this look: it gets ctx, not the poll's own,
	// which ends when the look does.
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, gcTimeout, true, func(pollCtx context.Context) (bool, error) {
		if obj, ok, _ := r.workflows.GetByKey(pod.Namespace + "/" + owner.Name); ok {
			if wf, isWF := obj.(*wfv1.Workflow); isWF && wf.UID == owner.UID && wf.DeletionTimestamp == nil {
				return true, nil
			}
		}
		wf, err := r.argo.ArgoprojV1alpha1().Workflows(pod.Namespace).Get(pollCtx, owner.Name, metav1.GetOptions{})
		switch {
		case err == nil && wf.UID == owner.UID && wf.DeletionTimestamp == nil:
			return true, nil
		case err == nil && wf.UID == owner.UID:
			return false, nil // being deleted: look again
		case err != nil && !apierrors.IsNotFound(err):
			r.log.Error(err, "Cannot read a pod's Workflow", "pod", klog.KObj(pod))
			return true, nil
		}
		gone := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: owner.Name, UID: owner.UID}}
		r.workflowGC(ctx, gone, true)
		return true, nil
	})
}

// workflowDeleted is the informer's delete handler for Workflows.
func (r *Runner) workflowDeleted(ctx context.Context, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if wf, ok := obj.(*wfv1.Workflow); ok {
		r.workflowGC(ctx, wf, true)
	}
}

package podrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// collectOutputs reads the template's output parameters as Argo's wait
// container does: each valueFrom.path (mapped to the host) is read and one
// trailing newline trimmed; a missing file takes valueFrom.default, or is
// the wait container's error, which stops the collection.
func collectOutputs(p *plan) (*wfv1.Outputs, error) {
	if p.template == nil {
		return nil, nil
	}
	out := p.template.Outputs.DeepCopy()
	for i, param := range out.Parameters {
		if param.ValueFrom == nil || param.ValueFrom.Path == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Clean(p.rw.Apply(param.ValueFrom.Path)))
		switch {
		case err == nil:
			out.Parameters[i].Value = wfv1.AnyStringPtr(strings.TrimSuffix(string(data), "\n"))
		case param.ValueFrom.Default != nil:
			out.Parameters[i].Value = wfv1.AnyStringPtr(strings.TrimSuffix(param.ValueFrom.Default.String(), "\n"))
		default:
			return out, fmt.Errorf("output parameter %q: open %s: no such file or directory", param.Name, param.ValueFrom.Path)
		}
	}
	return out, nil
}

// initTaskResult creates the pod's WorkflowTaskResult with
// report-outputs-completed=false, as the wait container does when it starts,
// so that the controller waits for the outputs.
func (r *Runner) initTaskResult(ctx context.Context, log logr.Logger, pod *corev1.Pod) {
	tr := taskResult(pod, "false", nil)
	if tr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, apiCallDeadline)
	defer cancel()
	_, err := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(pod.Namespace).Create(ctx, tr, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		log.Error(err, "Cannot create the task result")
	}
}

// finishTaskResult writes the outputs and report-outputs-completed=true.
func (r *Runner) finishTaskResult(ctx context.Context, log logr.Logger, pod *corev1.Pod, outputs *wfv1.Outputs) {
	tr := taskResult(pod, "true", outputs)
	if tr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, apiCallDeadline)
	defer cancel()
	results := r.argo.ArgoprojV1alpha1().WorkflowTaskResults(pod.Namespace)
	_, err := results.Create(ctx, tr, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		var patch []byte
		patch, err = json.Marshal(map[string]any{
			"metadata": map[string]any{"labels": tr.Labels},
			"outputs":  tr.Outputs,
		})
		if err == nil {
			_, err = results.Patch(ctx, tr.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
	}
	if err != nil {
		log.Error(err, "Cannot write the task result")
	}
}

// taskResult is the WorkflowTaskResult of an Argo pod: named after its node
// id, labelled with its workflow; nil for a pod Argo did not create.
func taskResult(pod *corev1.Pod, completed string, outputs *wfv1.Outputs) *wfv1.WorkflowTaskResult {
	nodeID := pod.Annotations[AnnotationNodeID]
	workflow := pod.Labels[LabelWorkflow]
	if nodeID == "" || workflow == "" {
		return nil
	}
	tr := &wfv1.WorkflowTaskResult{
		ObjectMeta: metav1.ObjectMeta{
			Name:      nodeID,
			Namespace: pod.Namespace,
			Labels:    map[string]string{LabelWorkflow: workflow, LabelReportOutputsCompleted: completed},
		},
		NodeResult: wfv1.NodeResult{Outputs: outputs},
	}
	for _, o := range pod.OwnerReferences {
		if o.Kind == "Workflow" {
			tr.OwnerReferences = []metav1.OwnerReference{{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: o.UID}}
		}
	}
	return tr
}

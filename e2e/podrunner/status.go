package podrunner

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// setStatus changes the pod's status through pods/status, as the kubelet
// does, retrying on conflicts.
func (r *Runner) setStatus(ctx context.Context, pod *corev1.Pod, change func(*corev1.PodStatus)) error {
	ctx, cancel := context.WithTimeout(ctx, apiCallDeadline)
	defer cancel()
	pods := r.kube.CoreV1().Pods(pod.Namespace)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return apierrors.NewNotFound(corev1.Resource("pods"), pod.Name)
		}
		change(&cur.Status)
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// pending reports the pod Pending with the main container waiting, as the
// kubelet does while a container's config cannot be made.
func (r *Runner) pending(ctx context.Context, log logr.Logger, pod *corev1.Pod, message string) {
	now := metav1.Now()
	err := r.setStatus(ctx, pod, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodPending
		if st.StartTime == nil {
			st.StartTime = &now
		}
		st.InitContainerStatuses = initStatuses(pod, now)
		st.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
			if c.Name == argoWaitContainer {
				cs.Started, cs.State.Running = ptr.To(true), &corev1.ContainerStateRunning{StartedAt: now}
			} else {
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: message}
			}
			st.ContainerStatuses = append(st.ContainerStatuses, cs)
		}
	})
	if err != nil {
		log.Error(err, "Cannot report the pod pending")
	}
}

// fail ends a pod the runner cannot run, with a message that says why.
func (r *Runner) fail(ctx context.Context, log logr.Logger, pod *corev1.Pod, cause error) {
	log.Info("Cannot run pod", "reason", cause.Error())
	now := metav1.Now()
	apiCtx := context.WithoutCancel(ctx)
	r.finishTaskResult(apiCtx, log, pod, nil)
	err := r.setStatus(apiCtx, pod, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodFailed
		st.Reason = "PodRunnerError"
		st.Message = "podrunner: " + cause.Error()
		if st.StartTime == nil {
			st.StartTime = &now
		}
		st.InitContainerStatuses = initStatuses(pod, now)
		st.ContainerStatuses = nil
		for _, c := range pod.Spec.Containers {
			t := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}
			if c.Name != argoWaitContainer {
				t.ExitCode, t.Reason, t.Message = 128, "StartError", cause.Error()
			}
			st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, State: corev1.ContainerState{Terminated: t}})
		}
	})
	if err != nil {
		log.Error(err, "Cannot report the pod failed")
	}
}

// runningStatus: init containers done, main and wait running.
func runningStatus(st *corev1.PodStatus, pod *corev1.Pod, start metav1.Time) {
	st.Phase = corev1.PodRunning
	st.Reason, st.Message = "", ""
	st.StartTime = &start
	st.HostIP, st.PodIP = hostIP, hostIP
	st.HostIPs, st.PodIPs = []corev1.HostIP{{IP: hostIP}}, []corev1.PodIP{{IP: hostIP}}
	st.Conditions = conditions(start, true, "")
	st.InitContainerStatuses = initStatuses(pod, start)
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		})
	}
}

// endedStatus: the main container ended with res; the wait container ended
// with waitErr (nil: exit 0). The pod failed if either did.
func endedStatus(st *corev1.PodStatus, pod *corev1.Pod, main string, res result, waitErr error) {
	now := metav1.Now()
	st.Phase = corev1.PodSucceeded
	if res.exitCode != 0 || waitErr != nil || res.podReason != "" {
		st.Phase = corev1.PodFailed
	}
	st.Reason, st.Message = res.podReason, res.podMessage
	st.Conditions = conditions(now, false, "PodCompleted")
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		t := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: res.started, FinishedAt: now}
		switch {
		case c.Name == main:
			t.ExitCode, t.Reason, t.Message, t.FinishedAt = res.exitCode, res.reason, res.message, res.finished
		case c.Name == argoWaitContainer && waitErr != nil:
			t.ExitCode, t.Reason, t.Message = 1, "Error", waitErr.Error()
		}
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Started: ptr.To(false),
			State: corev1.ContainerState{Terminated: t},
		})
	}
}

func initStatuses(pod *corev1.Pod, at metav1.Time) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range pod.Spec.InitContainers {
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: at, FinishedAt: at,
			}},
		})
	}
	return out
}

func conditions(at metav1.Time, ready bool, reason string) []corev1.PodCondition {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	out := []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: at},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: at},
	}
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		out = append(out, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: at})
	}
	return out
}

package podrunner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclientset "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	wfinformers "github.com/argoproj/argo-workflows/v3/pkg/client/informers/externalversions"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Options tune a Runner.
type Options struct {
	// Commands maps a command name (argv[0] after unwrapping) to a host
	// executable, e.g. "stashflow" → the path of a freshly built binary.
	// Other names are looked up in the PATH of the process's environment.
	Commands map[string]string
	// WorkDir holds a directory per pod (<pod>-<uid>: volumes, outputs,
	// main.log) and one per persistentVolumeClaim that is not bound to a
	// hostPath or local PersistentVolume (claims/<name>). Required.
	WorkDir string
	// BaseEnv comes first in every process's environment, as an image's env
	// would; default PATH from this process. HOSTNAME (the pod name) and HOME
	// (a directory of the pod) are set before it. A KUBECONFIG here is the
	// stand-in for the service-account token a real pod gets (argoenv sets
	// one).
	BaseEnv []string
	// GracePeriod caps the pod's terminationGracePeriodSeconds between
	// SIGTERM and SIGKILL; default 2s.
	GracePeriod time.Duration
	// Log receives what the runner does, never env values; default none.
	Log logr.Logger
}

// Runner runs the pods of one namespace as host processes. Start it with Run.
type Runner struct {
	kube      kubernetes.Interface
	argo      wfclientset.Interface
	namespace string
	opts      Options
	log       logr.Logger

	// workflows is the Workflow informer's store (gc.go).
	workflows cache.Store

	mu      sync.Mutex
	pods    map[types.UID]*podRun
	stopped bool
	// collecting holds the Workflows whose dependents are being collected,
	// each with whether to look again once done (gc.go).
	collecting map[types.UID]*bool
	wg         sync.WaitGroup
}

// podRun is one pod being run.
type podRun struct {
	workflow string
	onExit   bool
	// stop ends the pod's process with a cause (errPodDeleted, errShutdown).
	stop context.CancelCauseFunc
}

// Why a pod's process is stopped.
var (
	errPodDeleted  = errors.New("pod deleted")
	errShutdown    = errors.New("workflow shutdown")
	errRunnerStops = errors.New("pod runner stopping")
	errDeadline    = errors.New("activeDeadlineSeconds exceeded")
)

const (
	defaultGrace = 2 * time.Second
	// apiCallDeadline bounds one status or task-result write.
	apiCallDeadline = 30 * time.Second
)

// New makes a Runner for namespace, talking to the apiserver through cfg.
func New(cfg *rest.Config, namespace string, opts Options) (*Runner, error) {
	if opts.WorkDir == "" {
		return nil, errors.New("podrunner: Options.WorkDir is required")
	}
	if namespace == "" {
		return nil, errors.New("podrunner: a namespace is required")
	}
	abs, err := filepath.Abs(opts.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("podrunner: %w", err)
	}
	opts.WorkDir = abs
	if opts.BaseEnv == nil {
		opts.BaseEnv = []string{"PATH=" + os.Getenv("PATH")}
	}
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = defaultGrace
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("podrunner: %w", err)
	}
	argo, err := wfclientset.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("podrunner: %w", err)
	}
	return &Runner{
		kube: kube, argo: argo, namespace: namespace, opts: opts,
		log:  opts.Log.WithValues("namespace", namespace),
		pods: map[types.UID]*podRun{}, collecting: map[types.UID]*bool{},
	}, nil
}

// Run makes a Runner and runs it until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, namespace string, opts Options) error {
	r, err := New(cfg, namespace, opts)
	if err != nil {
		return err
	}
	return r.Run(ctx, nil)
}

// Run watches the namespace's pods and Workflows and runs pods until ctx is
// done; then it kills every process it started, waits for them and returns
// nil. ready, if not nil, is closed once the watches have synced.
func (r *Runner) Run(ctx context.Context, ready chan<- struct{}) error {
	if err := os.MkdirAll(r.opts.WorkDir, 0o750); err != nil {
		return fmt.Errorf("podrunner: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(errRunnerStops)

	kf := informers.NewSharedInformerFactoryWithOptions(r.kube, 0, informers.WithNamespace(r.namespace))
	pods := kf.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.observe(ctx, obj) },
		UpdateFunc: func(_, obj any) { r.observe(ctx, obj) },
		DeleteFunc: r.deleted,
	}); err != nil {
		return fmt.Errorf("podrunner: %w", err)
	}
	wf := wfinformers.NewSharedInformerFactoryWithOptions(r.argo, 0, wfinformers.WithNamespace(r.namespace))
	workflows := wf.Argoproj().V1alpha1().Workflows().Informer()
	r.workflows = workflows.GetStore()
	if _, err := workflows.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.workflowChanged(ctx, obj) },
		UpdateFunc: func(_, obj any) { r.workflowChanged(ctx, obj) },
		DeleteFunc: func(obj any) { r.workflowDeleted(ctx, obj) },
	}); err != nil {
		return fmt.Errorf("podrunner: %w", err)
	}
	kf.Start(ctx.Done())
	wf.Start(ctx.Done())
	synced := cache.WaitForCacheSync(ctx.Done(), pods.HasSynced, workflows.HasSynced)
	if synced {
		r.log.Info("Pod runner started", "workDir", r.opts.WorkDir)
		if ready != nil {
			close(ready)
		}
	}
	<-ctx.Done()

	r.mu.Lock()
	r.stopped = true
	for _, p := range r.pods {
		p.stop(errRunnerStops)
	}
	r.mu.Unlock()
	r.wg.Wait()
	kf.Shutdown()
	r.log.Info("Pod runner stopped")
	return nil
}

// PodDir is the host directory of a pod: volumes, outputs and LogFile.
func (r *Runner) PodDir(pod metav1.Object) string {
	return PodDir(r.opts.WorkDir, pod)
}

// PodDir is the directory of pod under a runner's WorkDir.
func PodDir(workDir string, pod metav1.Object) string {
	uid := string(pod.GetUID())
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return filepath.Join(workDir, pod.GetName()+"-"+uid)
}

// observe starts running a pod the first time it is seen, unless it has
// ended or is being deleted.
func (r *Runner) observe(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		r.stopPod(pod.UID, errPodDeleted)
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.Annotations[AnnotationIgnore] == "true" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.pods[pod.UID]; seen || r.stopped {
		return
	}
	podCtx, stop := context.WithCancelCause(ctx)
	_, onExit := pod.Labels[LabelOnExit]
	r.pods[pod.UID] = &podRun{workflow: pod.Labels[LabelWorkflow], onExit: onExit, stop: stop}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		defer stop(nil)
		r.runPod(podCtx, pod.DeepCopy())
	}()
	go func() {
		defer r.wg.Done()
		r.collectIfOwnerGone(ctx, pod.DeepCopy())
	}()
}

func (r *Runner) deleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		r.stopPod(pod.UID, errPodDeleted)
	}
}

// stopPod stops the pod's process; the record stays, so that a pod is run
// at most once.
func (r *Runner) stopPod(uid types.UID, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pods[uid]; ok {
		p.stop(cause)
	}
}

// workflowChanged stops the pods of a Workflow being shut down, as the
// controller's exec'd kill would: Terminate stops all, Stop all but
// onExit pods; and it collects the dependents of a Workflow being deleted
// (gc.go).
func (r *Runner) workflowChanged(ctx context.Context, obj any) {
	wf, ok := obj.(*wfv1.Workflow)
	if !ok {
		return
	}
	r.workflowGC(ctx, wf, false)
	if !wf.Spec.Shutdown.Enabled() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pods {
		if p.workflow == wf.Name && !wf.Spec.Shutdown.ShouldExecute(p.onExit) {
			p.stop(errShutdown)
		}
	}
}

// podObjects reads Secrets, ConfigMaps and PersistentVolumeClaims of the
// runner's namespace, and PersistentVolumes.
type podObjects struct {
	kube      kubernetes.Interface
	namespace string
}

func (o podObjects) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	return o.kube.CoreV1().Secrets(o.namespace).Get(ctx, name, metav1.GetOptions{})
}

func (o podObjects) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	return o.kube.CoreV1().ConfigMaps(o.namespace).Get(ctx, name, metav1.GetOptions{})
}

func (o podObjects) claim(ctx context.Context, name string) (*corev1.PersistentVolumeClaim, error) {
	return o.kube.CoreV1().PersistentVolumeClaims(o.namespace).Get(ctx, name, metav1.GetOptions{})
}

func (o podObjects) persistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	return o.kube.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
}

// runPod takes one pod from Pending to its end.
func (r *Runner) runPod(ctx context.Context, pod *corev1.Pod) {
	log := r.log.WithValues("pod", klog.KObj(pod))
	podDir := r.PodDir(pod)
	objs := podObjects{kube: r.kube, namespace: pod.Namespace}
	baseEnv := append([]string{"HOSTNAME=" + pod.Name, "HOME=" + filepath.Join(podDir, "home")}, r.opts.BaseEnv...)
	if err := os.MkdirAll(filepath.Join(podDir, "home"), 0o750); err != nil {
		r.fail(ctx, log, pod, err)
		return
	}

	// Playing the scheduler: a pod pinned to a node is bound to it once it
	// can be planned (its claims exist), before its process starts. It is
	// planned as it will be once bound (spec.nodeName in its downward-API
	// env).
	node, planned := "", pod
	if pod.Spec.NodeName == "" {
		if node = nodeFor(pod); node != "" {
			planned = pod.DeepCopy()
			planned.Spec.NodeName = node
		}
	}

	var p *plan
	reported := ""
	for {
		var err error
		p, err = planPod(ctx, planned, objs, podDir, r.opts.WorkDir, baseEnv)
		var cfgErr *configError
		var unschedErr *unschedulableError
		switch {
		case err == nil:
		case errors.As(err, &unschedErr):
			// The scheduler leaves the pod Pending, unbound, and tries again.
			if reported != unschedErr.Error() {
				reported = unschedErr.Error()
				log.Info("Pod unschedulable", "reason", reported)
				r.unschedulable(ctx, log, pod, reported)
			}
		case errors.As(err, &cfgErr):
			// The kubelet keeps the pod Pending and tries again.
			if reported != cfgErr.Error() {
				reported = cfgErr.Error()
				log.Info("Container config not ready", "reason", reported)
				r.pending(ctx, log, pod, reported)
			}
		default:
			r.fail(ctx, log, pod, err)
			return
		}
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}

	if node != "" {
		bound, err := r.bind(ctx, pod, node)
		if ctx.Err() != nil {
			return // the pod was deleted, or the runner stops
		}
		if err != nil {
			r.fail(ctx, log, pod, err)
			return
		}
		pod = bound
		log.Info("Pod bound", "node", pod.Spec.NodeName)
	}

	start := metav1.Now()
	if err := r.setStatus(ctx, pod, func(st *corev1.PodStatus) { runningStatus(st, pod, start) }); err != nil {
		log.Error(err, "Cannot report the pod running")
		return
	}
	r.initTaskResult(ctx, log, pod)

	res := r.execute(ctx, log, pod, p, podDir)
	if cause := context.Cause(ctx); errors.Is(cause, errPodDeleted) || errors.Is(cause, errRunnerStops) {
		// The pod is gone (or the apiserver is going): as the wait
		// container's deferred finalizer would, mark the result complete.
		if errors.Is(cause, errPodDeleted) {
			r.finishTaskResult(context.WithoutCancel(ctx), log, pod, nil)
		}
		log.Info("Pod stopped", "cause", cause.Error(), "exitCode", res.exitCode)
		return
	}

	// Argo's wait container: collect outputs, report them, end.
	outputs, waitErr := collectOutputs(p)
	apiCtx := context.WithoutCancel(ctx)
	r.finishTaskResult(apiCtx, log, pod, outputs)
	if err := r.setStatus(apiCtx, pod, func(st *corev1.PodStatus) { endedStatus(st, pod, p.container.Name, res, waitErr) }); err != nil {
		log.Error(err, "Cannot report the pod ended")
		return
	}
	log.Info("Pod ended", "exitCode", res.exitCode, "reason", res.reason)
}

// nodeFor is the node the scheduler could only bind pod to: the one value
// of a required node-affinity term's matchFields `metadata.name In [node]`
// (what a DaemonSet's pods carry), else nodeSelector
// kubernetes.io/hostname; "" when the pod has neither.
func nodeFor(pod *corev1.Pod) string {
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range term.MatchFields {
				if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
					return f.Values[0]
				}
			}
		}
	}
	return pod.Spec.NodeSelector[corev1.LabelHostname]
}

// bind binds pod to node through pods/binding, as the scheduler does (the
// Node object need not exist), and returns the pod read back after it, so
// that later status writes start from the bound pod. A pod someone else
// bound meanwhile (Conflict) stays where it was bound.
func (r *Runner) bind(ctx context.Context, pod *corev1.Pod, node string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, apiCallDeadline)
	defer cancel()
	pods := r.kube.CoreV1().Pods(pod.Namespace)
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node},
	}
	bindErr := pods.Bind(ctx, binding, metav1.CreateOptions{})
	if bindErr != nil && !apierrors.IsConflict(bindErr) {
		return nil, fmt.Errorf("bind to node %q: %w", node, bindErr)
	}
	cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	switch {
	case err != nil:
		return nil, fmt.Errorf("read the pod bound to node %q: %w", node, err)
	case cur.UID != pod.UID:
		return nil, fmt.Errorf("bind to node %q: the pod was replaced", node)
	case cur.Spec.NodeName == "" && bindErr != nil:
		return nil, fmt.Errorf("bind to node %q: %w", node, bindErr)
	case cur.Spec.NodeName == "":
		return nil, fmt.Errorf("bind to node %q: the pod is still unbound", node)
	}
	return cur, nil
}

// unschedulable reports the pod Pending and not scheduled, as the scheduler
// does while it cannot place it: condition PodScheduled False, reason
// Unschedulable (Argo shows "Unschedulable: <message>" on the node).
func (r *Runner) unschedulable(ctx context.Context, log logr.Logger, pod *corev1.Pod, message string) {
	now := metav1.Now()
	err := r.setStatus(ctx, pod, func(st *corev1.PodStatus) {
		st.Phase = corev1.PodPending
		st.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: message, LastTransitionTime: now,
		}}
		// No container of an unscheduled pod has been looked at.
		st.InitContainerStatuses, st.ContainerStatuses = nil, nil
	})
	if err != nil {
		log.Error(err, "Cannot report the pod unschedulable")
	}
}

package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/appcatalog"
)

// Target is the object a hook's pod is found from.
type Target struct {
	// APIVersion matters for an AppBinding only: its group decides whose
	// AppBinding it is (internal/appcatalog.Get).
	APIVersion string
	Kind       string
	Name       string
}

// ExecRequest is a command to run in the pod of a target.
type ExecRequest struct {
	Namespace string
	Target    Target
	Container string
	Command   []string
	Stdout    io.Writer
	Stderr    io.Writer
}

// PodExecutor runs a command in a target's pod.
type PodExecutor interface {
	Exec(ctx context.Context, req ExecRequest) error
}

// ClusterExecutor finds the target's pod with the API and runs the command
// through pods/exec. The step's service account needs get/list on pods,
// get on services, the workload kinds and appbindings (stashflow.dev's and
// appcatalog.appscode.com's), and create on pods/exec.
type ClusterExecutor struct {
	Config *rest.Config
	Client client.Client
}

// NewClusterExecutor uses the in-cluster configuration, or $KUBECONFIG.
func NewClusterExecutor() (*ClusterExecutor, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("exec hook: no Kubernetes configuration (in cluster or $KUBECONFIG): %w", err)
		}
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("exec hook: %w", err)
	}
	return &ClusterExecutor{Config: cfg, Client: c}, nil
}

// Exec implements PodExecutor.
func (e *ClusterExecutor) Exec(ctx context.Context, req ExecRequest) error {
	pod, err := FindPod(ctx, e.Client, req.Namespace, req.Target)
	if err != nil {
		return err
	}
	container := req.Container
	if container == "" {
		container = pod.Spec.Containers[0].Name
	} else if !slices.ContainsFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == container }) {
		return fmt.Errorf("exec hook: pod %s/%s has no container %q", pod.Namespace, pod.Name, container)
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: req.Command, Stdout: true, Stderr: true}, clientgoscheme.ParameterCodec).URL()
	ex, err := remotecommand.NewSPDYExecutor(e.Config, "POST", u)
	if err != nil {
		return err
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: req.Stdout, Stderr: req.Stderr})
	var code utilexec.CodeExitError
	if errors.As(err, &code) {
		return fmt.Errorf("exec hook %q in pod %s/%s (container %s) exited with code %d", strings.Join(req.Command, " "), pod.Namespace, pod.Name, container, code.Code)
	}
	if err != nil {
		return fmt.Errorf("exec hook in pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// FindPod returns a running pod of a target: the pod itself, a pod selected
// by a workload's or an AppBinding's Service selector, or a pod that mounts
// a PVC. Ready pods first, then by name, so the choice is stable. An
// AppBinding is read as the resolver reads it (internal/appcatalog.Get):
// an appcatalog.appscode.com apiVersion reads KubeDB's, otherwise
// stashflow's and, when there is none, KubeDB's of the name.
func FindPod(ctx context.Context, c client.Reader, ns string, target Target) (*corev1.Pod, error) {
	kind, name := target.Kind, target.Name
	var selector labels.Selector
	switch kind {
	case "Pod":
		var p corev1.Pod
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			return nil, fmt.Errorf("exec hook: pod %s/%s: %w", ns, name, err)
		}
		return &p, nil
	case "AppBinding":
		ab, err := appcatalog.Get(ctx, c, c, target.APIVersion, client.ObjectKey{Namespace: ns, Name: name})
		if err != nil {
			return nil, fmt.Errorf("exec hook: %w", err)
		}
		svc := serviceOf(ab)
		if svc == "" {
			return nil, fmt.Errorf("exec hook: AppBinding %s/%s names no Service (clientConfig.service or a *.svc URL), so its pod cannot be found", ns, name)
		}
		var s corev1.Service
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: svc}, &s); err != nil {
			return nil, fmt.Errorf("exec hook: Service %s/%s of AppBinding %s: %w", ns, svc, name, err)
		}
		if len(s.Spec.Selector) == 0 {
			return nil, fmt.Errorf("exec hook: Service %s/%s of AppBinding %s has no selector", ns, svc, name)
		}
		selector = labels.SelectorFromSet(s.Spec.Selector)
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		sel, err := workloadSelector(ctx, c, ns, kind, name)
		if err != nil {
			return nil, err
		}
		selector = sel
	case "PersistentVolumeClaim":
		selector = labels.Everything()
	default:
		return nil, fmt.Errorf("exec hook: cannot find a pod for a target of kind %s", kind)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("exec hook: list pods in %s: %w", ns, err)
	}
	var candidates []corev1.Pod
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		if kind == "PersistentVolumeClaim" && !slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool {
			return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name
		}) {
			continue
		}
		candidates = append(candidates, p)
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("exec hook: no running pod of %s %s/%s", kind, ns, name)
	}
	slices.SortFunc(candidates, func(a, b corev1.Pod) int {
		if ra, rb := ready(&a), ready(&b); ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return &candidates[0], nil
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// serviceOf is the Service an AppBinding points at: clientConfig.service, or
// the first label of a *.svc URL's host.
func serviceOf(ab *v1alpha1.AppBinding) string {
	cc := ab.Spec.ClientConfig
	if cc.Service != nil {
		return cc.Service.Name
	}
	if cc.URL != nil {
		if u, err := url.Parse(strings.Split(*cc.URL, ",")[0]); err == nil {
			host := u.Hostname()
			if strings.Contains(host, ".svc") || !strings.Contains(host, ".") {
				return strings.Split(host, ".")[0]
			}
		}
	}
	return ""
}

func workloadSelector(ctx context.Context, c client.Reader, ns, kind, name string) (labels.Selector, error) {
	var sel *metav1.LabelSelector
	key := client.ObjectKey{Namespace: ns, Name: name}
	switch kind {
	case "Deployment":
		var d appsv1.Deployment
		if err := c.Get(ctx, key, &d); err != nil {
			return nil, fmt.Errorf("exec hook: Deployment %s/%s: %w", ns, name, err)
		}
		sel = d.Spec.Selector
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := c.Get(ctx, key, &s); err != nil {
			return nil, fmt.Errorf("exec hook: StatefulSet %s/%s: %w", ns, name, err)
		}
		sel = s.Spec.Selector
	case "DaemonSet":
		var d appsv1.DaemonSet
		if err := c.Get(ctx, key, &d); err != nil {
			return nil, fmt.Errorf("exec hook: DaemonSet %s/%s: %w", ns, name, err)
		}
		sel = d.Spec.Selector
	case "ReplicaSet":
		var r appsv1.ReplicaSet
		if err := c.Get(ctx, key, &r); err != nil {
			return nil, fmt.Errorf("exec hook: ReplicaSet %s/%s: %w", ns, name, err)
		}
		sel = r.Spec.Selector
	}
	return metav1.LabelSelectorAsSelector(sel)
}

package translators

import (
	"cmp"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NewWorkload reads a workload target from the workload object and the pods
// of its namespace (those its selector does not match are ignored): its
// volumes and where they are mounted, and its hosts in Stash's naming with
// the node each host's pod runs on.
func NewWorkload(obj client.Object, pods []corev1.Pod) (*Workload, error) {
	tpl, claims, _, err := podTemplate(obj)
	if err != nil {
		return nil, err
	}
	sel, err := WorkloadSelector(obj)
	if err != nil {
		return nil, err
	}
	w := &Workload{ClaimTemplates: claims}
	w.Volumes = slices.Clone(tpl.Spec.Volumes)
	for _, c := range slices.Concat(tpl.Spec.InitContainers, tpl.Spec.Containers) {
		for _, m := range c.VolumeMounts {
			if !slices.ContainsFunc(w.Mounts, func(x corev1.VolumeMount) bool { return x.Name == m.Name }) {
				w.Mounts = append(w.Mounts, m)
			}
		}
	}
	var running []corev1.Pod
	for _, p := range pods {
		if p.Namespace == obj.GetNamespace() && sel.Matches(labels.Set(p.Labels)) && p.DeletionTimestamp == nil &&
			p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			running = append(running, p)
		}
	}
	slices.SortFunc(running, func(a, b corev1.Pod) int { return cmp.Compare(a.Name, b.Name) })
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		replicas := int32(1)
		if o.Spec.Replicas != nil {
			replicas = *o.Spec.Replicas
		}
		for i := range replicas {
			h := WorkloadHost{Name: fmt.Sprintf("host-%d", i), Claims: map[string]string{}}
			pod := fmt.Sprintf("%s-%d", o.Name, i)
			if j := slices.IndexFunc(running, func(p corev1.Pod) bool { return p.Name == pod }); j >= 0 {
				h.Node = running[j].Spec.NodeName
			}
			for _, t := range w.ClaimTemplates {
				h.Claims[t] = fmt.Sprintf("%s-%s-%d", t, o.Name, i)
			}
			w.Hosts = append(w.Hosts, h)
		}
	case *appsv1.DaemonSet:
		for _, p := range running {
			if !slices.ContainsFunc(w.Hosts, func(h WorkloadHost) bool { return h.Name == p.Spec.NodeName }) {
				w.Hosts = append(w.Hosts, WorkloadHost{Name: p.Spec.NodeName, Node: p.Spec.NodeName})
			}
		}
		slices.SortFunc(w.Hosts, func(a, b WorkloadHost) int { return cmp.Compare(a.Name, b.Name) })
	default:
		h := WorkloadHost{Name: "host-0"}
		if len(running) > 0 {
			h.Node = running[0].Spec.NodeName
		}
		w.Hosts = append(w.Hosts, h)
	}
	return w, nil
}

// NewWorkloadObject is an empty object of a workload kind, to read one
// into; nil for any other kind.
func NewWorkloadObject(kind string) client.Object {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	case "ReplicaSet":
		return &appsv1.ReplicaSet{}
	}
	return nil
}

// WorkloadSelector is the selector of a workload's own pods; a selector
// that selects every pod of the namespace is an error.
func WorkloadSelector(obj client.Object) (labels.Selector, error) {
	_, _, selector, err := podTemplate(obj)
	if err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("spec.selector of %s: %w", obj.GetName(), err)
	}
	if sel.Empty() {
		return nil, fmt.Errorf("spec.selector of %s: selects every pod of the namespace, not the workload's own", obj.GetName())
	}
	return sel, nil
}

// podTemplate is a workload's pod template, its StatefulSet claim
// templates' names and its selector.
func podTemplate(obj client.Object) (*corev1.PodTemplateSpec, []string, *metav1.LabelSelector, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template, nil, o.Spec.Selector, nil
	case *appsv1.ReplicaSet:
		return &o.Spec.Template, nil, o.Spec.Selector, nil
	case *appsv1.StatefulSet:
		var claims []string
		for _, c := range o.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		return &o.Spec.Template, claims, o.Spec.Selector, nil
	case *appsv1.DaemonSet:
		return &o.Spec.Template, nil, o.Spec.Selector, nil
	}
	return nil, nil, nil, fmt.Errorf("%T is not a workload (Deployment, StatefulSet, DaemonSet or ReplicaSet)", obj)
}

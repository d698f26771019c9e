package translators

import (
	"fmt"
	"maps"
	"slices"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// podSettings puts the run's runtimeSettings.pod on the graph's pods. A
// batch member's own pod settings are refused (a run's steps share one pod
// template's settings), and on the local engine, which has no pods, every
// pod setting and the container settings a process cannot take are
// refused, naming the field: none of them is ignored.
func (r *run) podSettings(g *pipeline.Graph, opts Options) error {
	for i := range r.members {
		m := &r.members[i]
		if m.runtime == nil || m.runtime == r.runtime || m.runtime.Pod == nil || !r.isBatch() {
			continue
		}
		return fmt.Errorf("spec.members[%d].runtimeSettings.pod: a member's own pod settings are not supported: set them in the batch's spec.runtimeSettings.pod, which all its steps share", m.index)
	}
	if opts.Local {
		if err := localRuntime("spec.runtimeSettings", r.runtime); err != nil {
			return err
		}
		for i := range r.members {
			m := &r.members[i]
			if m.runtime != r.runtime {
				if err := localRuntime(fmt.Sprintf("spec.members[%d].runtimeSettings", m.index), m.runtime); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if r.runtime == nil || r.runtime.Pod == nil {
		return nil
	}
	p := r.runtime.Pod
	g.ServiceAccountName, g.PriorityClassName = p.ServiceAccountName, p.PriorityClassName
	g.NodeSelector = maps.Clone(p.NodeSelector)
	g.Pod = pipeline.PodSettings{
		Annotations:                  maps.Clone(p.PodAnnotations),
		AutomountServiceAccountToken: p.AutomountServiceAccountToken,
		NodeName:                     p.NodeName,
		SecurityContext:              p.SecurityContext.DeepCopy(),
		ImagePullSecrets:             slices.Clone(p.ImagePullSecrets),
		Affinity:                     p.Affinity.DeepCopy(),
		SchedulerName:                p.SchedulerName,
		Tolerations:                  slices.Clone(p.Tolerations),
		Priority:                     p.Priority,
		ReadinessGates:               slices.Clone(p.ReadinessGates),
		RuntimeClassName:             p.RuntimeClassName,
		EnableServiceLinks:           p.EnableServiceLinks,
		TopologySpreadConstraints:    slices.Clone(p.TopologySpreadConstraints),
	}
	return nil
}

// checkNodeName refuses runtimeSettings.pod.nodeName when a step must run
// on another node: where a workload's volume is mounted.
func checkNodeName(g *pipeline.Graph) error {
	if g.Pod.NodeName == "" {
		return nil
	}
	for _, s := range g.Steps {
		if n := s.Process.NodeName; n != "" && n != g.Pod.NodeName {
			return fmt.Errorf("spec.runtimeSettings.pod.nodeName: %q, but step %q must run on node %q, where the target workload's volumes are mounted; remove nodeName", g.Pod.NodeName, s.Name, n)
		}
	}
	return nil
}

// localRuntime refuses what the local engine cannot do: it runs steps as
// processes of this machine, as its own user, outside any pod and without
// a cluster to resolve ConfigMaps or the pod's own fields.
func localRuntime(field string, rs *v1alpha1.RuntimeSettings) error {
	if rs == nil {
		return nil
	}
	const why = "the local engine runs steps as processes of this machine, as its own user; run on the Argo engine, or remove it"
	if p := rs.Pod; p != nil {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"serviceAccountName", p.ServiceAccountName != ""},
			{"nodeSelector", len(p.NodeSelector) > 0},
			{"priorityClassName", p.PriorityClassName != ""},
			{"podAnnotations", len(p.PodAnnotations) > 0},
			{"automountServiceAccountToken", p.AutomountServiceAccountToken != nil},
			{"nodeName", p.NodeName != ""},
			{"securityContext", p.SecurityContext != nil},
			{"imagePullSecrets", len(p.ImagePullSecrets) > 0},
			{"affinity", p.Affinity != nil},
			{"schedulerName", p.SchedulerName != ""},
			{"tolerations", len(p.Tolerations) > 0},
			{"priority", p.Priority != nil},
			{"readinessGates", len(p.ReadinessGates) > 0},
			{"runtimeClassName", p.RuntimeClassName != nil},
			{"enableServiceLinks", p.EnableServiceLinks != nil},
			{"topologySpreadConstraints", len(p.TopologySpreadConstraints) > 0},
		} {
			if f.set {
				return fmt.Errorf("%s.pod.%s: %s", field, f.name, why)
			}
		}
	}
	c := rs.Container
	if c == nil {
		return nil
	}
	switch {
	case c.SecurityContext != nil:
		return fmt.Errorf("%s.container.securityContext: %s", field, why)
	case c.Lifecycle != nil:
		return fmt.Errorf("%s.container.lifecycle: %s", field, why)
	case len(c.EnvFrom) > 0:
		return fmt.Errorf("%s.container.envFrom: the local engine cannot list a ConfigMap's or Secret's keys; name each variable in env (value or valueFrom.secretKeyRef), or run on the Argo engine", field)
	}
	for i, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef == nil {
			return fmt.Errorf("%s.container.env[%d] (%s).valueFrom: the local engine resolves only value and valueFrom.secretKeyRef (no ConfigMap, pod field or container resource without a cluster); run on the Argo engine, or set a value", field, i, e.Name)
		}
	}
	return nil
}

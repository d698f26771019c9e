package translators

import (
	"fmt"
	"maps"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// podSettings puts the run's runtimeSettings.pod on the graph's pods. A
// batch member's own pod settings are refused (a run's steps share one pod
// template's settings), and on the local engine, which has no pods, every
// pod setting and a container securityContext are refused, naming the
// field: none of them is ignored.
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
	return nil
}

// localRuntime refuses what the local engine cannot do: it runs steps as
// processes of this machine, as its own user, outside any pod.
func localRuntime(field string, rs *v1alpha1.RuntimeSettings) error {
	if rs == nil {
		return nil
	}
	const why = "the local engine runs steps as processes of this machine, as its own user; run on the Argo engine, or remove it"
	if p := rs.Pod; p != nil {
		switch {
		case p.ServiceAccountName != "":
			return fmt.Errorf("%s.pod.serviceAccountName: %s", field, why)
		case len(p.NodeSelector) > 0:
			return fmt.Errorf("%s.pod.nodeSelector: %s", field, why)
		case p.PriorityClassName != "":
			return fmt.Errorf("%s.pod.priorityClassName: %s", field, why)
		}
	}
	if c := rs.Container; c != nil && c.SecurityContext != nil {
		return fmt.Errorf("%s.container.securityContext: %s", field, why)
	}
	return nil
}

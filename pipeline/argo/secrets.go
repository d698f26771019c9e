package argo

import (
	"slices"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// SecretsRead lists the Secrets whose values a Workflow's containers can
// print: Secret name → the keys its environment reads (env secretKeyRef),
// or nil for every key (envFrom secretRef, a Secret volume). The operator
// hides those values in the node messages it copies into a session
// (NodeStatuses' redact), since a container without a termination message
// gets the tail of its log there.
func SecretsRead(wf *wfv1.Workflow) map[string][]string {
	out := map[string][]string{}
	all := func(name string) { out[name] = nil }
	key := func(name, k string) {
		if keys, ok := out[name]; ok && keys == nil {
			return
		}
		if !slices.Contains(out[name], k) {
			out[name] = append(out[name], k)
		}
	}
	container := func(c *corev1.Container) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				key(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				all(e.SecretRef.Name)
			}
		}
	}
	volumes := func(vs []corev1.Volume) {
		for _, v := range vs {
			if v.Secret != nil {
				all(v.Secret.SecretName)
			}
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.Secret != nil {
						all(s.Secret.Name)
					}
				}
			}
		}
	}
	volumes(wf.Spec.Volumes)
	for i := range wf.Spec.Templates {
		t := &wf.Spec.Templates[i]
		volumes(t.Volumes)
		if t.Container != nil {
			container(t.Container)
		}
		if t.Script != nil {
			container(&t.Script.Container)
		}
		for j := range t.InitContainers {
			container(&t.InitContainers[j].Container)
		}
		for j := range t.Sidecars {
			container(&t.Sidecars[j].Container)
		}
	}
	delete(out, "")
	return out
}

// MayQuoteOutput reports whether a message NodeStatuses copies out of wf
// can hold what a container printed, so that the values SecretsRead lists
// must be hidden in it: the message of a node that ended Failed or Error
// (for a container without a termination message, the kubelet puts its
// log's tail there; attempts of a retried step are nodes too), any node
// message in the shape Argo gives a failed container ("<container>:
// <reason> (exit code <n>): <termination message>"), whatever the node's
// phase, and the message of a Workflow that finished (NodeStatuses quotes it
// for steps it did not reach). The messages Argo gives pending and running
// nodes (scheduling, image pulls, "Retrying in …") quote no output and are
// copied as they are.
func MayQuoteOutput(wf *wfv1.Workflow) bool {
	if Finished(wf) && wf.Status.Message != "" {
		return true
	}
	for _, n := range wf.Status.Nodes {
		if n.Message == "" {
			continue
		}
		if n.Phase == wfv1.NodeFailed || n.Phase == wfv1.NodeError {
			return true
		}
		if m := reFailedContainer.FindStringSubmatch(n.Message); m != nil && m[3] != "" {
			return true
		}
	}
	return false
}

package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Format renders the graph as text, steps in topological order (as declared
// when the graph has none): the form golden files and `stashflow describe
// --graph` use. Secret references are shown as secret:<name>/<key>; a Graph
// never holds a secret's value.
func (g *Graph) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s", g.Name)
	if g.Namespace != "" {
		fmt.Fprintf(&b, " (namespace %s)", g.Namespace)
	}
	if g.Timeout > 0 {
		fmt.Fprintf(&b, " timeout %s", g.Timeout)
	}
	if g.SucceededTTL > 0 {
		fmt.Fprintf(&b, " kept %s after it succeeds", g.SucceededTTL)
	}
	b.WriteString("\n")
	writeMap(&b, "  labels", g.Labels)
	if g.ServiceAccountName != "" {
		fmt.Fprintf(&b, "  serviceAccountName: %s\n", g.ServiceAccountName)
	}
	writeMap(&b, "  nodeSelector", g.NodeSelector)
	if g.PriorityClassName != "" {
		fmt.Fprintf(&b, "  priorityClassName: %s\n", g.PriorityClassName)
	}
	if !g.Pod.IsZero() {
		pod, _ := json.Marshal(g.Pod)
		fmt.Fprintf(&b, "  pod: %s\n", pod)
	}
	for _, v := range g.Volumes {
		src, _ := json.Marshal(v.VolumeSource)
		fmt.Fprintf(&b, "  volume %s: %s\n", v.Name, src)
	}
	for _, c := range g.VolumeClaims {
		spec, _ := json.Marshal(c.Spec)
		fmt.Fprintf(&b, "  volume claim %s: %s\n", c.Name, spec)
		writeMap(&b, "    labels", c.Labels)
		writeMap(&b, "    annotations", c.Annotations)
	}
	for _, s := range g.orderedSteps() {
		b.WriteString("\n")
		fmt.Fprintf(&b, "step %s", s.Name)
		if s.DisplayName != "" && s.DisplayName != s.Name {
			fmt.Fprintf(&b, " %q", s.DisplayName)
		}
		b.WriteString("\n")
		writeMap(&b, "  labels", s.Labels)
		writeDeps(&b, "  after", s.Dependencies)
		writeDeps(&b, "  after any of", s.AnyOf)
		p := s.Process
		if p.Image != "" {
			fmt.Fprintf(&b, "  image: %s\n", p.Image)
		}
		fmt.Fprintf(&b, "  command: %s\n", strings.Join(quoteAll(append(slices.Clone(p.Command), p.Args...)), " "))
		if p.WorkingDir != "" {
			fmt.Fprintf(&b, "  workingDir: %s\n", p.WorkingDir)
		}
		for _, e := range p.Env {
			if e.SecretKeyRef != nil {
				opt := ""
				if e.SecretKeyRef.Optional {
					opt = " (optional)"
				}
				fmt.Fprintf(&b, "  env %s=secret:%s/%s%s\n", e.Name, e.SecretKeyRef.Name, e.SecretKeyRef.Key, opt)
				continue
			}
			if e.Source != nil {
				src, _ := json.Marshal(e.Source)
				fmt.Fprintf(&b, "  env %s from %s\n", e.Name, src)
				continue
			}
			fmt.Fprintf(&b, "  env %s=%s\n", e.Name, e.Value)
		}
		if len(p.EnvFrom) > 0 {
			src, _ := json.Marshal(p.EnvFrom)
			fmt.Fprintf(&b, "  envFrom: %s\n", src)
		}
		for _, m := range p.VolumeMounts {
			sub := ""
			if m.SubPath != "" {
				sub = " subPath " + m.SubPath
			}
			if m.ReadOnly {
				sub += " (read-only)"
			}
			fmt.Fprintf(&b, "  mount %s at %s%s\n", m.Name, m.MountPath, sub)
		}
		if p.SecurityContext != nil {
			sc, _ := json.Marshal(p.SecurityContext)
			fmt.Fprintf(&b, "  securityContext: %s\n", sc)
		}
		if p.Lifecycle != nil {
			lc, _ := json.Marshal(p.Lifecycle)
			fmt.Fprintf(&b, "  lifecycle: %s\n", lc)
		}
		if p.NodeName != "" {
			fmt.Fprintf(&b, "  on node %s\n", p.NodeName)
		}
		for _, o := range s.Outputs {
			fmt.Fprintf(&b, "  output %s from %s\n", o.Name, o.Path)
		}
		if s.Timeout > 0 {
			fmt.Fprintf(&b, "  timeout %s\n", s.Timeout)
		}
		if s.Retry.Limit > 0 {
			fmt.Fprintf(&b, "  retry %d times, backoff %s\n", s.Retry.Limit, s.Retry.Backoff)
		}
	}
	return b.String()
}

// orderedSteps is the graph's steps in topological order, or as declared
// when it has none (a cycle, an unknown step, a name used twice).
func (g *Graph) orderedSteps() []*Step {
	steps := make([]*Step, 0, len(g.Steps))
	order, err := g.TopologicalOrder()
	if err != nil {
		for i := range g.Steps {
			steps = append(steps, &g.Steps[i])
		}
		return steps
	}
	for _, name := range order {
		s, _ := g.Step(name)
		steps = append(steps, s)
	}
	return steps
}

func writeMap(b *strings.Builder, title string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	fmt.Fprintf(b, "%s: %s\n", title, strings.Join(parts, ", "))
}

func writeDeps(b *strings.Builder, title string, deps []Dependency) {
	if len(deps) == 0 {
		return
	}
	var parts []string
	for _, d := range deps {
		parts = append(parts, fmt.Sprintf("%s (%s)", d.Step, d.When))
	}
	fmt.Fprintf(b, "%s: %s\n", title, strings.Join(parts, ", "))
}

func quoteAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		if s == "" || strings.ContainsAny(s, " \t\n'\"$") {
			s = fmt.Sprintf("%q", s)
		}
		out[i] = s
	}
	return out
}

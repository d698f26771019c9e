package argo

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// identity is what makes two steps share a container template: everything
// that shapes the pod except the values passed as input parameters (args,
// label values, env values that carry output references).
type identity struct {
	Image      string                      `json:"image"`
	Command    []string                    `json:"command"`
	Env        []pipeline.EnvVar           `json:"env"`
	EnvFrom    []corev1.EnvFromSource      `json:"envFrom"`
	Lifecycle  *corev1.Lifecycle           `json:"lifecycle"`
	WorkingDir string                      `json:"workingDir"`
	Mounts     []corev1.VolumeMount        `json:"mounts"`
	Resources  corev1.ResourceRequirements `json:"resources"`
	NodeName   string                      `json:"nodeName"`
	Security   *corev1.SecurityContext     `json:"securityContext"`
	Outputs    []pipeline.Output           `json:"outputs"`
	Timeout    time.Duration               `json:"timeout"`
	Retry      pipeline.RetryPolicy        `json:"retry"`
	Args       int                         `json:"args"`
	LabelKeys  []string                    `json:"labelKeys"`
}

func identityOf(s *pipeline.Step, defaultImage string) identity {
	p := s.Process
	id := identity{
		Image:      p.Image,
		Command:    p.Command,
		WorkingDir: p.WorkingDir,
		Mounts:     p.VolumeMounts,
		Resources:  p.Resources,
		NodeName:   p.NodeName,
		Security:   p.SecurityContext,
		EnvFrom:    p.EnvFrom,
		Lifecycle:  p.Lifecycle,
		Timeout:    s.Timeout,
		Args:       len(p.Args),
		LabelKeys:  slices.Sorted(maps.Keys(s.Labels)),
	}
	if id.Image == "" {
		id.Image = defaultImage
	}
	for _, e := range p.Env {
		if e.Name != outputs.DirEnv { // the engine owns it
			id.Env = append(id.Env, e)
		}
	}
	for _, o := range s.Outputs {
		id.Outputs = append(id.Outputs, pipeline.Output{Name: o.Name, Path: path.Clean(o.Path)})
	}
	if s.Retry.Limit > 0 {
		id.Retry = s.Retry
		if id.Retry.Factor == 0 {
			id.Retry.Factor = 2
		}
		if id.Retry.Backoff == 0 {
			id.Retry.Factor, id.Retry.MaxBackoff = 0, 0
		}
	}
	return id
}

// group is the steps that share one container template, and which of their
// values the template takes as input parameters.
type group struct {
	name string
	// affinity is the graph's pod affinity, which a template that pins its
	// pod to a node must keep (a template's affinity replaces the Workflow's).
	affinity *corev1.Affinity
	id       identity
	steps    []*pipeline.Step
	// Parameter names per position; "" where the template holds the value.
	args, command, env []string
	// Parameter name per label key whose value differs between the steps.
	labels map[string]string
}

// renderSteps builds the container templates (deduplicated) and the DAG
// tasks, both in the given (topological) order.
func renderSteps(steps []*pipeline.Step, defaultImage string, affinity *corev1.Affinity) ([]wfv1.Template, []wfv1.DAGTask, error) {
	var groups []*group
	byKey := map[string]*group{}
	groupOf := map[string]*group{}
	for _, s := range steps {
		id := identityOf(s, defaultImage)
		raw, err := json.Marshal(id)
		if err != nil {
			return nil, nil, fmt.Errorf("step %q: %w", s.Name, err)
		}
		g, ok := byKey[string(raw)]
		if !ok {
			g = &group{id: id, affinity: affinity}
			byKey[string(raw)] = g
			groups = append(groups, g)
		}
		g.steps = append(g.steps, s)
		groupOf[s.Name] = g
	}

	usedNames := map[string]bool{EntrypointTemplate: true}
	templates := make([]wfv1.Template, 0, len(groups))
	for _, g := range groups {
		g.name = uniqueName(usedNames, templateBaseName(g.steps[0]))
		g.chooseParameters()
		templates = append(templates, g.template())
	}

	tasks := make([]wfv1.DAGTask, 0, len(steps))
	for _, s := range steps {
		tasks = append(tasks, groupOf[s.Name].task(s))
	}
	return templates, tasks, nil
}

// chooseParameters decides which values become input parameters: those
// that differ between the group's steps, and those that refer to another
// step's outputs (only a DAG task can resolve {{tasks.X.outputs...}}).
func (g *group) chooseParameters() {
	used := map[string]bool{}
	first := g.steps[0]
	varies := func(get func(*pipeline.Step) string) bool {
		v := get(first)
		if len(pipeline.OutputRefs(v)) > 0 {
			return true
		}
		return slices.ContainsFunc(g.steps[1:], func(s *pipeline.Step) bool { return get(s) != v })
	}

	g.args = make([]string, g.id.Args)
	for i := range g.args {
		if varies(func(s *pipeline.Step) string { return s.Process.Args[i] }) {
			g.args[i] = uniqueName(used, fmt.Sprintf("args-%d", i))
		}
	}
	g.command = make([]string, len(g.id.Command))
	for i, c := range g.id.Command {
		if len(pipeline.OutputRefs(c)) > 0 {
			g.command[i] = uniqueName(used, fmt.Sprintf("command-%d", i))
		}
	}
	g.env = make([]string, len(g.id.Env))
	for i, e := range g.id.Env {
		if e.SecretKeyRef == nil && len(pipeline.OutputRefs(e.Value)) > 0 {
			g.env[i] = uniqueName(used, "env-"+paramChars(e.Name))
		}
	}
	g.labels = map[string]string{}
	for _, k := range g.id.LabelKeys {
		if varies(func(s *pipeline.Step) string { return s.Labels[k] }) {
			g.labels[k] = uniqueName(used, "label-"+paramChars(strings.TrimPrefix(k, "stashflow.dev/")))
		}
	}
}

// template renders the group's container template.
func (g *group) template() wfv1.Template {
	first := g.steps[0]
	c := &corev1.Container{
		Name:       "main",
		Image:      g.id.Image,
		Command:    fill(g.id.Command, g.command),
		Args:       fill(first.Process.Args, g.args),
		WorkingDir: g.id.WorkingDir,
		Resources:  g.id.Resources,
		// A Function writes its failure's cause to /dev/termination-log
		// (stashflow fn does); for any other command the kubelet takes the
		// log's tail. Argo puts it in the node's message.
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext:          g.id.Security.DeepCopy(),
		EnvFrom:                  slices.Clone(g.id.EnvFrom),
		Lifecycle:                g.id.Lifecycle.DeepCopy(),
		VolumeMounts: append(slices.Clone(g.id.Mounts), corev1.VolumeMount{
			Name: OutputsVolume, MountPath: outputs.Dir,
		}),
	}
	for i, e := range g.id.Env {
		v := corev1.EnvVar{Name: e.Name, Value: e.Value}
		switch {
		case e.SecretKeyRef != nil:
			v.Value = ""
			v.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: e.SecretKeyRef.Name},
				Key:                  e.SecretKeyRef.Key,
				Optional:             optional(e.SecretKeyRef.Optional),
			}}
		case e.Source != nil:
			v.Value, v.ValueFrom = "", e.Source.DeepCopy()
		case g.env[i] != "":
			v.Value = inputRef(g.env[i])
		default:
			v.Value = kubeLiteral(e.Value)
		}
		c.Env = append(c.Env, v)
	}
	c.Env = append(c.Env, memoryLimitEnv(g.id)...)
	c.Env = append(c.Env, corev1.EnvVar{Name: outputs.DirEnv, Value: outputs.Dir})

	t := wfv1.Template{Name: g.name, Container: c, Affinity: nodeAffinity(g.id.NodeName, g.affinity)}
	for _, names := range [][]string{g.args, g.command, g.env} {
		for _, n := range names {
			if n != "" {
				t.Inputs.Parameters = append(t.Inputs.Parameters, wfv1.Parameter{Name: n})
			}
		}
	}
	for _, k := range g.id.LabelKeys {
		if t.Metadata.Labels == nil {
			t.Metadata.Labels = map[string]string{}
		}
		if n, ok := g.labels[k]; ok {
			t.Inputs.Parameters = append(t.Inputs.Parameters, wfv1.Parameter{Name: n})
			t.Metadata.Labels[k] = inputRef(n)
		} else {
			t.Metadata.Labels[k] = first.Labels[k]
		}
	}
	for _, o := range g.id.Outputs {
		t.Outputs.Parameters = append(t.Outputs.Parameters, wfv1.Parameter{
			Name:      o.Name,
			ValueFrom: &wfv1.ValueFrom{Path: o.Path},
		})
	}
	if g.id.Timeout > 0 {
		t.ActiveDeadlineSeconds = ptr.To(intstr.FromInt32(int32(min(seconds(g.id.Timeout), math.MaxInt32))))
	}
	t.RetryStrategy = retryStrategy(g.id.Retry)
	return t
}

// memoryLimitEnv tells a step with a memory limit its limit: the
// container's resources.limits.memory through the Downward API, which the
// Function runtime splits between its process and restic. Without a limit
// the Downward API would give the node's allocatable memory, so there is
// no variable; a step that sets the variable itself keeps its value.
func memoryLimitEnv(id identity) []corev1.EnvVar {
	if _, ok := id.Resources.Limits[corev1.ResourceMemory]; !ok {
		return nil
	}
	if slices.ContainsFunc(id.Env, func(e pipeline.EnvVar) bool { return e.Name == outputs.MemoryLimitEnv }) {
		return nil
	}
	return []corev1.EnvVar{{Name: outputs.MemoryLimitEnv, ValueFrom: &corev1.EnvVarSource{
		ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1")},
	}}}
}

// task renders the DAG task of one step of the group.
func (g *group) task(s *pipeline.Step) wfv1.DAGTask {
	t := wfv1.DAGTask{
		Name:     s.Name,
		Template: g.name,
		Depends:  stepDepends(s),
	}
	add := func(name, value string) {
		t.Arguments.Parameters = append(t.Arguments.Parameters, wfv1.Parameter{Name: name, Value: wfv1.AnyStringPtr(value)})
	}
	for i, n := range g.args {
		if n != "" {
			add(n, kubeLiteral(taskRefs(s.Process.Args[i])))
		}
	}
	for i, n := range g.command {
		if n != "" {
			add(n, kubeLiteral(taskRefs(s.Process.Command[i])))
		}
	}
	for i, n := range g.env {
		if n != "" {
			add(n, kubeLiteral(taskRefs(g.id.Env[i].Value)))
		}
	}
	for _, k := range g.id.LabelKeys {
		if n, ok := g.labels[k]; ok {
			add(n, s.Labels[k])
		}
	}
	return t
}

func retryStrategy(r pipeline.RetryPolicy) *wfv1.RetryStrategy {
	if r.Limit <= 0 {
		return nil
	}
	rs := &wfv1.RetryStrategy{
		Limit: ptr.To(intstr.FromInt32(int32(min(r.Limit, math.MaxInt32)))),
		// The local engine retries every failed attempt: a non-zero exit, a
		// timeout, or the process not starting. Argo calls the last kind
		// Error (pod deleted, evicted, image not pulled), so retry both.
		RetryPolicy: wfv1.RetryPolicyAlways,
	}
	if r.Backoff > 0 {
		rs.Backoff = &wfv1.Backoff{
			Duration: formatDuration(r.Backoff),
			Factor:   ptr.To(intstr.FromInt32(int32(min(r.Factor, math.MaxInt32)))),
		}
		if r.MaxBackoff > 0 {
			rs.Backoff.Cap = formatDuration(r.MaxBackoff)
		}
	}
	return rs
}

// fill returns values (as kubeLiterals) with the positions that have a
// parameter name replaced by a reference to that input parameter.
func fill(values, params []string) []string {
	if len(values) == 0 {
		return nil
	}
	out := make([]string, len(values))
	for i, v := range values {
		if params[i] != "" {
			out[i] = inputRef(params[i])
		} else {
			out[i] = kubeLiteral(v)
		}
	}
	return out
}

// kubeLiteral escapes s for a container's command, args or env value, where
// the kubelet expands $(VAR) from the container's env and reads $$ as $: a
// '$' before '(' or '$' is doubled, so the process gets s exactly, as it
// does on the local engine.
func kubeLiteral(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '(') {
			b.WriteByte('$')
		}
	}
	return b.String()
}

func inputRef(param string) string { return "{{inputs.parameters." + param + "}}" }

// taskRefs rewrites $(steps.X.outputs.Y) as {{tasks.X.outputs.parameters.Y}}.
func taskRefs(s string) string {
	return pipeline.ReplaceOutputRefs(s, func(r pipeline.OutputRef) string {
		return "{{tasks." + r.Step + ".outputs.parameters." + r.Output + "}}"
	})
}

// templateBaseName names a template after its first step's Template (e.g.
// the Function it invokes), or after the step.
func templateBaseName(s *pipeline.Step) string {
	if n := nameChars(s.Template); n != "" {
		return n
	}
	return s.Name
}

var (
	notNameChars  = regexp.MustCompile(`[^a-z0-9-]+`)
	notParamChars = regexp.MustCompile(`[^-a-zA-Z0-9_]+`)
)

// nameChars makes s a template name: lower-case letters, digits and '-',
// starting and ending with a letter or digit, at most 63 characters.
func nameChars(s string) string {
	s = strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

func paramChars(s string) string { return notParamChars.ReplaceAllString(s, "_") }

// uniqueName returns base, or base-2, base-3, ... whichever is not yet used,
// and marks it used.
func uniqueName(used map[string]bool, base string) string {
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	used[name] = true
	return name
}

func optional(b bool) *bool {
	if !b {
		return nil
	}
	return ptr.To(true)
}

// nodeAffinity pins a pod to one node by name, as the DaemonSet controller
// does (matchFields on metadata.name: a node's name, unlike its hostname
// label, is always set), keeping the rest of base, the graph's affinity:
// the pin is added to each of base's required node selector terms (terms
// are ORed, requirements within one ANDed). nil for no node.
func nodeAffinity(node string, base *corev1.Affinity) *corev1.Affinity {
	if node == "" {
		return nil
	}
	pin := corev1.NodeSelectorRequirement{
		Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
	}
	a := base.DeepCopy()
	if a == nil {
		a = &corev1.Affinity{}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	req := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if req == nil || len(req.NodeSelectorTerms) == 0 {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pin}}},
		}
		return a
	}
	for i := range req.NodeSelectorTerms {
		req.NodeSelectorTerms[i].MatchFields = append(req.NodeSelectorTerms[i].MatchFields, pin)
	}
	return a
}

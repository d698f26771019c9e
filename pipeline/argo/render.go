package argo

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// MaxSteps is the largest graph one Argo DAG template accepts: Render refuses
// a graph with more steps. It is Argo's limit, not the model's: the local
// engine runs graphs of any size.
const MaxSteps = 200

// Names the renderer gives to what it adds.
const (
	// EntrypointTemplate is the dag template every rendered workflow starts in.
	EntrypointTemplate = "main"
	// OutputsVolume is the emptyDir mounted at outputs.Dir in every step.
	OutputsVolume = "stashflow-outputs"
	// DefaultTTL keeps a finished Workflow this long unless Options say otherwise.
	DefaultTTL = 24 * time.Hour

	// AnnotationTitle and AnnotationDescription are read by the Argo UI's
	// workflow list (markdown allowed). Set them in Graph.Annotations to
	// override the defaults Render writes.
	AnnotationTitle       = "workflows.argoproj.io/title"
	AnnotationDescription = "workflows.argoproj.io/description"
)

// Options tune how a graph becomes a Workflow. The zero value is usable.
type Options struct {
	// Name of the Workflow; default WorkflowName(g.Name).
	Name string
	// Namespace of the Workflow; default g.Namespace.
	Namespace string
	// ServiceAccountName overrides g.ServiceAccountName for the steps' pods.
	ServiceAccountName string
	// DefaultImage runs steps whose Process.Image is empty.
	DefaultImage string
	// PodGCStrategy deletes step pods; default OnPodCompletion.
	PodGCStrategy wfv1.PodGCStrategy
	// TTLAfterCompletion deletes the Workflow this long after it finished;
	// zero means DefaultTTL, negative means never.
	TTLAfterCompletion time.Duration
	// Labels are added to the Workflow's labels; the graph's labels win on a
	// conflict (they link the Workflow to its session).
	Labels map[string]string
}

// Render turns a valid graph into one Argo Workflow: a dag template named
// EntrypointTemplate with one task per step, and one container template per
// distinct step process (see doc.go for the shape). The result passes Validate.
func Render(g *pipeline.Graph, opts Options) (*wfv1.Workflow, error) {
	if g == nil {
		return nil, errors.New("argo: nil graph")
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("argo: invalid graph %q: %w", g.Name, err)
	}
	if err := checkRenderable(g, opts); err != nil {
		return nil, fmt.Errorf("argo: graph %q: %w", g.Name, err)
	}
	name := opts.Name
	if name == "" {
		if g.Name == "" {
			return nil, errors.New("argo: graph has no name and Options.Name is empty")
		}
		name = WorkflowName(g.Name)
	}
	order, err := g.TopologicalOrder()
	if err != nil {
		return nil, fmt.Errorf("argo: graph %q: %w", g.Name, err)
	}
	steps := make([]*pipeline.Step, len(order))
	for i, n := range order {
		steps[i], _ = g.Step(n)
	}

	templates, tasks, err := renderSteps(steps, opts.DefaultImage, g.Pod.Affinity)
	if err != nil {
		return nil, fmt.Errorf("argo: graph %q: %w", g.Name, err)
	}
	dag := wfv1.Template{
		Name: EntrypointTemplate,
		DAG: &wfv1.DAGTemplate{
			Tasks: tasks,
			// Argo's default stops scheduling new tasks after the first
			// failure; our graphs route failures to OnFailure/OnEnd steps and
			// let independent branches (targets of a Parallel batch) go on.
			FailFast: ptr.To(false),
		},
	}

	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   cmp.Or(opts.Namespace, g.Namespace),
			Labels:      mergeMaps(opts.Labels, g.Labels),
			Annotations: workflowAnnotations(g),
		},
		Spec: wfv1.WorkflowSpec{
			Entrypoint:           EntrypointTemplate,
			Templates:            append([]wfv1.Template{dag}, templates...),
			ServiceAccountName:   cmp.Or(opts.ServiceAccountName, g.ServiceAccountName),
			NodeSelector:         maps.Clone(g.NodeSelector),
			PodPriorityClassName: g.PriorityClassName,
			Volumes:              append(slices.Clone(g.Volumes), outputsVolume()),
			PodGC:                &wfv1.PodGC{Strategy: cmp.Or(opts.PodGCStrategy, wfv1.PodGCOnPodCompletion)},
			TTLStrategy:          ttlStrategy(opts.TTLAfterCompletion, g.SucceededTTL),
		},
	}
	if len(g.VolumeClaims) > 0 {
		wf.Spec.VolumeClaimTemplates = volumeClaimTemplates(g.VolumeClaims)
		// Argo makes <workflow>-<name> when the Workflow starts; delete it
		// when the Workflow ends, whatever the outcome: a claim per run.
		wf.Spec.VolumeClaimGC = &wfv1.VolumeClaimGC{Strategy: wfv1.VolumeClaimGCOnCompletion}
	}
	if len(g.Labels)+len(g.Pod.Annotations) > 0 {
		// Pods carry the session's labels too: kubectl get pods -l stashflow.dev/session=NAME.
		wf.Spec.PodMetadata = &wfv1.Metadata{Labels: maps.Clone(g.Labels), Annotations: maps.Clone(g.Pod.Annotations)}
	}
	if err := setPodSettings(&wf.Spec, &g.Pod); err != nil {
		return nil, fmt.Errorf("argo: graph %q: %w", g.Name, err)
	}
	if g.Timeout > 0 {
		wf.Spec.ActiveDeadlineSeconds = ptr.To(seconds(g.Timeout))
	}
	return wf, nil
}

// WorkflowName derives a Workflow name from a graph name, the same for the
// same input: the name itself when it is a DNS label of at most 63
// characters, else a cleaned, shortened form with a hash suffix.
func WorkflowName(graphName string) string {
	if len(validation.IsDNS1123Label(graphName)) == 0 {
		return graphName
	}
	clean := strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(graphName), "-"), "-")
	sum := sha256.Sum256([]byte(graphName))
	suffix := hex.EncodeToString(sum[:])[:10]
	const maxPrefix = 63 - 1 - 10
	if len(clean) > maxPrefix {
		clean = strings.TrimRight(clean[:maxPrefix], "-")
	}
	if clean == "" {
		return "stashflow-" + suffix
	}
	return clean + "-" + suffix
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// checkRenderable rejects what a valid graph may hold but a Workflow cannot.
func checkRenderable(g *pipeline.Graph, opts Options) error {
	var errs []error
	if len(g.Steps) > MaxSteps {
		errs = append(errs, fmt.Errorf("graph has %d steps, more than the %d one Argo DAG template accepts", len(g.Steps), MaxSteps))
	}
	if err := checkLabels("labels", g.Labels); err != nil {
		errs = append(errs, err)
	}
	if err := checkLabels("options labels", opts.Labels); err != nil {
		errs = append(errs, err)
	}
	volumes := map[string]bool{}
	for _, v := range g.Volumes {
		if v.Name == OutputsVolume {
			errs = append(errs, fmt.Errorf("volume %q: the name is reserved for the outputs directory", v.Name))
		}
		volumes[v.Name] = true
	}
	for _, c := range g.VolumeClaims {
		if c.Name == OutputsVolume {
			errs = append(errs, fmt.Errorf("volume claim %q: the name is reserved for the outputs directory", c.Name))
		}
		volumes[c.Name] = true
	}
	for i := range g.Steps {
		s := &g.Steps[i]
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("step %q: "+format, append([]any{s.Name}, args...)...))
		}
		if s.Process.Image == "" && opts.DefaultImage == "" {
			fail("process.image is empty and Options.DefaultImage is not set")
		}
		if exprKeywords[s.Name] {
			fail("name is a keyword of Argo's depends expressions")
		}
		if err := checkLabels("labels", s.Labels); err != nil {
			fail("%v", err)
		}
		for _, m := range s.Process.VolumeMounts {
			if !volumes[m.Name] {
				fail("volume mount %q: no such volume in the graph", m.Name)
			}
			if p := path.Clean(m.MountPath); p == outputs.Dir || strings.HasPrefix(outputs.Dir, p+"/") {
				fail("volume mount %q at %s would hide the outputs directory %s", m.Name, m.MountPath, outputs.Dir)
			}
		}
		for _, v := range literals(s) {
			if strings.Contains(v, "{{") {
				fail("%q contains '{{', which Argo would read as a template tag", v)
			}
		}
	}
	return errors.Join(errs...)
}

// literals lists every string of a step that ends up in the Workflow.
func literals(s *pipeline.Step) []string {
	out := []string{s.Process.Image, s.Process.WorkingDir}
	out = append(out, s.Process.Command...)
	out = append(out, s.Process.Args...)
	for _, e := range s.Process.Env {
		out = append(out, e.Value)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		out = append(out, k, s.Labels[k])
	}
	return out
}

// exprKeywords are names expr (Argo's depends evaluator) cannot take as an
// identifier; a step named so could never be depended on. The list is
// checked against expr itself in TestDependsOnAwkwardNames.
var exprKeywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "matches": true, "contains": true,
	"true": true, "false": true, "nil": true, "let": true, "if": true, "else": true,
}

func checkLabels(what string, labels map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Errorf("%s: key %q: %s", what, k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			errs = append(errs, fmt.Errorf("%s: %s=%q: %s", what, k, labels[k], msg))
		}
	}
	return errors.Join(errs...)
}

func workflowAnnotations(g *pipeline.Graph) map[string]string {
	a := maps.Clone(g.Annotations)
	if a == nil {
		a = map[string]string{}
	}
	if _, ok := a[AnnotationTitle]; !ok && g.Name != "" {
		a[AnnotationTitle] = g.Name
	}
	if _, ok := a[AnnotationDescription]; !ok {
		a[AnnotationDescription] = describe(g)
	}
	return a
}

// describe summarizes the graph for the Argo UI's workflow list.
func describe(g *pipeline.Graph) string {
	names := make([]string, 0, len(g.Steps))
	for _, s := range g.Steps {
		names = append(names, s.Name)
	}
	const shown = 8
	if len(names) > shown {
		names = append(names[:shown], "…")
	}
	return fmt.Sprintf("stashflow run, %d steps: %s", len(g.Steps), strings.Join(names, ", "))
}

// volumeClaimTemplates are the graph's claims as Argo's: the claim's
// labels, annotations and spec under the volume's name.
func volumeClaimTemplates(claims []pipeline.VolumeClaim) []corev1.PersistentVolumeClaim {
	out := make([]corev1.PersistentVolumeClaim, 0, len(claims))
	for _, c := range claims {
		out = append(out, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Labels: maps.Clone(c.Labels), Annotations: maps.Clone(c.Annotations)},
			Spec:       *c.Spec.DeepCopy(),
		})
	}
	return out
}

func outputsVolume() corev1.Volume {
	return corev1.Volume{Name: OutputsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

// ttlStrategy keeps a finished Workflow for completion (DefaultTTL when
// zero, for ever when negative), and one that succeeded for succeeded when
// that is shorter (Graph.SucceededTTL only ever shortens: a Workflow that
// succeeded is never kept longer than one that failed).
func ttlStrategy(completion, succeeded time.Duration) *wfv1.TTLStrategy {
	if completion == 0 {
		completion = DefaultTTL
	}
	var s wfv1.TTLStrategy
	if completion > 0 {
		s.SecondsAfterCompletion = ptr.To(ttlSeconds(completion))
	}
	if succeeded > 0 && (completion < 0 || succeeded < completion) {
		s.SecondsAfterSuccess = ptr.To(ttlSeconds(succeeded))
	}
	if s.SecondsAfterCompletion == nil && s.SecondsAfterSuccess == nil {
		return nil
	}
	return &s
}

func ttlSeconds(d time.Duration) int32 {
	return int32(min(seconds(d), math.MaxInt32))
}

// dependsExpression renders a step's dependencies as an Argo depends
// expression; "" when it has none.
func dependsExpression(deps []pipeline.Dependency) string {
	terms := make([]string, 0, len(deps))
	for _, d := range deps {
		terms = append(terms, dependsTerm(d))
	}
	return strings.Join(terms, " && ")
}

// stepDepends renders all of a step's edges: every Dependency, and at least
// one of AnyOf. Argo evaluates the expression once every task it names has
// completed, which is the local engine's rule too.
func stepDepends(s *pipeline.Step) string {
	expr := dependsExpression(s.Dependencies)
	if len(s.AnyOf) == 0 {
		return expr
	}
	terms := make([]string, 0, len(s.AnyOf))
	for _, d := range s.AnyOf {
		terms = append(terms, dependsTerm(d))
	}
	anyOf := "(" + strings.Join(terms, " || ") + ")"
	if expr == "" {
		return anyOf
	}
	return expr + " && " + anyOf
}

func dependsTerm(d pipeline.Dependency) string {
	var results []string
	switch d.When {
	case pipeline.OnSuccess:
		return d.Step + ".Succeeded"
	case pipeline.OnFailure:
		results = []string{"Failed", "Errored"}
	case pipeline.OnEnd:
		results = []string{"Succeeded", "Failed", "Errored", "Skipped", "Omitted"}
	}
	for i, r := range results {
		results[i] = d.Step + "." + r
	}
	return "(" + strings.Join(results, " || ") + ")"
}

// seconds rounds a duration up to whole seconds, at least 1.
func seconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}

// formatDuration writes a duration the way people do ("30s", "2m", "1h30m").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func mergeMaps(low, high map[string]string) map[string]string {
	if len(low)+len(high) == 0 {
		return nil
	}
	out := maps.Clone(low)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, high)
	return out
}

// setPodSettings puts the graph's pod settings on the Workflow: those Argo
// has a field for as that field, the other pod spec fields as the
// Workflow's podSpecPatch, which Argo merges into every pod it creates.
func setPodSettings(spec *wfv1.WorkflowSpec, p *pipeline.PodSettings) error {
	spec.SecurityContext = p.SecurityContext.DeepCopy()
	spec.ImagePullSecrets = slices.Clone(p.ImagePullSecrets)
	spec.Affinity = p.Affinity.DeepCopy()
	spec.SchedulerName = p.SchedulerName
	spec.Tolerations = slices.Clone(p.Tolerations)
	if p.AutomountServiceAccountToken != nil {
		spec.AutomountServiceAccountToken = ptr.To(*p.AutomountServiceAccountToken)
		if !*p.AutomountServiceAccountToken {
			// Argo's executor (its init and wait containers) still needs
			// a token to report outputs: it mounts the executor's
			// ServiceAccount's token into those containers only.
			spec.Executor = &wfv1.ExecutorConfig{ServiceAccountName: cmp.Or(spec.ServiceAccountName, "default")}
		}
	}
	patch := corev1.PodSpec{
		NodeName:                  p.NodeName,
		Priority:                  p.Priority,
		ReadinessGates:            p.ReadinessGates,
		RuntimeClassName:          p.RuntimeClassName,
		EnableServiceLinks:        p.EnableServiceLinks,
		TopologySpreadConstraints: p.TopologySpreadConstraints,
	}
	if reflect.DeepEqual(patch, corev1.PodSpec{}) {
		return nil
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("pod settings: %w", err)
	}
	// PodSpec's containers field has no omitempty: drop it from the patch.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("pod settings: %w", err)
	}
	delete(fields, "containers")
	raw, err = json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("pod settings: %w", err)
	}
	spec.PodSpecPatch = string(raw)
	return nil
}

package translators

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// chain is one target's part of the graph: an optional pre hook, the
// Function steps one after another, an optional post hook.
type chain struct {
	m     *member
	pre   *pipeline.Step
	steps []pipeline.Step
	post  *pipeline.Step
	// postPolicy is the post hook's executionPolicy.
	postPolicy v1alpha1.HookExecutionPolicy
}

// first is where the target starts; last is where it ends.
func (c *chain) first() *pipeline.Step {
	if c.pre != nil {
		return c.pre
	}
	return &c.steps[0]
}

func (c *chain) last() *pipeline.Step {
	if c.post != nil {
		return c.post
	}
	return &c.steps[len(c.steps)-1]
}

// work is the pre hook and the Function steps: the nodes whose failure
// makes the target fail.
func (c *chain) work() []*pipeline.Step {
	var out []*pipeline.Step
	if c.pre != nil {
		out = append(out, c.pre)
	}
	for i := range c.steps {
		out = append(out, &c.steps[i])
	}
	return out
}

// translate builds the graph of a run.
//
// Within a target, each node runs only if the one before it succeeded, so a
// failure leaves the rest of the target Omitted. The post hook waits for the
// last Function step and runs per its policy: Always (OnEnd), OnSuccess (the
// last step succeeded), OnFailure (any of the pre hook and steps failed).
// With a global pre hook, each target's first node and post hook need it to
// have succeeded. Sequential: a target's first node also waits for the
// previous target's end, whatever its outcome. The global post hook waits
// for every target's end, like Tekton's finally, and its policy looks at the
// targets' pre hooks and Function steps (a failed post hook is reported, but
// does not turn a global OnSuccess hook off).
func (r *run) translate(objs *Objects, opts Options) (*Plan, error) {
	if objs.Repository == nil {
		return nil, errors.New("spec.repository: the Repository was not resolved")
	}
	if len(r.members) == 0 {
		return nil, errors.New("spec.members: the run has no targets")
	}
	prePhase, postPhase := r.kind.hookPhases()
	plan := &Plan{Graph: &pipeline.Graph{
		Name:      r.name,
		Namespace: r.namespace,
		Timeout:   r.timeout,
		Labels:    r.labels(),
	}}
	if err := r.podSettings(plan.Graph, opts); err != nil {
		return nil, err
	}

	var errs []error
	var globalPre, globalPost *pipeline.Step
	globalPrefix := "global-"
	if r.globalPre != nil {
		s, err := r.hookStep(r.globalPre, globalPrefix+kebab(prePhase), prePhase, nil, objs, opts)
		errs = append(errs, wrap("spec.hooks."+prePhase, err))
		globalPre = &s
	}
	if r.globalPost != nil {
		s, err := r.hookStep(&r.globalPost.Hook, globalPrefix+kebab(postPhase), postPhase, nil, objs, opts)
		errs = append(errs, wrap("spec.hooks."+postPhase, err))
		globalPost = &s
	}

	chains, chainErrs := r.chains(plan, objs, opts)
	errs = append(errs, chainErrs...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var repoInit *pipeline.Step
	if r.needsRepositoryInit(objs) {
		s := r.repositoryInitStep(objs, opts)
		repoInit = &s
	}
	for i, c := range chains {
		c.link(globalPre)
		if repoInit != nil {
			c.first().Dependencies = append(c.first().Dependencies, pipeline.Dependency{Step: repoInit.Name, When: pipeline.OnSuccess})
		}
		if r.order == v1alpha1.Sequential && i > 0 {
			c.first().Dependencies = append(c.first().Dependencies, pipeline.Dependency{Step: chains[i-1].last().Name, When: pipeline.OnEnd})
		}
	}
	if globalPost != nil {
		linkGlobalPost(globalPost, r.globalPost.Policy(), globalPre, chains)
		if repoInit != nil && r.globalPost.Policy() == v1alpha1.HookExecuteOnFailure {
			globalPost.AnyOf = append(globalPost.AnyOf, pipeline.Dependency{Step: repoInit.Name, When: pipeline.OnFailure})
		}
	}

	g := plan.Graph
	if repoInit != nil {
		g.Steps = append(g.Steps, *repoInit)
		plan.Layout.RepositoryInit = repoInit.Name
	}
	if globalPre != nil {
		g.Steps = append(g.Steps, *globalPre)
		plan.Layout.GlobalPreHook = globalPre.Name
	}
	for _, c := range chains {
		if c.pre != nil {
			g.Steps = append(g.Steps, *c.pre)
		}
		g.Steps = append(g.Steps, c.steps...)
		if c.post != nil {
			g.Steps = append(g.Steps, *c.post)
		}
	}
	if globalPost != nil {
		g.Steps = append(g.Steps, *globalPost)
		plan.Layout.GlobalPostHook = globalPost.Name
	}
	if err := checkNodeName(g); err != nil {
		return nil, err
	}
	if handlesFailure(g.Steps) {
		v := r.verdictStep(g.Steps, opts)
		g.Steps = append(g.Steps, v)
		plan.Layout.Verdict = v.Name
	}
	vols, err := r.volumes(objs)
	if err != nil {
		return nil, err
	}
	g.Volumes = vols
	names := map[string]bool{}
	for _, v := range vols {
		names[v.Name] = true
	}
	if g.VolumeClaims, err = r.volumeClaims(names); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("the translated graph is invalid: %w", err)
	}
	if len(g.Steps) > v1alpha1.MaxRunSteps {
		return nil, fmt.Errorf("the run has %d steps, more than the %d a session's run record (status.plan) holds: split the batch", len(g.Steps), v1alpha1.MaxRunSteps)
	}
	return plan, nil
}

// chains turns every member into its chain (pre hook, Function steps, post
// hook) and appends its layout to plan.
func (r *run) chains(plan *Plan, objs *Objects, opts Options) ([]*chain, []error) {
	prePhase, postPhase := r.kind.hookPhases()
	prefixes := r.stepPrefixes()
	chains := make([]*chain, len(r.members))
	var errs []error
	for i := range r.members {
		m := &r.members[i]
		if err := r.nameClaim(m, prefixes[i], opts); err != nil {
			errs = append(errs, err)
			continue
		}
		vars := r.memberVariables(m, objs, opts)
		c := &chain{m: m}
		hostname := vars["HOSTNAME"]
		var (
			steps    []pipeline.Step
			refs     []v1alpha1.StepRef
			warnings []string
			err      error
		)
		if m.ref != nil && IsWorkload(m.ref.Kind) {
			steps, refs, warnings, err = r.workloadSteps(m, objs, prefixes[i], opts)
			hostname = ""
		} else {
			steps, refs, warnings, err = r.functionSteps(m, objs, vars, prefixes[i], opts)
		}
		plan.Warnings = append(plan.Warnings, warnings...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.steps = steps
		layout := v1alpha1.TargetLayout{Hostname: hostname, Steps: refs}
		if m.ref != nil {
			ref := *m.ref
			layout.Ref = &ref
		}
		hookField := r.hookField(m)
		if m.pre != nil {
			s, err := r.hookStep(m.pre, prefixes[i]+kebab(prePhase), prePhase, m, objs, opts)
			errs = append(errs, wrap(hookField+"."+prePhase, err))
			c.pre, layout.PreHook = &s, s.Name
		}
		if m.post != nil {
			s, err := r.hookStep(&m.post.Hook, prefixes[i]+kebab(postPhase), postPhase, m, objs, opts)
			errs = append(errs, wrap(hookField+"."+postPhase, err))
			c.post, c.postPolicy, layout.PostHook = &s, m.post.Policy(), s.Name
		}
		chains[i] = c
		plan.Layout.Targets = append(plan.Layout.Targets, layout)
	}
	return chains, errs
}

// link wires a target's own edges.
func (c *chain) link(globalPre *pipeline.Step) {
	prev := c.pre
	for i := range c.steps {
		if prev != nil && !slices.ContainsFunc(c.steps[i].Dependencies, func(d pipeline.Dependency) bool { return d.Step == prev.Name }) {
			c.steps[i].Dependencies = append(c.steps[i].Dependencies, pipeline.Dependency{Step: prev.Name, When: pipeline.OnSuccess})
		}
		prev = &c.steps[i]
	}
	if globalPre != nil {
		c.first().Dependencies = append(c.first().Dependencies, pipeline.Dependency{Step: globalPre.Name, When: pipeline.OnSuccess})
	}
	if c.post == nil {
		return
	}
	lastStep := c.steps[len(c.steps)-1].Name
	switch c.postPolicy {
	case v1alpha1.HookExecuteOnSuccess:
		c.post.Dependencies = append(c.post.Dependencies, pipeline.Dependency{Step: lastStep, When: pipeline.OnSuccess})
	case v1alpha1.HookExecuteOnFailure:
		// AnyOf waits for all of them, the last step included.
		for _, s := range c.work() {
			c.post.AnyOf = append(c.post.AnyOf, pipeline.Dependency{Step: s.Name, When: pipeline.OnFailure})
		}
	default:
		c.post.Dependencies = append(c.post.Dependencies, pipeline.Dependency{Step: lastStep, When: pipeline.OnEnd})
	}
	if globalPre != nil {
		c.post.Dependencies = append(c.post.Dependencies, pipeline.Dependency{Step: globalPre.Name, When: pipeline.OnSuccess})
	}
}

func linkGlobalPost(post *pipeline.Step, policy v1alpha1.HookExecutionPolicy, globalPre *pipeline.Step, chains []*chain) {
	var anyOf []pipeline.Dependency
	if globalPre != nil && policy == v1alpha1.HookExecuteOnFailure {
		anyOf = append(anyOf, pipeline.Dependency{Step: globalPre.Name, When: pipeline.OnFailure})
	}
	for _, c := range chains {
		end := c.last().Name
		switch policy {
		case v1alpha1.HookExecuteOnSuccess:
			if c.post != nil {
				post.Dependencies = append(post.Dependencies, pipeline.Dependency{Step: end, When: pipeline.OnEnd})
			}
			post.Dependencies = append(post.Dependencies, pipeline.Dependency{Step: c.steps[len(c.steps)-1].Name, When: pipeline.OnSuccess})
		case v1alpha1.HookExecuteOnFailure:
			if c.post != nil {
				post.Dependencies = append(post.Dependencies, pipeline.Dependency{Step: end, When: pipeline.OnEnd})
			}
			for _, s := range c.work() {
				anyOf = append(anyOf, pipeline.Dependency{Step: s.Name, When: pipeline.OnFailure})
			}
		default:
			post.Dependencies = append(post.Dependencies, pipeline.Dependency{Step: end, When: pipeline.OnEnd})
		}
	}
	post.AnyOf = anyOf
	if globalPre != nil && policy != v1alpha1.HookExecuteOnFailure && len(chains) == 0 {
		post.Dependencies = append(post.Dependencies, pipeline.Dependency{Step: globalPre.Name, When: pipeline.OnEnd})
	}
}

// needsRepositoryInit: the members of a Parallel backup batch start at
// once; into a repository not known to be initialised (no Initialized
// condition: `stashflow run`, which has no Repository controller) one step
// initialises it first. In a cluster the Repository controller initialises
// every repository before a session may use it, so the step is not added.
func (r *run) needsRepositoryInit(objs *Objects) bool {
	return r.kind == backupRun && r.isBatch() && r.order != v1alpha1.Sequential && len(r.members) > 1 &&
		objs.Repository != nil && !initialized(objs.Repository.Status.Conditions)
}

// initialized reports whether a Repository's Initialized condition is True.
func initialized(conds []v1alpha1.Condition) bool {
	for _, c := range conds {
		if c.Type == "Initialized" {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// repositoryInitStep runs `stashflow fn repository-init` with the
// repository's environment and volume, before every member.
func (r *run) repositoryInitStep(objs *Objects, opts Options) pipeline.Step {
	p := pipeline.Process{Image: opts.Image, Command: []string{"stashflow"}, Args: []string{"fn", "repository-init"}}
	addRepository(&p, objs.Repository)
	if r.runtime != nil && r.runtime.Container != nil {
		applyContainerSettings(&p, r.runtime.Container)
	}
	return pipeline.Step{
		Name:        "repository-init",
		DisplayName: "initialise the repository",
		Process:     p,
		Template:    "repository-init",
		Labels:      stepLabels(nil, StepKindFunction, "", "repository-init"),
	}
}

// handlesFailure reports whether some step runs after another failed: a
// post hook's OnFailure or Always policy, a Sequential batch's OnEnd edges,
// an AnyOf. Then the failure no longer fails the engine's run by itself.
func handlesFailure(steps []pipeline.Step) bool {
	for i := range steps {
		if len(steps[i].AnyOf) > 0 {
			return true
		}
		for _, d := range steps[i].Dependencies {
			if d.When != pipeline.OnSuccess {
				return true
			}
		}
	}
	return false
}

// verdictStep is the last step of a graph that handles failures: it waits
// for every step, runs only if one of them failed, and fails (`stashflow fn
// verdict`). So the engine's own verdict on the run, the Argo Workflow's
// phase that Argo's UI, metrics and notifications show, is Failed exactly
// when the session is; a run in which nothing failed never starts it.
func (r *run) verdictStep(steps []pipeline.Step, opts Options) pipeline.Step {
	name := "verdict"
	for n := 2; slices.ContainsFunc(steps, func(s pipeline.Step) bool { return s.Name == name }); n++ {
		name = fmt.Sprintf("verdict-%d", n)
	}
	session := r.name
	if r.namespace != "" {
		session = r.namespace + "/" + r.name
	}
	s := pipeline.Step{
		Name:        name,
		DisplayName: "verdict: fail the run if a step failed",
		Process: pipeline.Process{Image: opts.Image, Command: []string{"stashflow"}, Args: []string{
			"fn", "verdict", "--kind=" + r.labels()[v1alpha1.LabelSessionKind], "--session=" + session,
		}},
		Template: "verdict",
		Labels:   stepLabels(nil, StepKindVerdict, "", "verdict"),
	}
	for _, st := range steps {
		s.AnyOf = append(s.AnyOf, pipeline.Dependency{Step: st.Name, When: pipeline.OnFailure})
	}
	return s
}

// stepPrefixes name each target's steps: no prefix for a single-target run,
// the target's name (made DNS-safe and unique) in a batch.
func (r *run) stepPrefixes() []string {
	out := make([]string, len(r.members))
	if len(r.members) == 1 && !r.isBatch() {
		return out
	}
	used := map[string]bool{}
	for i, m := range r.members {
		base := fmt.Sprintf("t%d", i)
		if m.ref != nil && m.ref.Name != "" {
			base = kebab(m.ref.Name)
		}
		if len(base) > 30 {
			base = strings.TrimRight(base[:30], "-")
		}
		if base == "" || base[0] < 'a' || base[0] > 'z' {
			base = "t-" + base
		}
		p := base
		for n := 2; used[p]; n++ {
			p = fmt.Sprintf("%s-%d", base, n)
		}
		used[p] = true
		out[i] = p + "-"
	}
	return out
}

func (r *run) isBatch() bool {
	return r.invoker.Kind == v1alpha1.KindBackupBatch || r.invoker.Kind == "RestoreBatch"
}

func (r *run) hookField(m *member) string {
	if r.isBatch() {
		return fmt.Sprintf("spec.members[%d].hooks", m.index)
	}
	return "spec.hooks"
}

func (r *run) labels() map[string]string {
	kind := "BackupSession"
	if r.kind == restoreRun {
		kind = "RestoreSession"
		if r.isBatch() {
			kind = "RestoreBatch"
		}
	}
	return map[string]string{
		v1alpha1.LabelSession:     r.name,
		v1alpha1.LabelSessionKind: kind,
		v1alpha1.LabelInvoker:     r.invoker.Name,
		v1alpha1.LabelInvokerKind: r.invoker.Kind,
		v1alpha1.LabelManagedBy:   v1alpha1.ManagedByValue,
	}
}

// volumes are the graph's volumes: the repository's (local backends), the
// interim directory, PVC targets and the Tasks' own.
func (r *run) volumes(objs *Objects) ([]corev1.Volume, error) {
	byName := map[string]corev1.Volume{}
	add := func(v corev1.Volume, owner string) error {
		if old, ok := byName[v.Name]; ok && !equalVolumes(old, v) {
			return fmt.Errorf("%s: volume %q is defined differently by two Tasks of this run", owner, v.Name)
		}
		byName[v.Name] = v
		return nil
	}
	if l := objs.Repository.Spec.Backend.Local; l != nil {
		v := corev1.Volume{Name: repositoryVolume}
		switch {
		case l.HostPath != nil:
			v.HostPath = l.HostPath.DeepCopy()
		case l.PersistentVolumeClaim != nil:
			v.PersistentVolumeClaim = l.PersistentVolumeClaim.DeepCopy()
		}
		_ = add(v, "spec.repository")
	}
	interim := corev1.Volume{Name: interimVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	for _, m := range r.members {
		if m.tempDir != nil {
			interim.EmptyDir.Medium = corev1.StorageMedium(m.tempDir.Medium)
			interim.EmptyDir.SizeLimit = m.tempDir.SizeLimit
		}
	}
	_ = add(interim, "spec.tempDir")
	var errs []error
	for i := range r.members {
		m := &r.members[i]
		if m.ref != nil && m.ref.Kind == "PersistentVolumeClaim" {
			_ = add(corev1.Volume{Name: targetVolume(m), VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: m.ref.Name},
			}}, "spec.target")
		}
		name, err := r.taskName(m, objs)
		if err != nil || objs.Tasks[name] == nil {
			continue
		}
		for _, tv := range objs.Tasks[name].Spec.Volumes {
			errs = append(errs, add(taskVolume(tv), fmt.Sprintf("task %q", name)))
		}
	}
	for _, v := range r.hostVolumes {
		_ = add(v, "spec.target")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(byName))
	out := make([]corev1.Volume, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return out, nil
}

func taskVolume(tv v1alpha1.TaskVolume) corev1.Volume {
	v := corev1.Volume{Name: tv.Name}
	v.EmptyDir, v.HostPath, v.PersistentVolumeClaim = tv.EmptyDir, tv.HostPath, tv.PersistentVolumeClaim
	v.Secret, v.ConfigMap = tv.Secret, tv.ConfigMap
	return *v.DeepCopy()
}

func equalVolumes(a, b corev1.Volume) bool {
	return a.String() == b.String()
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// kebab turns preBackup into pre-backup and My_DB into my-db.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return strings.Trim(nonDNS.ReplaceAllString(b.String(), "-"), "-")
}

func wrap(field string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", field, err)
}

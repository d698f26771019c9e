package translators

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// Names of steps that translate specially.
const (
	// updateStatusFunction is Stash's status-reporting step; stashflow reads
	// status from the engine, so a Task that lists it still translates and
	// the step is dropped with a warning.
	updateStatusFunction = "update-status"
	// retentionFunction is dropped when the invoker has no retention policy.
	retentionFunction = "retention"
)

// Volume names the translator adds to a graph.
const (
	repositoryVolume = "repository"
	interimVolume    = "interim"
)

// taskName is the Task a member runs: its own, or one inferred from its target.
func (r *run) taskName(m *member, objs *Objects) (string, error) {
	if m.task != nil && m.task.Name != "" {
		return m.task.Name, nil
	}
	suffix := "backup"
	if r.kind == restoreRun {
		suffix = "restore"
	}
	if name := InferTask(suffix, m.ref, memberAppBinding(m, objs)); name != "" {
		return name, nil
	}
	return "", fmt.Errorf("%s: no task given and none can be inferred from the target", r.memberField(m))
}

// memberAppBinding is the AppBinding m targets, nil if it targets another
// kind.
func memberAppBinding(m *member, objs *Objects) *v1alpha1.AppBinding {
	if m.ref == nil || m.ref.Kind != "AppBinding" {
		return nil
	}
	return objs.AppBindings[m.ref.Name]
}

// InferTask is the Task a target without one runs, "" if none fits: an
// AppBinding of type etcd (or kubedb.com/etcd) runs etcd-<op>, a
// PersistentVolumeClaim or a workload volume-<op>; op is "backup" or "restore".
func InferTask(op string, ref *v1alpha1.TargetRef, ab *v1alpha1.AppBinding) string {
	if ref == nil {
		return ""
	}
	switch {
	case ref.Kind == "PersistentVolumeClaim", IsWorkload(ref.Kind):
		return "volume-" + op
	case ref.Kind == "AppBinding":
		if ab != nil && ab.Spec.Type != "" {
			return appType(ab.Spec.Type) + "-" + op
		}
	}
	return ""
}

// appType is the last part of an AppBinding type such as "kubedb.com/etcd".
func appType(t string) string {
	if i := strings.LastIndex(t, "/"); i >= 0 {
		t = t[i+1:]
	}
	return strings.ToLower(t)
}

// TaskOrigin is the field a refusal of a member's Task names: the
// member's task name (taskField+".name") when it gives one, else its
// target (targetField), saying that the Task was inferred from it
// (InferTask), so that the user is sent to the field they wrote.
func TaskOrigin(taskField, targetField string, task *v1alpha1.TaskRef, ref *v1alpha1.TargetRef, ab *v1alpha1.AppBinding) string {
	switch {
	case task != nil && task.Name != "", ref == nil:
		return taskField + ".name"
	case ref.Kind == "AppBinding" && ab != nil:
		return fmt.Sprintf("%s (no task set: the Task is inferred from AppBinding %q of type %q)", targetField, ref.Name, ab.Spec.Type)
	default:
		return fmt.Sprintf("%s (no task set: the Task is inferred from %s %q)", targetField, ref.Kind, ref.Name)
	}
}

func (r *run) memberField(m *member) string {
	if len(r.members) == 1 && r.invoker.Kind != v1alpha1.KindBackupBatch && r.invoker.Kind != "RestoreBatch" {
		return "spec.task"
	}
	return fmt.Sprintf("spec.members[%d].task", m.index)
}

// functionSteps turns a member's Task into process steps, in Task order.
func (r *run) functionSteps(m *member, objs *Objects, vars Variables, prefix string, opts Options) ([]pipeline.Step, []v1alpha1.StepRef, []string, error) {
	taskName, err := r.taskName(m, objs)
	if err != nil {
		return nil, nil, nil, err
	}
	task := objs.Tasks[taskName]
	// Refusals of the Task name the field it came from.
	taskField := TaskOrigin(r.memberField(m), r.targetField(m)+".ref", m.task, m.ref, memberAppBinding(m, objs))
	var warnings []string
	if stash := StashTaskName(taskName); task == nil && stash != "" && objs.Tasks[stash] != nil {
		task = objs.Tasks[stash]
		warnings = append(warnings, fmt.Sprintf("%s: Stash's Task %q runs stashflow's Task %q", r.memberField(m), taskName, stash))
	}
	if task == nil {
		return nil, nil, nil, fmt.Errorf("%s: Task %q not found", taskField, taskName)
	}
	if len(task.Spec.Steps) == 0 {
		return nil, nil, nil, fmt.Errorf("task %q has no steps", taskName)
	}
	var invokerParams []v1alpha1.Param
	if m.task != nil {
		invokerParams = m.task.Params
	}
	if err := checkInvokerParams(task, objs, invokerParams, r.memberField(m)); err != nil {
		return nil, nil, nil, err
	}
	var (
		steps []pipeline.Step
		refs  []v1alpha1.StepRef
		used  = map[string]int{}
	)
	for i, ts := range task.Spec.Steps {
		field := fmt.Sprintf("task %q steps[%d]", taskName, i)
		switch {
		case ts.Name == updateStatusFunction:
			warnings = append(warnings, fmt.Sprintf("%s: Stash's %q step is not needed (status comes from the engine) and was dropped", field, ts.Name))
			continue
		case ts.Name == retentionFunction && r.retention == nil:
			if r.kind == backupRun {
				warnings = append(warnings, fmt.Sprintf("%s: no retentionPolicy is set, so the %q step was dropped", field, ts.Name))
			}
			continue
		}
		fn := objs.Functions[ts.Name]
		if fn == nil {
			return nil, nil, nil, fmt.Errorf("%s: Function %q not found", field, ts.Name)
		}
		params := Variables{}
		for _, p := range ts.Params {
			if !references(fn, p.Name) {
				return nil, nil, nil, fmt.Errorf("%s: param %q is not used by Function %q (it has no ${%s})", field, p.Name, fn.Name, p.Name)
			}
			params[p.Name] = p.Value
		}
		for _, p := range invokerParams {
			if references(fn, p.Name) {
				params[p.Name] = p.Value
			}
		}
		proc, err := process(fn, vars.With(params))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", field, err)
		}
		r.addStepEnvironment(&proc, m, objs, opts)
		name := prefix + ts.Name
		if used[name]++; used[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[name])
		}
		step := pipeline.Step{
			Name:        name,
			DisplayName: ts.Name,
			Process:     proc,
			Template:    fn.Name,
			Labels:      stepLabels(m, StepKindFunction, "", fn.Name),
		}
		var declared []string
		for _, o := range fn.Spec.Outputs {
			step.Outputs = append(step.Outputs, pipeline.Output{Name: o.Name, Path: o.Path})
			declared = append(declared, o.Name)
		}
		if err := r.checkSnapshots(m, fn, declared, vars); err != nil {
			return nil, nil, nil, err
		}
		steps = append(steps, step)
		refs = append(refs, v1alpha1.StepRef{Name: name, Function: fn.Name, Role: v1alpha1.StepRole(outputs.RoleOf(declared, r.kind == restoreRun)), Outputs: declared})
	}
	if len(steps) == 0 {
		return nil, nil, warnings, fmt.Errorf("task %q has no steps left to run", taskName)
	}
	if r.kind == backupRun {
		if err := NoBackupStep(taskField, task, objs.Functions); err != nil {
			return nil, nil, warnings, err
		}
	}
	return steps, refs, warnings, nil
}

// BacksUp reports whether a step of Function fn backs up its target, that
// is, writes a snapshot: its step has the Backup role (outputs.RoleOf: fn
// declares snapshotID and none of integrity, keptSnapshots and
// forgottenSnapshots) and fn does not read ${RESTORE_SNAPSHOTS}, the
// snapshots a restore is given (a restore Function declares snapshotID
// too: the snapshot it restored).
func BacksUp(fn *v1alpha1.Function) bool {
	declared := make([]string, 0, len(fn.Spec.Outputs))
	for _, o := range fn.Spec.Outputs {
		declared = append(declared, o.Name)
	}
	return outputs.RoleOf(declared, false) == outputs.RoleBackup && !references(fn, "RESTORE_SNAPSHOTS")
}

// NoBackupStep refuses a Task that a backup invoker would run without
// backing anything up: one none of whose steps' Functions BacksUp, such as
// a Task of repository-check or retention alone, or a restore Task. field
// names where the Task comes from (TaskOrigin). Steps whose Function is
// not in fns are left to the caller, which reports them as not found;
// Stash's update-status step is ignored as everywhere.
func NoBackupStep(field string, task *v1alpha1.Task, fns map[string]*v1alpha1.Function) error {
	var seen []string
	for _, s := range task.Spec.Steps {
		fn := fns[s.Name]
		if s.Name == updateStatusFunction || fn == nil {
			continue
		}
		if BacksUp(fn) {
			return nil
		}
		seen = append(seen, s.Name)
	}
	return fmt.Errorf("%s: Task %q has no step that backs up: none of its Functions (%s) declares the %s output without reading ${RESTORE_SNAPSHOTS} or declaring %s, %s or %s, "+
		"so a session would write no snapshot; name a backup Task, or add a backup step to this one",
		field, task.Name, strings.Join(seen, ", "), outputs.SnapshotID, outputs.Integrity, outputs.KeptSnapshots, outputs.ForgottenSnapshots)
}

// checkSnapshots refuses a restore rule that lists several snapshots for a
// Function that restores one. Stash restores each snapshot of a rule in
// turn into the target; a Function that does so declares the
// outputs.SnapshotIDs output (volume-restore: files, each snapshot laid
// over the last). A Function that restores a single stream (a database
// dump, an etcd snapshot) declares none, and the rule is refused naming
// the field rather than run as one step that cannot find a snapshot
// named "a,b".
func (r *run) checkSnapshots(m *member, fn *v1alpha1.Function, declared []string, vars Variables) error {
	if r.kind != restoreRun || slices.Contains(declared, outputs.SnapshotIDs) || !references(fn, "RESTORE_SNAPSHOTS") {
		return nil
	}
	i := restoreRuleIndex(m.rules, vars["HOSTNAME"])
	if i < 0 || len(m.rules[i].Snapshots) < 2 {
		return nil
	}
	return fmt.Errorf("%s.%s[%d].snapshots: %d snapshots in one rule, but Function %q restores one snapshot (a single stream; it declares no %s output): "+
		"restore each with its own RestoreSession, or name one snapshot (or latest)",
		strings.TrimSuffix(r.memberField(m), ".task"), m.rulesField, i, len(m.rules[i].Snapshots), fn.Name, outputs.SnapshotIDs)
}

// checkInvokerParams rejects params of a BackupConfiguration's task that no
// Function of the Task uses: a misspelt param would otherwise pass silently.
func checkInvokerParams(task *v1alpha1.Task, objs *Objects, params []v1alpha1.Param, field string) error {
	for i, p := range params {
		used := false
		for _, ts := range task.Spec.Steps {
			if fn := objs.Functions[ts.Name]; fn != nil && references(fn, p.Name) {
				used = true
			}
		}
		if !used {
			return fmt.Errorf("%s.params[%d]: param %q is not used by any Function of Task %q", field, i, p.Name, task.Name)
		}
	}
	return nil
}

// references reports whether the Function mentions ${name} anywhere.
func references(fn *v1alpha1.Function, name string) bool {
	for _, s := range functionStrings(fn) {
		if strings.Contains(s, "${"+name+"}") || strings.Contains(s, "${"+name+":") {
			return true
		}
	}
	return false
}

func functionStrings(fn *v1alpha1.Function) []string {
	s := append([]string{fn.Spec.Image, fn.Spec.WorkingDir}, fn.Spec.Command...)
	s = append(s, fn.Spec.Args...)
	for _, e := range fn.Spec.Env {
		s = append(s, e.Value)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			s = append(s, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	return s
}

// process substitutes variables into a Function and returns what runs.
func process(fn *v1alpha1.Function, vars Variables) (pipeline.Process, error) {
	var errs []string
	sub := func(field, s string) string {
		out, err := vars.Substitute(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("Function %q %s: %v", fn.Name, field, err))
		}
		return out
	}
	subAll := func(field string, in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = sub(fmt.Sprintf("%s[%d]", field, i), s)
		}
		return out
	}
	p := pipeline.Process{
		Image:        sub("image", fn.Spec.Image),
		Command:      subAll("command", fn.Spec.Command),
		Args:         subAll("args", fn.Spec.Args),
		WorkingDir:   sub("workingDir", fn.Spec.WorkingDir),
		VolumeMounts: slices.Clone(fn.Spec.VolumeMounts),
	}
	for i, e := range fn.Spec.Env {
		field := fmt.Sprintf("env[%d] (%s)", i, e.Name)
		switch {
		case e.ValueFrom == nil:
			p.Env = append(p.Env, pipeline.EnvVar{Name: e.Name, Value: sub(field, e.Value)})
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			name, key := sub(field+".valueFrom.secretKeyRef.name", ref.Name), sub(field+".valueFrom.secretKeyRef.key", ref.Key)
			optional := ref.Optional != nil && *ref.Optional
			if name == "" && optional {
				continue // e.g. ${TARGET_SECRET_NAME:=} for a target without a Secret
			}
			p.Env = append(p.Env, pipeline.EnvVar{Name: e.Name, SecretKeyRef: &pipeline.SecretKeyRef{Name: name, Key: key, Optional: optional}})
		default:
			errs = append(errs, fmt.Sprintf("Function %q %s: only value and valueFrom.secretKeyRef are supported", fn.Name, field))
		}
	}
	if fn.Spec.RuntimeSettings != nil {
		applyContainerSettings(&p, fn.Spec.RuntimeSettings)
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return p, nil
}

// addStepEnvironment gives a Function step the repository, the target's
// volume, the interim directory and the run's container settings.
func (r *run) addStepEnvironment(p *pipeline.Process, m *member, objs *Objects, opts Options) {
	addRepository(p, objs.Repository)
	if m.ref != nil && m.ref.Kind == "PersistentVolumeClaim" {
		p.VolumeMounts = append(p.VolumeMounts, corev1.VolumeMount{Name: targetVolume(m), MountPath: targetMountPath(m.ref.Name)})
	}
	p.VolumeMounts = append(p.VolumeMounts, corev1.VolumeMount{Name: interimVolume, MountPath: InterimDir})
	if !opts.Local {
		// Stash's tempDir holds a step's temporary files and restic's
		// cache: in a pod both go into the scratch volume, so that
		// tempDir's medium and sizeLimit govern them. (The local engine
		// keeps restic's cache in the user's cache directory, shared by
		// runs.)
		p.Env = appendUnset(p.Env, pipeline.EnvVar{Name: "TMPDIR", Value: InterimDir},
			pipeline.EnvVar{Name: "RESTIC_CACHE_DIR", Value: InterimDir + "/restic-cache"})
	}
	if m.claim != "" {
		// The target's interimVolumeTemplate: INTERIM_DATA_DIR is the claim,
		// in the environment too, for scripts that read $INTERIM_DATA_DIR.
		p.VolumeMounts = append(p.VolumeMounts, corev1.VolumeMount{Name: m.claim, MountPath: InterimVolumeDir})
		p.Env = appendUnset(p.Env, pipeline.EnvVar{Name: "INTERIM_DATA_DIR", Value: InterimVolumeDir})
	}
	if m.ref != nil && m.ref.Kind == "AppBinding" {
		p.Env = append(p.Env, appBindingEnv(objs.AppBindings[m.ref.Name])...)
	}
	if m.tempDir != nil && m.tempDir.DisableCaching {
		p.Env = append(p.Env, pipeline.EnvVar{Name: outputs.NoCacheEnv, Value: "true"})
	}
	settings := []*v1alpha1.RuntimeSettings{r.runtime}
	if m.runtime != r.runtime { // a batch member's own, after the batch's
		settings = append(settings, m.runtime)
	}
	for _, rs := range settings {
		if rs != nil && rs.Container != nil {
			applyContainerSettings(p, rs.Container)
		}
	}
}

// addRepository gives a process the repository's environment (the
// process's own variables win) and, for a local backend, its volume.
func addRepository(p *pipeline.Process, repo *v1alpha1.Repository) {
	env := RepositoryEnv(repo)
	for _, e := range p.Env {
		env = slices.DeleteFunc(env, func(x pipeline.EnvVar) bool { return x.Name == e.Name })
	}
	p.Env = append(env, p.Env...)
	if repo != nil && repo.Spec.Backend.Local != nil {
		l := repo.Spec.Backend.Local
		p.VolumeMounts = append(p.VolumeMounts, corev1.VolumeMount{Name: repositoryVolume, MountPath: l.MountPath, SubPath: l.SubPath})
	}
}

func applyContainerSettings(p *pipeline.Process, c *v1alpha1.ContainerRuntimeSettings) {
	if c.Resources != nil {
		p.Resources = *c.Resources.DeepCopy()
	}
	if c.SecurityContext != nil {
		p.SecurityContext = c.SecurityContext.DeepCopy()
	}
	// nice and ionice apply to the step's own process, which restic and
	// every other child inherit (stashflow fn reads them; see outputs.NiceEnv).
	setEnv := func(name string, v *int32) {
		if v != nil {
			p.Env = slices.DeleteFunc(p.Env, func(e pipeline.EnvVar) bool { return e.Name == name })
			p.Env = append(p.Env, pipeline.EnvVar{Name: name, Value: strconv.Itoa(int(*v))})
		}
	}
	if c.Nice != nil {
		setEnv(outputs.NiceEnv, c.Nice.Adjustment)
	}
	if c.IONice != nil {
		setEnv(outputs.IONiceClassEnv, c.IONice.Class)
		setEnv(outputs.IONiceClassDataEnv, c.IONice.ClassData)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			p.Env = append(p.Env, pipeline.EnvVar{Name: e.Name, Value: e.Value})
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			p.Env = append(p.Env, pipeline.EnvVar{Name: e.Name, SecretKeyRef: &pipeline.SecretKeyRef{Name: ref.Name, Key: ref.Key, Optional: ref.Optional != nil && *ref.Optional}})
		default: // a ConfigMap key, a pod field, a container resource: the cluster resolves it
			p.Env = append(p.Env, pipeline.EnvVar{Name: e.Name, Source: e.ValueFrom.DeepCopy()})
		}
	}
	p.EnvFrom = append(p.EnvFrom, c.EnvFrom...)
	if c.Lifecycle != nil {
		p.Lifecycle = c.Lifecycle.DeepCopy()
	}
}

func targetVolume(m *member) string { return fmt.Sprintf("target-%d", m.index) }

// appBindingEnv is what an AppBinding says about reaching its server beyond
// its URL, for every Function step of the target: the CA bundle, the TLS
// server name, whether to skip verification, and its parameters. None of it
// is secret (credentials stay in the AppBinding's Secret).
func appBindingEnv(ab *v1alpha1.AppBinding) []pipeline.EnvVar {
	if ab == nil {
		return nil
	}
	var env []pipeline.EnvVar
	cc := &ab.Spec.ClientConfig
	if len(cc.CABundle) > 0 {
		env = append(env, pipeline.EnvVar{Name: outputs.TargetCABundleEnv, Value: string(cc.CABundle)})
	}
	if cc.ServerName != "" {
		env = append(env, pipeline.EnvVar{Name: outputs.TargetServerNameEnv, Value: cc.ServerName})
	}
	if cc.InsecureSkipTLSVerify {
		env = append(env, pipeline.EnvVar{Name: outputs.TargetInsecureSkipTLSVerifyEnv, Value: "true"})
	}
	if p := ab.Spec.Parameters; p != nil && len(p.Raw) > 0 {
		env = append(env, pipeline.EnvVar{Name: outputs.TargetParametersEnv, Value: string(p.Raw)})
	}
	return env
}

// appendUnset appends the variables env does not set already (the
// Function's own env wins).
func appendUnset(env []pipeline.EnvVar, vars ...pipeline.EnvVar) []pipeline.EnvVar {
	for _, v := range vars {
		if !slices.ContainsFunc(env, func(e pipeline.EnvVar) bool { return e.Name == v.Name }) {
			env = append(env, v)
		}
	}
	return env
}

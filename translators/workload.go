package translators

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// Workload is a Deployment, StatefulSet, DaemonSet or ReplicaSet target as
// the controllers (or `stashflow run`) resolved it from the workload and its
// pods.
type Workload struct {
	// Volumes of the pod template.
	Volumes []corev1.Volume
	// Mounts are where the pod template's containers mount its volumes: the
	// first mount of each volume.
	Mounts []corev1.VolumeMount
	// ClaimTemplates are a StatefulSet's volumeClaimTemplates' names: each
	// host mounts its own claim, <template>-<statefulset>-<ordinal>.
	ClaimTemplates []string
	// Hosts in Stash's naming: host-0 for a Deployment or ReplicaSet, host-<ordinal>
	// for each replica of a StatefulSet, the node's name for a DaemonSet.
	Hosts []WorkloadHost
}

// WorkloadHost is one host of a workload.
type WorkloadHost struct {
	Name string
	// Node is where the host's pod runs; empty when none runs (a backup
	// then cannot run; a restore does not need it).
	Node string
	// Claims are the host's own claims by volume name (a StatefulSet's
	// volumeClaimTemplates).
	Claims map[string]string
}

// workloadKinds are the apps/v1 kinds a target may be.
var workloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

// IsWorkload reports whether a target kind is a workload whose volumes are
// backed up.
func IsWorkload(kind string) bool { return slices.Contains(workloadKinds, kind) }

// WorkloadKey is the key of a workload in Objects.Workloads.
func WorkloadKey(kind, name string) string { return kind + "/" + name }

// workloadVolume is one of the workload's volumes a target's steps mount.
type workloadVolume struct {
	name  string
	mount corev1.VolumeMount // where the steps mount it: the workload's mountPath
	src   corev1.Volume
}

// workloadVolumes are the volumes a workload target's steps mount: those
// volumeMounts names (at the mountPath given there), else every volume
// backed by a claim (at the workload's own mountPath).
func (r *run) workloadVolumes(m *member, w *Workload) ([]workloadVolume, error) {
	field := r.targetField(m)
	// The pod's volumes, in order, then the StatefulSet's claim templates,
	// which replace a pod volume of their name (as the StatefulSet
	// controller does).
	byName := map[string]corev1.Volume{}
	var names []string
	for _, v := range w.Volumes {
		byName[v.Name], names = v, append(names, v.Name)
	}
	for _, t := range w.ClaimTemplates {
		if _, ok := byName[t]; !ok {
			names = append(names, t)
		}
		byName[t] = corev1.Volume{Name: t, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}}
	}
	mountOf := func(name string) (corev1.VolumeMount, bool) {
		i := slices.IndexFunc(w.Mounts, func(vm corev1.VolumeMount) bool { return vm.Name == name })
		if i < 0 {
			return corev1.VolumeMount{}, false
		}
		return w.Mounts[i], true
	}
	var out []workloadVolume
	if len(m.volumeMounts) == 0 {
		for _, n := range names {
			v := byName[n]
			if mt, ok := mountOf(n); ok && v.PersistentVolumeClaim != nil {
				out = append(out, workloadVolume{name: n, mount: corev1.VolumeMount{Name: n, MountPath: mt.MountPath, SubPath: mt.SubPath}, src: v})
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: %s/%s mounts no volume backed by a PersistentVolumeClaim; name the volumes to back up in %s.volumeMounts", field, m.ref.Kind, m.ref.Name, field)
		}
		return out, nil
	}
	for i, vm := range m.volumeMounts {
		v, ok := byName[vm.Name]
		if !ok {
			return nil, fmt.Errorf("%s.volumeMounts[%d]: %s/%s has no volume %q", field, i, m.ref.Kind, m.ref.Name, vm.Name)
		}
		if v.PersistentVolumeClaim == nil && v.HostPath == nil {
			return nil, fmt.Errorf("%s.volumeMounts[%d]: volume %q of %s/%s is not a PersistentVolumeClaim or hostPath: its data lives and dies with the pod, and a step cannot mount it", field, i, vm.Name, m.ref.Kind, m.ref.Name)
		}
		if !path.IsAbs(vm.MountPath) {
			return nil, fmt.Errorf("%s.volumeMounts[%d]: mountPath %q is not absolute", field, i, vm.MountPath)
		}
		out = append(out, workloadVolume{name: vm.Name, mount: corev1.VolumeMount{Name: vm.Name, MountPath: path.Clean(vm.MountPath), SubPath: vm.SubPath}, src: v})
	}
	return out, nil
}

// workloadPaths are a workload target's paths: those it names, each within
// a mounted volume, else the volumes' mount paths.
func (r *run) workloadPaths(m *member, vols []workloadVolume) ([]string, error) {
	if len(m.paths) == 0 {
		out := make([]string, 0, len(vols))
		for _, v := range vols {
			out = append(out, v.mount.MountPath)
		}
		return out, nil
	}
	for i, p := range m.paths {
		in := slices.ContainsFunc(vols, func(v workloadVolume) bool {
			c := path.Clean(p)
			return path.IsAbs(p) && (c == v.mount.MountPath || strings.HasPrefix(c, strings.TrimSuffix(v.mount.MountPath, "/")+"/"))
		})
		if !in {
			var mounts []string
			for _, v := range vols {
				mounts = append(mounts, v.name+" at "+v.mount.MountPath)
			}
			return nil, fmt.Errorf("%s.paths[%d]: %q is in none of the mounted volumes (%s)", r.targetField(m), i, p, strings.Join(mounts, ", "))
		}
	}
	return m.paths, nil
}

func (r *run) targetField(m *member) string {
	if len(r.members) == 1 && !r.isBatch() {
		return "spec.target"
	}
	return fmt.Sprintf("spec.members[%d].target", m.index)
}

// hostVolumeName is the graph's name for volume k of host h of a member.
func hostVolumeName(m *member, h, k int) string { return fmt.Sprintf("target-%d-%d-%d", m.index, h, k) }

// hostMounts are the graph volumes and mounts of host h's steps: the
// host's own claim of each volume, mounted where the workload mounts it;
// read-only for a backup.
func (r *run) hostMounts(m *member, vols []workloadVolume, h int, host WorkloadHost) ([]corev1.Volume, []corev1.VolumeMount) {
	var (
		volumes []corev1.Volume
		mounts  []corev1.VolumeMount
	)
	for k, v := range vols {
		gv := corev1.Volume{Name: hostVolumeName(m, h, k), VolumeSource: *v.src.VolumeSource.DeepCopy()}
		if claim := host.Claims[v.name]; claim != "" {
			gv.VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}
		}
		volumes = append(volumes, gv)
		mt := v.mount
		mt.Name, mt.ReadOnly = gv.Name, r.kind == backupRun
		mounts = append(mounts, mt)
	}
	return volumes, mounts
}

// volumesArg is TARGET_VOLUMES: NAME=MOUNTPATH of each volume.
func volumesArg(vols []workloadVolume) string {
	var out []string
	for _, v := range vols {
		out = append(out, v.name+"="+v.mount.MountPath)
	}
	return csvList(out)
}

// workloadScaleStep is the quiesce or resume step of a workload restore.
func (r *run) workloadScaleStep(m *member, prefix, fn string, opts Options) (pipeline.Step, v1alpha1.StepRef) {
	role, display := v1alpha1.RoleQuiesce, "scale "+m.ref.Name+" to 0"
	if fn == workloadResumeFunction {
		role, display = v1alpha1.RoleResume, "scale "+m.ref.Name+" back"
	}
	p := pipeline.Process{Image: opts.Image, Command: []string{"stashflow"}, Args: []string{
		"fn", fn, "--namespace=" + r.namespace, "--kind=" + m.ref.Kind, "--name=" + m.ref.Name, "--session=" + r.name,
	}}
	outs := []string{outputs.Replicas}
	if fn == workloadQuiesceFunction {
		outs = append(outs, outputs.ClaimsCreated)
	}
	name := prefix + fn
	s := pipeline.Step{
		Name: name, DisplayName: display, Process: p, Template: fn,
		Labels: stepLabels(m, StepKindFunction, "", fn),
	}
	for _, o := range outs {
		s.Outputs = append(s.Outputs, pipeline.Output{Name: o, Path: path.Join(outputs.Dir, o)})
	}
	return s, v1alpha1.StepRef{Name: name, Function: fn, Role: role, Outputs: outs}
}

// The steps a workload restore adds around its hosts' restores.
const (
	workloadQuiesceFunction = "workload-quiesce"
	workloadResumeFunction  = "workload-resume"
)

// workloadSteps are a workload target's Function steps: its Task's steps
// once per host, each host's with that host's volumes mounted where the
// workload mounts them (read-only, on the node of the host's pod, for a
// backup); a restore is quiesce → every host's restore → resume. Hosts run
// one after another; a backup goes on to the next host after one failed
// (the target fails), a restore stops, and a failed restore never scales
// the workload back up.
func (r *run) workloadSteps(m *member, objs *Objects, prefix string, opts Options) ([]pipeline.Step, []v1alpha1.StepRef, []string, error) {
	field := r.targetField(m)
	w := objs.Workloads[WorkloadKey(m.ref.Kind, m.ref.Name)]
	if w == nil {
		return nil, nil, nil, fmt.Errorf("%s.ref: %s %q was not resolved", field, m.ref.Kind, m.ref.Name)
	}
	if r.kind == restoreRun && m.ref.Kind == "DaemonSet" {
		return nil, nil, nil, fmt.Errorf("%s.ref: a restore into DaemonSet %q is not supported: a DaemonSet cannot be scaled to zero while its volumes are written; restore each volume as a PersistentVolumeClaim target", field, m.ref.Name)
	}
	vols, err := r.workloadVolumes(m, w)
	if err != nil {
		return nil, nil, nil, err
	}
	paths, err := r.workloadPaths(m, vols)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(w.Hosts) == 0 {
		return nil, nil, nil, fmt.Errorf("%s.ref: %s %q has no replicas, so there is no host to %s", field, m.ref.Kind, m.ref.Name, r.kind.verb())
	}
	var (
		steps    []pipeline.Step
		refs     []v1alpha1.StepRef
		warnings []string
	)
	// On one machine (stashflow run) there is no cluster to scale the
	// workload in: the user stops what writes to the volumes.
	scale := r.kind == restoreRun && !opts.Local
	if r.kind == restoreRun && opts.Local {
		warnings = append(warnings, fmt.Sprintf("%s.ref: %s %q is not scaled down on this machine: stop what writes to its volumes before the restore", field, m.ref.Kind, m.ref.Name))
	}
	if scale {
		s, ref := r.workloadScaleStep(m, prefix, workloadQuiesceFunction, opts)
		steps, refs = append(steps, s), append(refs, ref)
	}
	for h, host := range w.Hosts {
		host.Name = aliasedHost(m.ref.Kind, m.alias, host.Name, h)
		if r.kind == backupRun && host.Node == "" && !opts.Local {
			return nil, nil, nil, fmt.Errorf("%s.ref: %s %q has no running pod for %s: its backup step runs on the node where that pod mounts the volumes (nothing was backed up)", field, m.ref.Kind, m.ref.Name, host.Name)
		}
		hostOpts := opts
		hostOpts.Hostname = host.Name
		vars := r.memberVariables(m, objs, hostOpts)
		vars["TARGET_PATHS"] = csvList(paths)
		vars["TARGET_VOLUMES"] = volumesArg(vols)
		delete(vars, "RESTORE_MAP_TO")
		s, rf, warn, err := r.functionSteps(m, objs, vars, prefix+hostStepPrefix(h, host.Name), opts)
		if err != nil {
			return nil, nil, nil, err
		}
		if h == 0 {
			warnings = append(warnings, warn...)
		}
		gv, mounts := r.hostMounts(m, vols, h, host)
		r.hostVolumes = append(r.hostVolumes, gv...)
		if r.kind == backupRun && h > 0 {
			// One host's failure does not keep the next from being backed
			// up (Stash backs each up on its own); the target still fails.
			s[0].Dependencies = append(s[0].Dependencies, pipeline.Dependency{Step: steps[len(steps)-1].Name, When: pipeline.OnEnd})
		}
		for i := range s {
			s[i].Process.VolumeMounts = append(s[i].Process.VolumeMounts, mounts...)
			if r.kind == backupRun {
				s[i].Process.NodeName = host.Node
			}
			s[i].DisplayName = s[i].DisplayName + " (" + host.Name + ")"
			rf[i].Host = host.Name
		}
		steps, refs = append(steps, s...), append(refs, rf...)
	}
	if scale {
		s, ref := r.workloadScaleStep(m, prefix, workloadResumeFunction, opts)
		steps, refs = append(steps, s), append(refs, ref)
	}
	return steps, refs, warnings, nil
}

// aliasedHost is a workload host's name under an alias, as Stash names it:
// the alias for a Deployment or ReplicaSet, <alias>-<ordinal> for a
// StatefulSet's replica, <alias>-<node> for a DaemonSet's; without an
// alias, the host's own name.
func aliasedHost(kind, alias, host string, i int) string {
	switch {
	case alias == "":
		return host
	case kind == "StatefulSet":
		return fmt.Sprintf("%s-%d", alias, i)
	case kind == "DaemonSet":
		return alias + "-" + host
	}
	return alias
}

// hostStepPrefix names a host's steps: by the host when its name is a short
// DNS label (host-0), else by its position.
func hostStepPrefix(i int, host string) string {
	if len(host) <= 20 && kebab(host) == host && host != "" && host[0] >= 'a' && host[0] <= 'z' {
		return host + "-"
	}
	return fmt.Sprintf("host-%d-", i)
}

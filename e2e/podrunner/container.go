package podrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stashflow/stashflow/internal/pathmap"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stashflow/stashflow/outputs"
)

// Argo's names (github.com/argoproj/argo-workflows/v3/workflow/common),
// repeated so that the runner needs none of Argo's internals.
const (
	argoWaitContainer     = "wait"
	argoTemplateEnv       = "ARGO_TEMPLATE"
	argoTemplateOffloaded = "offloaded"

	AnnotationNodeID            = "workflows.argoproj.io/node-id"
	LabelWorkflow               = "workflows.argoproj.io/workflow"
	LabelOnExit                 = "workflows.argoproj.io/on-exit"
	LabelReportOutputsCompleted = "workflows.argoproj.io/report-outputs-completed"

	// AnnotationIgnore marks a pod the runner leaves alone: a workload's
	// pod that a test stands in for (its status set by the test), where
	// only a workflow's pods are meant to run.
	AnnotationIgnore = "podrunner.stashflow.dev/ignore"
)

// LogFile is the name of the main container's log in its pod directory.
const LogFile = "main.log"

// plan is how one pod's main container runs on this host.
type plan struct {
	container *corev1.Container
	// argv is the process's argv, expanded and mapped; argv[0] is resolved
	// through Options.Commands and PATH when the process starts.
	argv []string
	env  []string
	dir  string
	// rw maps container paths to host paths.
	rw pathmap.Rewriter
	// template is the Argo template the pod runs; nil for a pod Argo did
	// not create.
	template *wfv1.Template
}

// objects reads what a pod refers to; the Runner reads the API.
type objects interface {
	secret(ctx context.Context, name string) (*corev1.Secret, error)
	configMap(ctx context.Context, name string) (*corev1.ConfigMap, error)
	// claim reads a PersistentVolumeClaim of the pod's namespace.
	claim(ctx context.Context, name string) (*corev1.PersistentVolumeClaim, error)
	// persistentVolume reads a (cluster-scoped) PersistentVolume.
	persistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error)
}

// configError is what the kubelet reports as CreateContainerConfigError: a
// referenced Secret, ConfigMap or key is missing. The kubelet retries, and
// so does the runner.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// unschedulableError is what the scheduler reports as Unschedulable: a
// persistentVolumeClaim of the pod does not exist, or is bound to a
// PersistentVolume that does not. The pod stays Pending and unbound; the
// scheduler retries, and so does the runner.
type unschedulableError struct{ err error }

func (e *unschedulableError) Error() string { return e.err.Error() }
func (e *unschedulableError) Unwrap() error { return e.err }

// planPod works out how to run pod's main container on this host; podDir is
// the pod's own directory, workDir the runner's. Volumes' directories are
// created (configMap and secret volumes filled in).
func planPod(ctx context.Context, pod *corev1.Pod, objs objects, podDir, workDir string, baseEnv []string) (*plan, error) {
	c, err := mainContainer(pod)
	if err != nil {
		return nil, err
	}
	p := &plan{container: c}
	if p.template, err = argoTemplate(ctx, pod, objs); err != nil {
		return nil, err
	}
	argv, _ := unwrapEmissary(c.Command, c.Args)
	if len(argv) == 0 {
		return nil, fmt.Errorf("container %q has no command: the runner cannot read an image's entrypoint", c.Name)
	}

	volumes, err := volumeDirs(ctx, pod, objs, podDir, workDir)
	if err != nil {
		return nil, err
	}
	if p.rw, err = mountRewrites(c, volumes, filepath.Join(podDir, "outputs")); err != nil {
		return nil, err
	}

	env, err := containerEnv(ctx, pod, c, objs, baseEnv, p.rw)
	if err != nil {
		return nil, err
	}
	lookup := func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, _ := strings.Cut(env[i], "="); k == name {
				return v, true
			}
		}
		return "", false
	}
	for i, a := range argv {
		argv[i] = p.rw.Apply(expand(a, lookup))
	}
	p.argv, p.env = argv, env

	p.dir = p.rw.Apply(c.WorkingDir)
	if p.dir == "" {
		// An image's WORKDIR is usually /; a directory of the pod keeps
		// the host clean.
		p.dir = filepath.Join(podDir, "work")
	}
	if err := os.MkdirAll(p.dir, 0o750); err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	return p, nil
}

// mainContainer is the one container that is not Argo's wait container.
func mainContainer(pod *corev1.Pod) (*corev1.Container, error) {
	var found []*corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name != argoWaitContainer {
			found = append(found, &pod.Spec.Containers[i])
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("pod has %d containers besides %q: the runner runs exactly one", len(found), argoWaitContainer)
	}
	return found[0], nil
}

// argoTemplate reads the template Argo put in the pod's ARGO_TEMPLATE
// (or in the ConfigMap named after the pod, when it was too large).
func argoTemplate(ctx context.Context, pod *corev1.Pod, objs objects) (*wfv1.Template, error) {
	value, found := "", false
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, e := range c.Env {
				if e.Name == argoTemplateEnv && !found {
					value, found = e.Value, true
				}
			}
		}
	}
	if !found {
		return nil, nil
	}
	if value == argoTemplateOffloaded {
		cm, err := objs.configMap(ctx, pod.Name)
		if err != nil {
			return nil, fmt.Errorf("offloaded template: %w", err)
		}
		value = cm.Data[argoTemplateEnv]
	}
	var t wfv1.Template
	if err := json.Unmarshal([]byte(value), &t); err != nil {
		return nil, fmt.Errorf("%s: %w", argoTemplateEnv, err)
	}
	return &t, nil
}

// volumeDirs maps every volume of the pod to a host directory.
func volumeDirs(ctx context.Context, pod *corev1.Pod, objs objects, podDir, workDir string) (map[string]string, error) {
	dirs := make(map[string]string, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(podDir, "volumes", v.Name)
		switch {
		case v.HostPath != nil:
			dir = v.HostPath.Path
			if t := v.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		case v.PersistentVolumeClaim != nil:
			var err error
			if dir, err = claimDir(ctx, objs, workDir, v.PersistentVolumeClaim.ClaimName); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		case v.ConfigMap != nil:
			cm, err := objs.configMap(ctx, v.ConfigMap.Name)
			if err := missing(err, v.ConfigMap.Optional, "configmap", v.ConfigMap.Name); err != nil {
				return nil, err
			}
			data := map[string][]byte{}
			if cm != nil {
				for k, s := range cm.Data {
					data[k] = []byte(s)
				}
				maps.Copy(data, cm.BinaryData)
			}
			if err := writeFiles(dir, data, v.ConfigMap.Items); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		case v.Secret != nil:
			s, err := objs.secret(ctx, v.Secret.SecretName)
			if err := missing(err, v.Secret.Optional, "secret", v.Secret.SecretName); err != nil {
				return nil, err
			}
			var data map[string][]byte
			if s != nil {
				data = s.Data
			}
			if err := writeFiles(dir, data, v.Secret.Items); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		default:
			return nil, fmt.Errorf("volume %q: only emptyDir, hostPath, persistentVolumeClaim, configMap and secret volumes map to host directories", v.Name)
		}
		dirs[v.Name] = dir
	}
	return dirs, nil
}

// claimDir is the host directory of the persistentVolumeClaim name: the
// path of the PersistentVolume it is bound to (spec.volumeName), when that
// is a hostPath or local volume; otherwise (unbound, or another kind of
// volume) a directory of the claim's own under workDir, shared by pods and
// outliving them. The directory is created if missing. A claim that does
// not exist, or is bound to a PersistentVolume that does not, is an
// unschedulableError: the pod must not start on some other directory.
func claimDir(ctx context.Context, objs objects, workDir, name string) (string, error) {
	pvc, err := objs.claim(ctx, name)
	switch {
	case apierrors.IsNotFound(err):
		return "", &unschedulableError{fmt.Errorf("persistentvolumeclaim %q not found", name)}
	case err != nil:
		return "", fmt.Errorf("persistentvolumeclaim %q: %w", name, err)
	}
	dir := filepath.Join(workDir, "claims", name)
	if pvName := pvc.Spec.VolumeName; pvName != "" {
		pv, err := objs.persistentVolume(ctx, pvName)
		switch {
		case apierrors.IsNotFound(err):
			return "", &unschedulableError{fmt.Errorf("persistentvolumeclaim %q is bound to persistentvolume %q, which is not found", name, pvName)}
		case err != nil:
			return "", fmt.Errorf("persistentvolume %q of claim %q: %w", pvName, name, err)
		case pv.Spec.HostPath != nil && pv.Spec.HostPath.Path != "":
			dir = pv.Spec.HostPath.Path
		case pv.Spec.Local != nil && pv.Spec.Local.Path != "":
			dir = pv.Spec.Local.Path
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	return dir, nil
}

// missing turns a failed read of a referenced object into nil (optional
// and not found), a configError (not found) or the error.
func missing(err error, optional *bool, kind, name string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) && optional != nil && *optional:
		return nil
	case apierrors.IsNotFound(err):
		return &configError{fmt.Errorf("%s %q not found", kind, name)}
	}
	return err
}

// writeFiles writes a configMap or secret volume: every key, or the items.
func writeFiles(dir string, data map[string][]byte, items []corev1.KeyToPath) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	files := map[string][]byte{}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = v
		}
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return &configError{fmt.Errorf("key %q not found", it.Key)}
		}
		files[it.Path] = v
	}
	for name, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return err
		}
		if err := os.WriteFile(p, v, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// mountRewrites maps the container's mount paths to the volumes' host
// directories, and outputs.Dir to outDir unless a mount covers it.
func mountRewrites(c *corev1.Container, volumes map[string]string, outDir string) (pathmap.Rewriter, error) {
	var rw []pathmap.Mapping
	coversOutputs := false
	for _, m := range c.VolumeMounts {
		from := path.Clean(m.MountPath)
		if !path.IsAbs(from) || from == "/" {
			return nil, fmt.Errorf("mount path %q of volume %q cannot be mapped to a host directory", m.MountPath, m.Name)
		}
		dir, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %q: no such volume in the pod", m.Name)
		}
		rw = append(rw, pathmap.Mapping{From: from, To: filepath.Join(dir, filepath.FromSlash(m.SubPath))})
		coversOutputs = coversOutputs || from == outputs.Dir || strings.HasPrefix(outputs.Dir, from+"/")
	}
	if !coversOutputs {
		if err := os.MkdirAll(outDir, 0o750); err != nil {
			return nil, err
		}
		rw = append(rw, pathmap.Mapping{From: outputs.Dir, To: outDir})
	}
	for _, r := range rw {
		if err := os.MkdirAll(r.To, 0o750); err != nil {
			return nil, err
		}
	}
	return pathmap.New(rw...), nil
}

// containerEnv builds the process environment as the kubelet builds a
// container's: baseEnv (what an image would set), then envFrom, then env in
// order; a literal value is expanded with what came before and its paths
// mapped; values from Secrets and ConfigMaps are taken as they are.
func containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, objs objects, baseEnv []string, rw pathmap.Rewriter) ([]string, error) {
	var names []string
	values := map[string]string{}
	set := func(k, v string) {
		if _, ok := values[k]; !ok {
			names = append(names, k)
		}
		values[k] = v
	}
	for _, kv := range baseEnv {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := objs.configMap(ctx, from.ConfigMapRef.Name)
			if err := missing(err, from.ConfigMapRef.Optional, "configmap", from.ConfigMapRef.Name); err != nil {
				return nil, err
			}
			if cm != nil {
				data = cm.Data
			}
		case from.SecretRef != nil:
			s, err := objs.secret(ctx, from.SecretRef.Name)
			if err := missing(err, from.SecretRef.Optional, "secret", from.SecretRef.Name); err != nil {
				return nil, err
			}
			if s != nil {
				data = map[string]string{}
				for k, v := range s.Data {
					data[k] = string(v)
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if envName.MatchString(from.Prefix + k) {
				set(from.Prefix+k, data[k])
			}
		}
	}
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, rw.Apply(expand(e.Value, lookup)))
			continue
		}
		v, ok, err := valueFrom(ctx, pod, c, e.ValueFrom, objs)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	env := make([]string, 0, len(names))
	for _, k := range names {
		env = append(env, k+"="+values[k])
	}
	return env, nil
}

var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// valueFrom resolves an env var source; ok is false when an optional
// reference is missing (the variable is then not set).
func valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource, objs objects) (string, bool, error) {
	switch {
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := objs.secret(ctx, ref.Name)
		if err := missing(err, ref.Optional, "secret", ref.Name); err != nil {
			return "", false, err
		}
		if s == nil {
			return "", false, nil
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if ref.Optional != nil && *ref.Optional {
				return "", false, nil
			}
			return "", false, &configError{fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return string(v), true, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := objs.configMap(ctx, ref.Name)
		if err := missing(err, ref.Optional, "configmap", ref.Name); err != nil {
			return "", false, err
		}
		if cm == nil {
			return "", false, nil
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if ref.Optional != nil && *ref.Optional {
				return "", false, nil
			}
			return "", false, &configError{fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return v, true, nil
	case src.FieldRef != nil:
		v, err := fieldValue(pod, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := resourceValue(c, src.ResourceFieldRef)
		return v, err == nil, err
	}
	return "", false, errors.New("only secretKeyRef, configMapKeyRef, fieldRef and resourceFieldRef are supported")
}

// resourceValue is the downward API for a container's memory and CPU
// requests and limits, in units of the divisor rounded up, as the kubelet
// gives them. A limit the container does not set is the node's allocatable
// amount there; here no node's is known, so that is an error.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	list := map[string]corev1.ResourceList{"limits": c.Resources.Limits, "requests": c.Resources.Requests}[kind]
	q, set := list[corev1.ResourceName(name)]
	switch {
	case !ok || (name != "memory" && name != "cpu"):
		return "", fmt.Errorf("resourceFieldRef %q is not supported", ref.Resource)
	case !set:
		return "", fmt.Errorf("resourceFieldRef %q: the container sets none, and the pod runner knows no node allocatable", ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
	}
	return strconv.FormatInt((q.Value()+divisor.Value()-1)/divisor.Value(), 10), nil
}

var mapKeyField = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']*)'\]$`)

// fieldValue is the downward API for the fields a kubelet resolves in env.
func fieldValue(pod *corev1.Pod, field string) (string, error) {
	switch field {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.podIP":
		return hostIP, nil
	}
	if m := mapKeyField.FindStringSubmatch(field); m != nil {
		if m[1] == "labels" {
			return pod.Labels[m[2]], nil
		}
		return pod.Annotations[m[2]], nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported", field)
}

// hostIP is what a pod's hostIP and podIP say: everything runs here.
const hostIP = "127.0.0.1"

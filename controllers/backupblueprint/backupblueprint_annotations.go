package backupblueprint

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// Limits of BackupTarget.paths and volumeMounts, checked here so that a long
// annotation is reported on the target instead of failing the apply.
const (
	maxPaths        = 64
	maxPathLength   = 4096
	maxVolumeMounts = 32
)

// stashKeys maps our annotation keys to Stash's: a target may carry either,
// and ours wins when both are set.
var stashKeys = map[string]string{
	v1alpha1.AnnotationBackupBlueprint: v1alpha1.StashAnnotationBackupBlueprint,
	v1alpha1.AnnotationSchedule:        v1alpha1.StashAnnotationSchedule,
	v1alpha1.AnnotationTargetPaths:     v1alpha1.StashAnnotationTargetPaths,
	v1alpha1.AnnotationVolumeMounts:    v1alpha1.StashAnnotationVolumeMounts,
}

// annotation returns the value of key and the key it was read from: key
// itself, or, when key is one of ours and is unset or empty, Stash's key for
// it. A blueprint's own key (spec.annotations) has no Stash twin.
func annotation(annotations map[string]string, key string) (value, from string) {
	if v := annotations[key]; v != "" {
		return v, key
	}
	if stash, ok := stashKeys[key]; ok {
		if v := annotations[stash]; v != "" {
			return v, stash
		}
	}
	return "", key
}

// annotationError is bad input in a target's annotations: only a change of
// the annotations fixes it. It is reported as an AnnotationInvalid event.
type annotationError struct{ msg string }

func (e *annotationError) Error() string { return e.msg }

// badAnnotation is an annotationError that names the annotation.
func badAnnotation(key, format string, args ...any) error {
	return &annotationError{msg: "annotation " + key + ": " + fmt.Sprintf(format, args...)}
}

// workloadFiles reads what a blueprint backs up of a workload: the paths of
// the target-paths annotation (required, as in Stash) and the volume mounts
// of the volume-mounts annotation (optional), ours or Stash's.
func workloadFiles(kind string, annotations map[string]string) ([]string, []corev1.VolumeMount, error) {
	raw, key := annotation(annotations, v1alpha1.AnnotationTargetPaths)
	if raw == "" {
		return nil, nil, &annotationError{msg: fmt.Sprintf("annotation %s (or %s) is missing: a %s is backed up by the paths it names, comma-separated absolute paths such as /data",
			v1alpha1.AnnotationTargetPaths, v1alpha1.StashAnnotationTargetPaths, kind)}
	}
	paths, err := parsePaths(key, raw)
	if err != nil {
		return nil, nil, err
	}
	raw, key = annotation(annotations, v1alpha1.AnnotationVolumeMounts)
	if raw == "" {
		return paths, nil, nil
	}
	mounts, err := parseVolumeMounts(key, raw)
	if err != nil {
		return nil, nil, err
	}
	return paths, mounts, nil
}

// parsePaths parses comma-separated absolute paths.
func parsePaths(key, raw string) ([]string, error) {
	entries := strings.Split(raw, ",")
	if len(entries) > maxPaths {
		return nil, badAnnotation(key, "%d paths, at most %d", len(entries), maxPaths)
	}
	paths := make([]string, 0, len(entries))
	for _, e := range entries {
		p := strings.TrimSpace(e)
		switch {
		case p == "":
			return nil, badAnnotation(key, "an empty entry in %q: want comma-separated absolute paths", raw)
		case !path.IsAbs(p):
			return nil, badAnnotation(key, "path %q is not absolute", p)
		case len(p) > maxPathLength:
			return nil, badAnnotation(key, "path %.32q... is longer than %d bytes", p, maxPathLength)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// parseVolumeMounts parses Stash's volume-mounts format: comma-separated
// volumeName:mountPath or volumeName:mountPath:subPath.
func parseVolumeMounts(key, raw string) ([]corev1.VolumeMount, error) {
	entries := strings.Split(raw, ",")
	if len(entries) > maxVolumeMounts {
		return nil, badAnnotation(key, "%d volume mounts, at most %d", len(entries), maxVolumeMounts)
	}
	mounts := make([]corev1.VolumeMount, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		entry := strings.TrimSpace(e)
		bad := func(why string) error { return badAnnotation(key, "entry %q: %s", entry, why) }
		parts := strings.Split(entry, ":")
		if len(parts) != 2 && len(parts) != 3 {
			return nil, bad("want volumeName:mountPath or volumeName:mountPath:subPath")
		}
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		m := corev1.VolumeMount{Name: parts[0], MountPath: parts[1]}
		if len(parts) == 3 {
			m.SubPath = parts[2]
		}
		if errs := validation.IsDNS1123Label(m.Name); len(errs) > 0 {
			return nil, bad(fmt.Sprintf("volume name %q: %s", m.Name, strings.Join(errs, "; ")))
		}
		if !path.IsAbs(m.MountPath) || len(m.MountPath) > maxPathLength {
			return nil, bad(fmt.Sprintf("mount path %q is not an absolute path", m.MountPath))
		}
		if len(parts) == 3 && (m.SubPath == "" || path.IsAbs(m.SubPath) || hasDotDot(m.SubPath)) {
			return nil, bad(fmt.Sprintf("subPath %q is not a relative path without '..'", m.SubPath))
		}
		if seen[m.MountPath] {
			return nil, bad(fmt.Sprintf("mount path %s is mounted twice", m.MountPath))
		}
		seen[m.MountPath] = true
		mounts = append(mounts, m)
	}
	return mounts, nil
}

func hasDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

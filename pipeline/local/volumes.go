package local

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/pipeline"
)

// The local engine has no mount namespaces: a step sees the host's file
// system. A volume is a host directory, and a step's mount path is rewritten
// to that directory wherever it appears as a path in the step's command,
// args, literal env values and working directory. pipeline.OutputDir is
// rewritten the same way, to the step's own output directory.

// resolveVolumes maps every volume some step mounts to a host directory,
// creating the directories of emptyDir volumes.
func resolveVolumes(g *pipeline.Graph, overrides map[string]string, workDir string) (map[string]string, error) {
	declared := make(map[string]*corev1.Volume, len(g.Volumes))
	for i := range g.Volumes {
		declared[g.Volumes[i].Name] = &g.Volumes[i]
	}
	dirs := map[string]string{}
	for i := range g.Steps {
		for _, m := range g.Steps[i].Process.VolumeMounts {
			if _, done := dirs[m.Name]; done {
				continue
			}
			dir, err := volumeDir(declared[m.Name], m.Name, overrides, workDir)
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", g.Steps[i].Name, err)
			}
			dirs[m.Name] = dir
		}
	}
	return dirs, nil
}

func volumeDir(v *corev1.Volume, name string, overrides map[string]string, workDir string) (string, error) {
	if dir, ok := overrides[name]; ok {
		return filepath.Abs(dir)
	}
	switch {
	case v == nil:
		return "", fmt.Errorf("volume %q is mounted but not declared in the graph", name)
	case v.HostPath != nil:
		return v.HostPath.Path, nil
	case v.EmptyDir != nil:
		// Step names cannot start with '.', so this cannot clash with a step's directory.
		dir := filepath.Join(workDir, ".volumes", name)
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("emptyDir volume %q: %w", name, err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return "", fmt.Errorf("emptyDir volume %q: %w", name, err)
		}
		return dir, nil
	case v.PersistentVolumeClaim != nil:
		return "", fmt.Errorf("volume %q (persistentVolumeClaim %q) has no host directory: map it in the engine's volumes", name, v.PersistentVolumeClaim.ClaimName)
	default:
		return "", fmt.Errorf("volume %q has no host directory: only hostPath and emptyDir volumes map by themselves, map it in the engine's volumes", name)
	}
}

// rewrite replaces a path prefix.
type rewrite struct{ from, to string }

// rewriter holds one step's rewrites, longest prefix first so that a mount
// nested in another wins.
type rewriter []rewrite

func stepRewrites(s *pipeline.Step, volumes map[string]string, outDir string) (rewriter, error) {
	rw := rewriter{{from: pipeline.OutputDir, to: outDir}}
	for _, m := range s.Process.VolumeMounts {
		from := path.Clean(m.MountPath)
		if !path.IsAbs(from) || from == "/" {
			return nil, fmt.Errorf("step %q: mount path %q of volume %q cannot be mapped to a host directory", s.Name, m.MountPath, m.Name)
		}
		rw = append(rw, rewrite{from: from, to: filepath.Join(volumes[m.Name], filepath.FromSlash(m.SubPath))})
	}
	slices.SortStableFunc(rw, func(a, b rewrite) int { return len(b.from) - len(a.from) })
	return rw, nil
}

// apply rewrites every occurrence of a prefix in s that stands as a whole
// path or the start of one: not preceded by a path character (so /x/data is
// not a mount at /data) and followed by '/', the end, or a character that
// cannot continue a file name (so /database is not /data either).
func (rw rewriter) apply(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if s[i] != '/' || (i > 0 && continuesPath(s[i-1], true)) {
			i++
			continue
		}
		matched := false
		for _, r := range rw {
			end := i + len(r.from)
			if strings.HasPrefix(s[i:], r.from) && (end == len(s) || !continuesPath(s[end], false)) {
				b.WriteString(s[last:i])
				b.WriteString(r.to)
				i, last, matched = end, end, true
				break
			}
		}
		if !matched {
			i++
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// continuesPath reports whether c, next to a candidate prefix, makes it part
// of a longer name: before it, '/' counts too.
func continuesPath(c byte, before bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_':
		return true
	case c == '-':
		return !before
	case c == '/':
		return before
	}
	return false
}

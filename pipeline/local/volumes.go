package local

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/internal/pathmap"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// The local engine has no mount namespaces: a step sees the host's file
// system. A volume is a host directory, and a step's mount path is rewritten
// to that directory wherever it appears as a path in the step's command,
// args, literal env values and working directory. outputs.Dir is
// rewritten the same way, to the step's own output directory.

// resolveVolumes maps every volume some step mounts to a host directory,
// creating the directories of emptyDir volumes, and every claim of the graph
// to a fresh directory of the run (claimDirs), which Run removes when the
// run ends: the claim a cluster would make for the run and delete after it.
// A claim is never mapped to a directory of the caller's (Options.Volumes
// does not apply to it), so that nothing but the run's own is removed.
func resolveVolumes(g *pipeline.Graph, overrides map[string]string, workDir string) (dirs map[string]string, claimDirs []string, err error) {
	declared := make(map[string]*corev1.Volume, len(g.Volumes))
	for i := range g.Volumes {
		declared[g.Volumes[i].Name] = &g.Volumes[i]
	}
	dirs = map[string]string{}
	for _, c := range g.VolumeClaims {
		// Step names cannot start with '.', so this cannot clash with a step's directory.
		dir := filepath.Join(workDir, ".claims", c.Name)
		if err := os.RemoveAll(dir); err != nil {
			return nil, claimDirs, fmt.Errorf("volume claim %q: %w", c.Name, err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, claimDirs, fmt.Errorf("volume claim %q: %w", c.Name, err)
		}
		dirs[c.Name] = dir
		claimDirs = append(claimDirs, dir)
	}
	for i := range g.Steps {
		for _, m := range g.Steps[i].Process.VolumeMounts {
			if _, done := dirs[m.Name]; done {
				continue
			}
			dir, err := volumeDir(declared[m.Name], m.Name, overrides, workDir)
			if err != nil {
				return nil, claimDirs, fmt.Errorf("step %q: %w", g.Steps[i].Name, err)
			}
			dirs[m.Name] = dir
		}
	}
	return dirs, claimDirs, nil
}

// removeClaims removes the directories of the run's claims.
func removeClaims(dirs []string) error {
	var errs []error
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("removing the directory of a volume claim: %w", err))
		}
	}
	return errors.Join(errs...)
}

func volumeDir(v *corev1.Volume, name string, overrides map[string]string, workDir string) (string, error) {
	if dir, ok := overrides[name]; ok {
		return filepath.Abs(dir)
	}
	if v != nil && v.PersistentVolumeClaim != nil {
		// A claim is mapped by the claim's own name too: the one a user knows.
		if dir, ok := overrides[v.PersistentVolumeClaim.ClaimName]; ok {
			return filepath.Abs(dir)
		}
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
		return "", fmt.Errorf("volume %q (persistentVolumeClaim %q) has no host directory on this machine: map the claim to one (stashflow run --volume %s=DIR)", name, v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ClaimName)
	default:
		return "", fmt.Errorf("volume %q has no host directory: only hostPath and emptyDir volumes map by themselves, map it in the engine's volumes", name)
	}
}

// rewrite replaces a path prefix.
func stepRewrites(s *pipeline.Step, volumes map[string]string, outDir string) (pathmap.Rewriter, error) {
	rw := []pathmap.Mapping{{From: outputs.Dir, To: outDir}}
	for _, m := range s.Process.VolumeMounts {
		from := path.Clean(m.MountPath)
		if !path.IsAbs(from) || from == "/" {
			return nil, fmt.Errorf("step %q: mount path %q of volume %q cannot be mapped to a host directory", s.Name, m.MountPath, m.Name)
		}
		rw = append(rw, pathmap.Mapping{From: from, To: filepath.Join(volumes[m.Name], filepath.FromSlash(m.SubPath))})
	}
	return pathmap.New(rw...), nil
}

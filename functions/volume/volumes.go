package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/stashflow/stashflow/functions/restic"
)

// A workload's volumes are passed as --volumes=NAME=PATH: the volume's name
// in the workload and where this step sees it mounted. A backup tags its
// snapshot with volumeTag(NAME, PATH) for each, so that a restore finds, for
// every path of the snapshot, the volume it came from, wherever each step
// saw that volume: in a cluster the mount path (the same in the workload,
// the backup pod and the restore pod), on the local engine and the test pod
// runner a host directory that differs per volume.
const volumeTagPrefix = "volume:"

func volumeTag(name, path string) string { return volumeTagPrefix + name + "=" + path }

// namedVolume is one --volumes entry.
type namedVolume struct{ name, path string }

func parseVolumes(flag string, in []string) ([]namedVolume, error) {
	var out []namedVolume
	for _, v := range nonEmpty(in) {
		name, path, ok := strings.Cut(v, "=")
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("%s: %q is not NAME=PATH", flag, v)
		case !filepath.IsAbs(path):
			return nil, fmt.Errorf("%s: the path of volume %q, %q, is not absolute", flag, name, path)
		case slices.ContainsFunc(out, func(x namedVolume) bool { return x.name == name }):
			return nil, fmt.Errorf("%s: volume %q is given twice", flag, name)
		}
		out = append(out, namedVolume{name, filepath.Clean(path)})
	}
	return out, nil
}

// under reports whether p is root or inside it.
func under(p, root string) bool {
	rel, err := filepath.Rel(root, filepath.Clean(p))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// restorePart is one restic restore of a volume restore: one path of the
// snapshot into the directory it maps to.
type restorePart struct {
	root, into string
	include    []string
}

// planVolumes maps every path of the snapshot the restore draws from onto
// the target's volumes, before anything is written: by the volume the
// backup recorded it from (its tags), else the volume mounted at that very
// path (a cluster, where the workload and the steps mount a volume at one
// path), else, for a one-path snapshot into one volume, that volume. A path
// that maps nowhere refuses the whole restore, naming it.
func planVolumes(snap restic.Snapshot, volumes []namedVolume, paths []string) ([]restorePart, error) {
	for _, v := range volumes {
		if st, err := os.Stat(v.path); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--volumes: volume %q is not mounted at %s (nothing was restored)", v.name, v.path)
		}
	}
	recorded := map[string]string{} // volume name → path at backup
	for _, t := range snap.Tags {
		if rest, ok := strings.CutPrefix(t, volumeTagPrefix); ok {
			if name, path, ok := strings.Cut(rest, "="); ok {
				recorded[name] = path
			}
		}
	}
	// A rule's path names where the data was backed up from; where a step
	// sees volumes at other paths than the backup did (one machine, the
	// test pod runner), a path given at a target volume's mount names the
	// same place in the volume the snapshot recorded under that name.
	paths = slices.Clone(paths)
	for i, p := range paths {
		if slices.ContainsFunc(snap.Paths, func(root string) bool { return under(p, root) }) {
			continue
		}
		for _, v := range volumes {
			if src, ok := recorded[v.name]; ok && under(p, v.path) {
				rel, _ := filepath.Rel(v.path, filepath.Clean(p))
				paths[i] = filepath.Join(src, rel)
				break
			}
		}
	}
	roots := snap.Paths
	if len(paths) > 0 {
		roots = nil
		for _, p := range paths {
			i := slices.IndexFunc(snap.Paths, func(root string) bool { return under(p, root) })
			if i < 0 {
				return nil, fmt.Errorf("--paths: %s is in no path of snapshot %s (%s); nothing was restored", p, snap.ShortID, strings.Join(snap.Paths, ","))
			}
			if !slices.Contains(roots, snap.Paths[i]) {
				roots = append(roots, snap.Paths[i])
			}
		}
	}
	sort.Strings(roots)
	var parts []restorePart
	for _, root := range roots {
		into, err := mapRoot(root, snap, volumes, recorded)
		if err != nil {
			return nil, err
		}
		part := restorePart{root: root, into: into}
		for _, p := range paths {
			if under(p, root) {
				rel, _ := filepath.Rel(root, filepath.Clean(p))
				part.include = append(part.include, "/"+filepath.ToSlash(rel))
			}
		}
		parts = append(parts, part)
	}
	return parts, nil
}

func mapRoot(root string, snap restic.Snapshot, volumes []namedVolume, recorded map[string]string) (string, error) {
	for _, v := range volumes {
		if src, ok := recorded[v.name]; ok && under(root, src) {
			rel, _ := filepath.Rel(src, root)
			return filepath.Join(v.path, rel), nil
		}
	}
	for _, v := range volumes {
		if under(root, v.path) {
			return root, nil
		}
	}
	if len(snap.Paths) == 1 && len(volumes) == 1 {
		return volumes[0].path, nil
	}
	var names []string
	for _, v := range volumes {
		names = append(names, v.name+"="+v.path)
	}
	return "", fmt.Errorf("path %s of snapshot %s lies in none of the target's volumes (%s): nothing was restored; mount the volume it came from (volumeMounts) or restore it with a rule's paths",
		root, snap.ShortID, strings.Join(names, ", "))
}

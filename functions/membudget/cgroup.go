package membudget

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// CgroupRoot is where the cgroup file systems are mounted.
const CgroupRoot = "/sys/fs/cgroup"

// unlimited is the smallest value cgroup v1 reports for "no limit" (it
// reports the largest page-aligned int64).
const unlimited = 1 << 62

// CgroupLimit returns the memory limit of the cgroup that procCgroup (the
// contents of /proc/self/cgroup) names, under root: the smallest limit of
// that cgroup and its ancestors, From the file it was read from; none when
// there is none. The v1 memory controller is used when it is listed (a
// hybrid host mounts it at root/memory), else the v2 hierarchy at root.
// Directories that do not exist are skipped: a container without its own
// cgroup namespace sees its cgroup's files at the mount point itself.
func CgroupLimit(root string, procCgroup []byte) (Limit, error) {
	var l Limit
	dir, file, ok := memoryCgroup(string(procCgroup))
	if !ok {
		return l, nil
	}
	base := root
	if file == v1File {
		base = filepath.Join(root, "memory")
	}
	for p := path.Clean("/" + dir); ; p = path.Dir(p) {
		name := filepath.Join(base, filepath.FromSlash(p), file)
		n, err := readLimit(name)
		if err != nil {
			return Limit{}, err
		}
		if n > 0 && (l.Bytes == 0 || n < l.Bytes) {
			l = Limit{Bytes: n, From: name}
		}
		if p == "/" {
			return l, nil
		}
	}
}

// SelfCgroupLimit is CgroupLimit of this process.
func SelfCgroupLimit() (Limit, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return Limit{}, nil // not Linux, or no /proc: no cgroup to bound us
	}
	return CgroupLimit(CgroupRoot, b)
}

const (
	v1File = "memory.limit_in_bytes"
	v2File = "memory.max"
)

// memoryCgroup finds the memory cgroup's path in /proc/self/cgroup and the
// file holding its limit.
func memoryCgroup(procCgroup string) (dir, file string, ok bool) {
	var v2 string
	hasV2 := false
	for _, line := range strings.Split(procCgroup, "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, hasV2 = parts[2], true
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return parts[2], v1File, true
			}
		}
	}
	return v2, v2File, hasV2
}

// readLimit reads one limit file: 0 for "max", v1's "unlimited" value, or
// a missing file.
func readLimit(name string) (int64, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("memory limit: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("memory limit: %s holds %q, not a number of bytes or \"max\"", name, s)
	}
	if n >= unlimited {
		return 0, nil
	}
	return n, nil
}

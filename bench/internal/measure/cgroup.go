package measure

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cgroups makes, for each measured run, a child of this process's own
// memory cgroup with a memory limit (a benchmark's -mem-limit), so that
// the limit is enforced as a container's would be (the kernel reclaims,
// then OOM-kills). cgroup v2 (memory.max) or v1 (memory.limit_in_bytes),
// whichever holds the memory controller for this process.
type Cgroups struct {
	parent string // this process's memory cgroup directory
	v2     bool
	limit  int64
	n      int
}

// NewCgroups checks that a child cgroup with a memory limit can be made
// here (it makes one and removes it), and says why not otherwise.
func NewCgroups(limit int64) (*Cgroups, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	m := &Cgroups{limit: limit}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" && m.parent == "" {
			m.parent, m.v2 = filepath.Join("/sys/fs/cgroup", parts[2]), true
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				m.parent, m.v2 = filepath.Join("/sys/fs/cgroup/memory", parts[2]), false
			}
		}
	}
	if m.parent == "" {
		return nil, errors.New("no memory cgroup in /proc/self/cgroup")
	}
	if m.v2 {
		// A v2 child has memory.max only if its parent delegates the
		// controller.
		if err := os.WriteFile(filepath.Join(m.parent, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
			return nil, fmt.Errorf("cgroup v2 %s: cannot enable the memory controller for children: %w", m.parent, err)
		}
	}
	cg, err := m.Create()
	if err != nil {
		return nil, err
	}
	return m, cg.Remove()
}

// Cgroup is one run's cgroup: Options.Cgroup runs the command in it;
// Remove it after the run.
type Cgroup struct {
	dir string
	v2  bool
}

// Create makes the next run's cgroup.
func (m *Cgroups) Create() (*Cgroup, error) {
	m.n++
	cg := &Cgroup{dir: filepath.Join(m.parent, fmt.Sprintf("stashflow-bench-%d-%d", os.Getpid(), m.n)), v2: m.v2}
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", cg.dir, err)
	}
	file := "memory.limit_in_bytes"
	if m.v2 {
		file = "memory.max"
	}
	if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(strconv.FormatInt(m.limit, 10)), 0); err != nil {
		_ = os.Remove(cg.dir)
		return nil, fmt.Errorf("cgroup %s: %s: %w", cg.dir, file, err)
	}
	return cg, nil
}

// wrap makes cmd enter the cgroup before it execs: a shell writes its
// own pid into cgroup.procs, then execs the command, so every process
// of the run starts inside.
func (cg *Cgroup) wrap(cmd *exec.Cmd) {
	args := append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg.dir, cmd.Path}, cmd.Args[1:]...)
	cmd.Path, cmd.Args = "/bin/sh", append([]string{"sh"}, args...)
}

// usage returns the cgroup's peak memory (page cache included, as the
// kernel charges it) and its OOM kills.
func (cg *Cgroup) usage() (peak int64, oomKills int) {
	peakFile, events, key := "memory.max_usage_in_bytes", "memory.oom_control", "oom_kill "
	if cg.v2 {
		peakFile, events = "memory.peak", "memory.events"
	}
	if b, err := os.ReadFile(filepath.Join(cg.dir, peakFile)); err == nil {
		peak, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	if b, err := os.ReadFile(filepath.Join(cg.dir, events)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, key); ok {
				oomKills, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	return peak, oomKills
}

// Remove deletes the cgroup once its processes are gone, killing (by pid)
// any the run left behind.
func (cg *Cgroup) Remove() error {
	var err error
	for range 50 {
		if err = syscall.Rmdir(cg.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if b, rerr := os.ReadFile(filepath.Join(cg.dir, "cgroup.procs")); rerr == nil {
			for _, f := range strings.Fields(string(b)) {
				if pid, perr := strconv.Atoi(f); perr == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("cgroup %s not removed: %w", cg.dir, err)
}

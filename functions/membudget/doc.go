// Package membudget gives a Function step its memory budget and splits it
// between the step's own process and the restic it starts.
//
// The step learns its limit from the --memory-limit flag or
// $STASHFLOW_MEMORY_LIMIT (the Argo engine renders the container's
// resources.limits.memory into it), bounded by the limit of the cgroup the
// process runs in (cgroup v2 memory.max, v1 memory.limit_in_bytes; the
// smallest of the cgroup and its ancestors). Split turns the limit into a
// soft limit for our process's Go memory (debug.SetMemoryLimit) and
// restic's GOMEMLIMIT, leaving Overhead for what neither Go runtime
// controls (the binaries' pages, the pipe, restic's non-heap memory). A
// GOMEMLIMIT in the step's environment wins over both (Apply).
//
// Reading the cgroup files is separate from finding them (CgroupLimit takes
// the mount point and /proc/self/cgroup's contents) so that tests run on
// temporary directories.
package membudget

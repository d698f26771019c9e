// Package measure runs one benchmarked command as a process tree and
// measures it from /proc and wait4: wall time, the tree's CPU (exact),
// each command's CPU and peak RSS, anonymous and file-backed (sampled
// every 20 ms), the tree's
// largest summed RSS at one sample, and peak bytes of temporary disk;
// on request each command's start of reading, the Go environment it ran
// with, and, in a memory cgroup of its own (Cgroups), the cgroup's peak
// and OOM kills; with Options.Timeline, where each command's and each
// server's time went (per thread schedstat: on a core, runnable waiting
// for one, or blocked) over the run and in stretches of it, with the
// machine's busy cores. It also reads a server's CPU (its reaped children
// included), and has the median and table helpers the benchmarks share.
package measure

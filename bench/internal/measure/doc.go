// Package measure runs one benchmarked command as a process tree and
// measures it from /proc and wait4: wall time, the tree's CPU (exact),
// each command's CPU and peak RSS (sampled every 20 ms), the tree's
// largest summed RSS at one sample, and peak bytes of temporary disk;
// on request each command's start of reading, the Go environment it ran
// with, and, in a memory cgroup of its own (Cgroups), the cgroup's peak
// and OOM kills. It also reads a server's CPU (its reaped children
// included), and has the median and table helpers the benchmarks share.
package measure

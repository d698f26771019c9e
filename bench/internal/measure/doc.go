// Package measure runs one benchmarked command as a process tree and
// measures it from /proc and wait4: wall time, the tree's CPU (exact),
// each command's CPU and peak RSS (sampled every 20 ms), the tree's
// largest summed RSS at one sample, and peak bytes of temporary disk.
// It also reads a server's CPU (its reaped children included), and has
// the median and table helpers the benchmarks share.
package measure

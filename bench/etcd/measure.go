package main

import (
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/stashflow/stashflow/bench/internal/measure"
)

// startedBytes is what a process has read (/proc/<pid>/io rchar) once its
// data phase has begun: more than restic reads of its repository's config,
// keys and locks before it reads its input (measure.Proc.Serial).
const startedBytes = 8 << 20

// runIn measures cmd with bench/internal/measure's sampler, inside cg (nil:
// none): restic's start (startedBytes), the GOMEMLIMIT and GOGC its
// processes ran with, and this benchmark's own child as "bench-child".
func (b *bench) runIn(cg *measure.Cgroup, name string, cmd *exec.Cmd, tmpDirs ...string) (*measure.Result, error) {
	o := measure.Options{TmpDirs: tmpDirs, StartedBytes: startedBytes, Env: []string{"GOGC", "GOMEMLIMIT"}, Cgroup: cg,
		Timeline: b.timeline}
	if b.etcd != nil {
		o.Servers = map[string]int{"etcd-server": b.etcd.Members[0].Pid()}
	}
	if cmd.Path == b.self {
		o.RootName = "bench-child"
	}
	return measure.Run(name, cmd, o)
}

// report prints the results as a table.
func report(w io.Writer, res *results) {
	fmt.Fprintf(w, "\netcd: %d keys, %d MiB of values; snapshot %d MiB; %d round(s), median shown; load average at the end %s\n\n",
		res.Keys, res.SizeBytes>>20, res.SnapshotBytes>>20, res.Rounds, res.LoadAvg)
	if res.MemLimit > 0 {
		how := "enforced: each step of (a) and (b) in a cgroup of its own with that limit"
		if !res.Enforced {
			how = "NOT enforced (no cgroup could be made): (b) is told the limit; compare the peaks with it"
		}
		fmt.Fprintf(w, "memory limit %s MiB, %s\n\n", measure.MiB(res.MemLimit), how)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall s\trounds s\tCPU s (tree)\tetcd server CPU s\tper process: CPU s / peak RSS MiB (anon)\tstep peak RSS MiB\tcgroup peak MiB\tOOM kills\ttemp disk MiB\t")
	for _, r := range res.Rows {
		cg, oom := "-", "-"
		if r.CgroupPeak > 0 {
			cg, oom = measure.MiB(r.CgroupPeak), strconv.Itoa(r.OOMKills)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, measure.Secs(r.Wall), r.Range, measure.Secs(r.CPU), measure.Secs(r.ServerCPU), r.PerProcess(), measure.MiB(r.StepPeak), cg, oom, measure.MiB(r.TempPeak))
	}
	_ = tw.Flush() // w is stdout: like the fmt writes, not worth an error branch
	fmt.Fprintln(w, "step peak RSS: the largest sum of the run's processes' RSS at one 20 ms sample; cgroup peak: the kernel's, page cache included")
	for _, r := range res.Rows {
		if r.Failed != "" {
			fmt.Fprintf(w, "FAILED %s: %s\n", r.Name, r.Failed)
		}
		resticEnv := ""
		if p := r.Procs["restic"]; p != nil {
			resticEnv = p.Env
		}
		if r.Budget != "" || strings.HasPrefix(r.Name, "(b)") && resticEnv != "" {
			fmt.Fprintf(w, "%s: %s; restic ran with %q\n", r.Name, r.Budget, resticEnv)
		}
		if strings.HasPrefix(r.Name, "(b)") {
			// What no GOMEMLIMIT covers: the binaries' pages (membudget.Overhead).
			fmt.Fprintf(w, "%s: peak file-backed RSS MiB: %s\n", r.Name, r.FileLine())
		}
	}
	if res.Timeline > 0 {
		// Where each process's time went: on a core, waiting for one (the
		// cores were taken), or neither (blocked on its input or output).
		fmt.Fprintln(w, "\nscheduler (/proc/<pid>/task/*/schedstat), per run: time on a core, time runnable waiting for one, slices on a core; the machine's busy cores (everyone's)")
		for _, r := range res.Rows {
			if len(r.Sched) > 0 {
				fmt.Fprintf(w, "%s: %s\n", r.Name, r.SchedLine())
			}
		}
		for _, r := range res.Rows {
			if strings.HasPrefix(r.Name, rowB) || r.Name == rowC2 {
				fmt.Fprintf(w, "\ntimeline of %s (median round; cores per %s stretch, in brackets its threads waiting for a core)\n", r.Name, res.Timeline)
				measure.WriteTimeline(w, r)
			}
		}
	}
	fmt.Fprintf(w, "\nCPU bound on 2 cores = (etcd server + stream client [c1] + restic [c2]) / 2 = %.2f s; max(c) = %.2f s\n", res.CPUBoundSec, res.MaxLimitSec)
	if res.FloorSec > 0 {
		fmt.Fprintf(w, "restic's serial start (key derivation, lock, index; until it has read %d MiB): %.2f s in (c2), %.2f CPU-s; %.2f s in (b)\n", startedBytes>>20, res.ResticStartSec, res.ResticStartCPUSec, res.BResticStartSec)
		fmt.Fprintf(w, "floor = that start + the rest of the bound's CPU over 2 cores = %.2f s (%.2f× the CPU bound)\n", res.FloorSec, res.FloorSec/res.CPUBoundSec)
	}
	for _, k := range slices.Sorted(maps.Keys(res.Ratios)) {
		fmt.Fprintf(w, "%-14s %.3f\n", k, res.Ratios[k])
	}
	fmt.Fprintln(w)
	for _, k := range slices.Sorted(maps.Keys(res.Targets)) {
		fmt.Fprintf(w, "target %-24s %s\n", k, res.Targets[k])
	}
}

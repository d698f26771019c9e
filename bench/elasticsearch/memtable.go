package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/stashflow/stashflow/bench/internal/measure"
	"github.com/stashflow/stashflow/functions/elasticsearch"
	"github.com/stashflow/stashflow/internal/repo"
)

// The -mem-limit table: the backup step as users run it (`stashflow fn
// elasticsearch-backup`, which learns its limit from its cgroup and splits
// it between itself and restic) and restic backing up the archive file,
// each run in a memory cgroup of its own with the limit when one can be made (else the
// step is told the limit), measured by bench/internal/measure as
// bench/etcd's runs are: interleaved rounds, the median round shown.
const (
	rowMemB = "(b) stashflow fn elasticsearch-backup"
	rowMemR = "(r) restic backup of the archive file"
)

// memTable runs the -mem-limit rounds against the server at url; archive
// is the backup's archive as a file (the same bytes as (b) sends restic).
func (b *bench) memTable(url, archive string) error {
	measure.Logf("building stashflow")
	stashflow, err := repo.BuildStashflow(filepath.Join(b.c.workDir, "bin"))
	if err != nil {
		return err
	}
	cgs, cgErr := measure.NewCgroups(b.memLimit)
	if cgErr != nil {
		measure.Logf("the limit is not enforced (no cgroup): %v", cgErr)
	}
	rounds := map[string][]*measure.Result{}
	order := []string{rowMemB, rowMemR}
	for round := range b.c.repeat {
		measure.Logf("memory round %d of %d", round+1, b.c.repeat)
		for _, name := range order {
			r, err := b.memRun(cgs, name, b.memCmd(name, stashflow, url, archive))
			if err != nil {
				return err
			}
			rounds[name] = append(rounds[name], r)
		}
	}
	rows := make([]*measure.Result, len(order))
	for i, name := range order {
		rows[i] = measure.Median(rounds[name])
	}
	memReport(os.Stdout, b.memLimit, cgs != nil, b.c.repeat, rows)
	return nil
}

// memCmd is one run of the table, into a fresh copy of the template
// repository.
func (b *bench) memCmd(name, stashflow, url, archive string) *exec.Cmd {
	env := b.resticEnv(b.newRepo())
	var cmd *exec.Cmd
	switch name {
	case rowMemB:
		out := filepath.Join(b.c.workDir, "out-mem")
		_ = os.RemoveAll(out)
		cmd = exec.Command(stashflow, append([]string{"fn", "elasticsearch-backup", "--url", url, "--include", "bench", "--hostname", "bench"},
			strings.Fields(b.c.backupArgs)...)...)
		env = append(env, "STASHFLOW_OUTPUT_DIR="+out)
	default:
		cmd = exec.Command(filepath.Join(b.bin, "restic"), "backup", "--json", "--host", "bench", archive)
	}
	cmd.Env = env
	return cmd
}

// memRun measures one run in a cgroup of its own (or, without cgroups,
// telling the step the limit), and checks that (b) backed up every
// document.
func (b *bench) memRun(cgs *measure.Cgroups, name string, cmd *exec.Cmd) (*measure.Result, error) {
	var cg *measure.Cgroup
	if cgs != nil {
		var err error
		if cg, err = cgs.Create(); err != nil {
			return nil, err
		}
	} else {
		cmd.Env = append(cmd.Env, "STASHFLOW_MEMORY_LIMIT="+strconv.FormatInt(b.memLimit, 10))
	}
	before := selfCPU()
	r, err := measure.Run(name, cmd, measure.Options{Env: []string{"GOGC", "GOMEMLIMIT"}, Cgroup: cg})
	if cg != nil {
		err = errors.Join(err, cg.Remove())
	}
	if err != nil {
		return nil, err
	}
	r.ServerCPU = selfCPU() - before
	if name == rowMemB && r.Failed == "" {
		docs, err := os.ReadFile(filepath.Join(b.c.workDir, "out-mem", elasticsearch.OutputDocuments))
		if err != nil {
			return nil, fmt.Errorf("%s wrote no %s output: %w", name, elasticsearch.OutputDocuments, err)
		}
		if n := strings.TrimSpace(string(docs)); n != strconv.Itoa(b.c.docs) {
			return nil, fmt.Errorf("%s backed up %s documents of %d", name, n, b.c.docs)
		}
	}
	return r, nil
}

// memReport prints the table as bench/etcd prints its own.
func memReport(w io.Writer, limit int64, enforced bool, repeat int, rows []*measure.Result) {
	how := "enforced: each run in a cgroup of its own with that limit"
	if !enforced {
		how = "NOT enforced (no cgroup could be made): (b) is told the limit; compare the peaks with it"
	}
	fmt.Fprintf(w, "\nmemory limit %s MiB, %s; %d round(s), median shown; load average %s\n\n", measure.MiB(limit), how, repeat, measure.LoadAvg())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\twall s\trounds s\tCPU s (tree)\tserver CPU s\tper process: CPU s / peak RSS MiB (anon)\tstep peak RSS MiB\tcgroup peak MiB\tOOM kills\t")
	for _, r := range rows {
		cg, oom := "-", "-"
		if r.CgroupPeak > 0 {
			cg, oom = measure.MiB(r.CgroupPeak), strconv.Itoa(r.OOMKills)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, measure.Secs(r.Wall), r.Range, measure.Secs(r.CPU),
			measure.Secs(r.ServerCPU), r.PerProcess(), measure.MiB(r.StepPeak), cg, oom)
	}
	_ = tw.Flush() // w is stdout: like the fmt writes, not worth an error branch
	fmt.Fprintln(w, "step peak RSS: the largest sum of the run's processes' RSS at one 20 ms sample; cgroup peak: the kernel's, page cache included")
	var bRow, rRow *measure.Result
	for _, r := range rows {
		if r.Failed != "" {
			fmt.Fprintf(w, "FAILED %s: %s\n", r.Name, r.Failed)
		}
		env := ""
		if p := r.Procs["restic"]; p != nil {
			env = p.Env
		}
		if r.Budget != "" || r.Name == rowMemB {
			fmt.Fprintf(w, "%s: %s; restic ran with %q\n", r.Name, r.Budget, env)
			// What no GOMEMLIMIT covers: the binaries' pages (membudget.Overhead).
			fmt.Fprintf(w, "%s: peak file-backed RSS MiB: %s\n", r.Name, r.FileLine())
		}
		switch r.Name {
		case rowMemB:
			bRow = r
		case rowMemR:
			rRow = r
		}
	}
	fmt.Fprintf(w, "b/r wall %.3f, CPU %.3f (goal ≤ 1.2× the time)\n", bRow.Wall.Seconds()/rRow.Wall.Seconds(), bRow.CPU.Seconds()/rRow.CPU.Seconds())
	ok := bRow.Failed == "" && bRow.OOMKills == 0 && bRow.StepPeak <= limit
	fmt.Fprintf(w, "target (b) step ≤ -mem-limit, no OOM kill: %s (step peak %s MiB)\n", map[bool]string{true: "met", false: "MISSED"}[ok], measure.MiB(bRow.StepPeak))
}

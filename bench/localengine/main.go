// Command localengine measures what the local engine adds to running
// processes: it times a chain of N steps that each run `true` on the engine
// against sh exec'ing the same `true` binary N times in a loop, and prints
// the overhead per step, the ratio and the engine's peak RSS. The engine
// runs twice per repetition: bare, and with every step under the step guard
// (internal/deathsig), as `stashflow run` and the operator run it.
//
//	go run ./bench/localengine [-steps 100] [-reps 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
)

func main() {
	steps := flag.Int("steps", 100, "steps in the chain")
	reps := flag.Int("reps", 5, "measured repetitions, after one warm-up")
	flag.Parse()
	if err := run(*steps, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "localengine:", err)
		os.Exit(1)
	}
}

func run(steps, reps int) error {
	trueBin, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	g := chain(steps)
	// The shell must exec the binary: `true` alone is a builtin in sh.
	loop := fmt.Sprintf("i=0; while [ $i -lt %d ]; do %s; i=$((i+1)); done", steps, trueBin)

	guard, cleanup, err := buildGuard()
	if err != nil {
		return err
	}
	defer cleanup()
	type sample struct{ engine, guarded, shell time.Duration }
	var samples []sample
	for rep := 0; rep <= reps; rep++ {
		e, err := timeEngine(g, nil)
		if err != nil {
			return err
		}
		ge, err := timeEngine(g, guard)
		if err != nil {
			return err
		}
		s, err := timeShell(loop)
		if err != nil {
			return err
		}
		if rep > 0 { // rep 0 warms the page cache and the runtime up
			samples = append(samples, sample{e, ge, s})
		}
	}

	fmt.Printf("local engine: chain of %d steps running %s, vs sh exec'ing it %d times; %d repetitions\n\n", steps, trueBin, steps, reps)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "rep\tengine\tengine+guard\tshell loop\toverhead/step\twith guard\tengine/shell\t")
	var engines, guardeds, shells, overheads, gOverheads []time.Duration
	for i, s := range samples {
		over := (s.engine - s.shell) / time.Duration(steps)
		gOver := (s.guarded - s.shell) / time.Duration(steps)
		engines, guardeds, shells = append(engines, s.engine), append(guardeds, s.guarded), append(shells, s.shell)
		overheads, gOverheads = append(overheads, over), append(gOverheads, gOver)
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%.2f\t\n", i+1, ms(s.engine), ms(s.guarded), ms(s.shell), ms(over), ms(gOver), s.engine.Seconds()/s.shell.Seconds())
	}
	me, mg, msh, mo, mgo := median(engines), median(guardeds), median(shells), median(overheads), median(gOverheads)
	fmt.Fprintf(w, "median\t%s\t%s\t%s\t%s\t%s\t%.2f\t\n", ms(me), ms(mg), ms(msh), ms(mo), ms(mgo), me.Seconds()/msh.Seconds())
	if err := w.Flush(); err != nil {
		return err
	}

	// This process is the engine's: the shell loop runs in a child.
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return err
	}
	fmt.Printf("\npeak RSS of the engine's process (getrusage maxrss): %.1f MiB\n", float64(self.Maxrss)/1024)
	verdict := "met"
	if mgo > 20*time.Millisecond {
		verdict = "NOT met"
	}
	fmt.Printf("target ≤ 20ms overhead per step (with the guard, as stashflow runs steps): %s (median %s; bare engine %s)\n", verdict, ms(mgo), ms(mo))
	return nil
}

// buildGuard builds cmd/stashflow-guard, the guard `stashflow run` uses.
func buildGuard() ([]string, func(), error) {
	root, err := repo.Root()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "stashflow-bench-guard-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin := filepath.Join(dir, deathsig.GuardBinary)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/stashflow-guard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("go build ./cmd/stashflow-guard: %w\n%s", err, out)
	}
	return []string{bin}, cleanup, nil
}

func chain(n int) *pipeline.Graph {
	g := &pipeline.Graph{Name: "bench"}
	for i := range n {
		s := pipeline.Step{Name: "s-" + strconv.Itoa(i), Process: pipeline.Process{Command: []string{"true"}}}
		if i > 0 {
			s.Dependencies = []pipeline.Dependency{{Step: "s-" + strconv.Itoa(i-1), When: pipeline.OnSuccess}}
		}
		g.Steps = append(g.Steps, s)
	}
	return g
}

func timeEngine(g *pipeline.Graph, guard []string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "stashflow-bench-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	e := local.New(local.Options{WorkDir: dir, Guard: guard})
	start := time.Now()
	statuses, err := e.Run(context.Background(), g, nil)
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	for _, st := range statuses {
		if st.Phase != pipeline.PhaseSucceeded {
			return 0, fmt.Errorf("step %s ended %s: %s", st.Step, st.Phase, st.Message)
		}
	}
	return elapsed, nil
}

func timeShell(script string) (time.Duration, error) {
	start := time.Now()
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("shell loop: %w: %s", err, out)
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

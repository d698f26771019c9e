package local_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
)

// TestMain lets this test binary play two parts besides running the tests:
// the step guard (as the stashflow binary does) and an engine that a test
// kills with SIGKILL.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == deathsig.GuardArg {
		os.Exit(deathsig.Guard(os.Args[2:]))
	}
	if script := os.Getenv("LOCAL_TEST_ENGINE_SCRIPT"); script != "" {
		os.Exit(engineMain(script, os.Getenv("LOCAL_TEST_ENGINE_GUARD") == "1"))
	}
	os.Exit(m.Run())
}

// engineMain runs one step with script on the local engine and waits.
func engineMain(script string, guard bool) int {
	opts := local.Options{WorkDir: os.Getenv("LOCAL_TEST_ENGINE_WORKDIR")}
	if guard {
		opts.Guard = []string{os.Args[0], deathsig.GuardArg}
	}
	g := &pipeline.Graph{Name: "killed-engine", Steps: []pipeline.Step{sh("s", script)}}
	if _, err := local.New(opts).Run(context.Background(), g, nil); err != nil {
		return 1
	}
	return 0
}

func guarded(t *testing.T) local.Options {
	return local.Options{WorkDir: t.TempDir(), Guard: []string{os.Args[0], deathsig.GuardArg}, GracePeriod: 200 * time.Millisecond}
}

// A daemon that left the step's process group with setsid ends with the
// step when the step runs under the guard.
func TestGuardEndsProcessesThatLeftTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "daemon")
	got, _ := run(context.Background(), t, guarded(t),
		sh("s", `setsid sh -c 'echo $$ > `+pidFile+`.tmp; mv `+pidFile+`.tmp `+pidFile+`; exec sleep 300' & while [ ! -e `+pidFile+` ]; do sleep 0.01; done; exit 3`))
	if got["s"].Phase != pipeline.PhaseFailed || got["s"].Message != "exit code 3" {
		t.Errorf("step = %s %q, want Failed \"exit code 3\"", got["s"].Phase, got["s"].Message)
	}
	pid, _ := strconv.Atoi(waitForFile(t, pidFile))
	requireGone(t, pid)
}

// A timeout ends a setsid daemon that ignores SIGTERM, too. The step waits
// for its daemon before it idles, and the timeout leaves a loaded machine
// seconds to start it (ci13 missed 500 ms: the daemon never started).
func TestGuardTimeoutEndsEverything(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "daemon")
	step := sh("s", `setsid sh -c 'trap "" TERM; echo $$ > `+pidFile+`.tmp; mv `+pidFile+`.tmp `+pidFile+`; while :; do sleep 1; done' & trap "" TERM; while [ ! -e `+pidFile+` ]; do sleep 0.01; done; while :; do sleep 1; done`)
	step.Timeout = 3 * time.Second
	got, _ := run(context.Background(), t, guarded(t), step)
	if got["s"].Phase != pipeline.PhaseFailed {
		t.Errorf("step = %s %q, want Failed", got["s"].Phase, got["s"].Message)
	}
	pid, _ := strconv.Atoi(waitForFile(t, pidFile))
	requireGone(t, pid)
}

// The guard keeps the step's exit status and the signal that ended it.
func TestGuardKeepsTheExitStatus(t *testing.T) {
	got, _ := run(context.Background(), t, guarded(t),
		sh("ok", `exit 0`), sh("code", `exit 5`), sh("signal", `kill -KILL $$`))
	want := map[string]phaseAndMessage{
		"ok":     {pipeline.PhaseSucceeded, ""},
		"code":   {pipeline.PhaseFailed, "exit code 5"},
		"signal": {pipeline.PhaseFailed, "killed by signal SIGKILL"},
	}
	for name, w := range want {
		if g := summary(got)[name]; g != w {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
}

// An engine killed with SIGKILL takes its step's processes with it: the
// main process always (parent-death signal), and with the guard also a
// daemon that left the group. (Without the guard, the shell's own child
// outlives it: that is why stashflow run and the operator use one.)
func TestStepsDieWithTheirEngine(t *testing.T) {
	for _, guard := range []bool{false, true} {
		t.Run("guard="+strconv.FormatBool(guard), func(t *testing.T) {
			dir := t.TempDir()
			main, child := filepath.Join(dir, "main"), filepath.Join(dir, "child")
			script := `echo $$ > ` + main + `.tmp; mv ` + main + `.tmp ` + main + `; sleep 300 & echo $! > ` + child + `.tmp; mv ` + child + `.tmp ` + child + `; wait`
			if guard {
				// The child leaves the process group: only the guard can find it.
				script = `echo $$ > ` + main + `.tmp; mv ` + main + `.tmp ` + main + `; setsid sh -c 'echo $$ > ` + child + `.tmp; mv ` + child + `.tmp ` + child + `; exec sleep 300' & wait`
			}
			eng := exec.Command(os.Args[0], "-test.run=^$")
			eng.Env = append(os.Environ(), "LOCAL_TEST_ENGINE_SCRIPT="+script, "LOCAL_TEST_ENGINE_WORKDIR="+filepath.Join(dir, "work"))
			if guard {
				eng.Env = append(eng.Env, "LOCAL_TEST_ENGINE_GUARD=1")
			}
			if err := eng.Start(); err != nil {
				t.Fatal(err)
			}
			mainPID, _ := strconv.Atoi(waitForFile(t, main))
			childPID, _ := strconv.Atoi(waitForFile(t, child))
			t.Cleanup(func() {
				_ = syscall.Kill(mainPID, syscall.SIGKILL)
				_ = syscall.Kill(childPID, syscall.SIGKILL)
			})
			if err := eng.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = eng.Wait()
			requireGone(t, mainPID)
			if guard {
				requireGone(t, childPID)
			}
		})
	}
}

// Under the guard a step still gets SIGTERM first and can stop gracefully
// (an ignored signal would stay ignored across the guard's exec). The run
// is stopped once the step's trap is set: a timeout fired before a loaded
// machine had started the shell (ci runs with other work missed 300 ms).
func TestGuardPassesSIGTERM(t *testing.T) {
	dir := t.TempDir()
	mark, ready := filepath.Join(dir, "terminated"), filepath.Join(dir, "ready")
	step := sh("s", `trap 'echo yes > `+mark+`; exit 0' TERM; touch `+ready+`; sleep 30 & wait`)
	opts := guarded(t)
	opts.GracePeriod = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 10*time.Millisecond, true, func(context.Context) (bool, error) {
			_, err := os.Stat(ready)
			return err == nil, nil
		})
		cancel()
	}()
	got, _ := run(ctx, t, opts, step)
	if got["s"].Phase != pipeline.PhaseFailed || !strings.Contains(got["s"].Message, "stopped with SIGTERM") {
		t.Errorf("step = %s %q, want Failed, stopped with SIGTERM", got["s"].Phase, got["s"].Message)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Errorf("the step's TERM trap did not run: %v", err)
	}
}

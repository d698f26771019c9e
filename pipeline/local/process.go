package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/hostproc"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/stepcause"
)

const (
	// tailSize is how much of an attempt's log is read back to summarise it.
	tailSize = 4 << 10
	// guardKillWait bounds how long a guard may take to kill its step's
	// processes before its process group is killed with it.
	guardKillWait = 10 * time.Second
)

// outcome is the end of one attempt.
type outcome struct {
	phase   pipeline.Phase
	message string
}

// attempt runs c once in its own process group, its stdout and stderr going
// to logPath, and waits for it, for its timeout or for ctx. A failure's
// message quotes the log's cause (logCause), red's values replaced.
func (r *run) attempt(ctx context.Context, n *node, c *command, logPath string, red *stepcause.Redactor) outcome {
	if err := os.RemoveAll(n.outDir); err != nil {
		return outcome{pipeline.PhaseError, fmt.Sprintf("clearing the output directory: %v", err)}
	}
	if err := os.Mkdir(n.outDir, 0o750); err != nil {
		return outcome{pipeline.PhaseError, fmt.Sprintf("creating the output directory: %v", err)}
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return outcome{pipeline.PhaseError, fmt.Sprintf("creating the log file: %v", err)}
	}
	bin, err := hostproc.LookCommand(c.argv[0], r.opts.Commands, c.env, c.dir)
	if err != nil {
		fmt.Fprintln(logFile, err)
		_ = logFile.Close()
		return outcome{pipeline.PhaseFailed, err.Error()}
	}
	// The child writes straight into the log file: nothing is copied through
	// this process, whatever the amount of output.
	path, args, deathSignal := bin, c.argv, syscall.SIGKILL
	if g := r.opts.Guard; len(g) > 0 {
		path, deathSignal = g[0], deathsig.KillTreeSignal
		args = append(append(append([]string{}, g...), "--", bin), c.argv[1:]...)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        args,
		Env:         c.env,
		Dir:         c.dir,
		Stdout:      logFile,
		Stderr:      logFile,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	// The step dies with this engine (deathsig), and the rest of its
	// process group with it once the main process is gone (below).
	proc, err := deathsig.Start(cmd, deathSignal)
	_ = logFile.Close() // the child has its own copy
	if err != nil {
		return outcome{pipeline.PhaseFailed, fmt.Sprintf("cannot start %s: %v", c.argv[0], err)}
	}
	pid := cmd.Process.Pid
	r.log.V(1).Info("Attempt started", "step", n.step.Name, "pid", pid, "command", bin, "log", logPath)

	exited := proc.Exited
	var timeout <-chan time.Time
	if c.timeout > 0 {
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		timeout = t.C
	}
	var stopReason, stopHow string
	select {
	case <-exited:
	case <-timeout:
		stopReason = fmt.Sprintf("exceeded its timeout of %s", c.timeout)
		stopHow = r.stop(pid, exited)
	case <-ctx.Done():
		stopReason = stopMessage(ctx)
		stopHow = r.stop(pid, exited)
	}
	// The main process has ended but is not reaped yet, so its process group
	// cannot have been reused: end whatever it left behind, as a container's
	// processes end with its main process.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	waitErr := cmd.Wait()

	switch {
	case stopReason != "":
		return outcome{pipeline.PhaseFailed, stopReason + ": " + stopHow}
	case waitErr == nil:
		return outcome{phase: pipeline.PhaseSucceeded}
	}
	var how string
	var exitErr *exec.ExitError
	if errors.As(waitErr, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			how = "killed by signal " + unix.SignalName(ws.Signal())
		} else {
			how = fmt.Sprintf("exit code %d", exitErr.ExitCode())
		}
	} else {
		how = waitErr.Error()
	}
	if cause := logCause(logPath, red); cause != "" {
		how += ": " + cause
	}
	return outcome{pipeline.PhaseFailed, how}
}

// stop sends SIGTERM to the process group and, if the main process has not
// ended after the grace period, SIGKILL; it returns once the main process
// ended, saying how.
func (r *run) stop(pid int, exited <-chan struct{}) string {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(r.opts.GracePeriod)
	defer t.Stop()
	select {
	case <-exited:
		return "stopped with SIGTERM"
	case <-t.C:
	}
	if len(r.opts.Guard) > 0 {
		// The guard kills what left the process group too, then exits.
		_ = syscall.Kill(pid, deathsig.KillTreeSignal)
		select {
		case <-exited:
		case <-time.After(guardKillWait):
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	return fmt.Sprintf("killed with SIGKILL after a grace period of %s", r.opts.GracePeriod)
}

package podrunner

import (
	"context"
	"errors"
	"fmt"
	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/hostproc"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// result is how the main container ended.
type result struct {
	exitCode int32
	// reason and message are the container's terminated state.
	reason, message string
	// podReason and podMessage are set when the pod fails for a reason of
	// its own (DeadlineExceeded).
	podReason, podMessage string
	started, finished     metav1.Time
}

// execute runs the plan's process to its end, or until ctx is done or the
// pod's activeDeadlineSeconds passes, and says how it ended.
func (r *Runner) execute(ctx context.Context, log logr.Logger, pod *corev1.Pod, p *plan, podDir string) result {
	res := result{started: metav1.Now()}
	logPath := filepath.Join(podDir, LogFile)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return startError(res, err)
	}
	bin, err := hostproc.LookCommand(p.argv[0], r.opts.Commands, p.env, p.dir)
	if err != nil {
		fmt.Fprintln(logFile, err)
		_ = logFile.Close()
		return startError(res, err)
	}
	// No bind mount of /dev/termination-log here: the container learns
	// its termination log's path from the environment instead.
	termLog := filepath.Join(podDir, "termination-log")
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		return startError(res, err)
	}
	cmd := &exec.Cmd{
		Path: bin, Args: p.argv, Env: append(slices.Clone(p.env), terminationLogEnv+"="+termLog), Dir: p.dir,
		Stdout: logFile, Stderr: logFile,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	// A kubelet's containers outlive it; these are a test's, and die with
	// the test binary (deathsig).
	proc, err := deathsig.Start(cmd, syscall.SIGKILL)
	_ = logFile.Close() // the child has its own copy
	if err != nil {
		return startError(res, err)
	}
	pid := cmd.Process.Pid
	log.Info("Process started", "pid", pid, "command", bin, "log", logPath)
	exited := proc.Exited
	var deadline <-chan time.Time
	if s := pod.Spec.ActiveDeadlineSeconds; s != nil {
		t := time.NewTimer(time.Until(res.started.Add(time.Duration(*s) * time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-exited:
	case <-deadline:
		// The kubelet kills the pod's containers and fails the pod.
		res.podReason = "DeadlineExceeded"
		res.podMessage = "Pod was active on the node longer than the specified deadline"
		r.stop(log, pid, exited, r.grace(pod), errDeadline)
	case <-ctx.Done():
		r.stop(log, pid, exited, r.grace(pod), context.Cause(ctx))
	}
	// End whatever the main process left in its group, as a container's
	// processes end with its main process; it is not reaped yet, so its
	// process group id cannot have been reused.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	waitErr := cmd.Wait()
	res.finished = metav1.Now()

	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		res.exitCode = int32(exitErr.ExitCode())
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.exitCode = 128 + int32(ws.Signal()) // as container runtimes report it
		}
	default:
		res.exitCode = 1
		res.message = waitErr.Error()
	}
	res.reason = "Completed"
	if b, err := os.ReadFile(termLog); err == nil && res.message == "" {
		res.message = strings.TrimSpace(string(b[:min(len(b), maxTerminationMessage)]))
	}
	if res.exitCode != 0 {
		res.reason = "Error"
		if p.container.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && res.message == "" {
			res.message = logTail(logPath)
		}
	}
	return res
}

// startError is a container that could not start: runtimes report exit
// code 128 and reason StartError.
func startError(res result, err error) result {
	res.exitCode, res.reason, res.message = 128, "StartError", err.Error()
	res.finished = metav1.Now()
	return res
}

func (r *Runner) grace(pod *corev1.Pod) time.Duration {
	g := 30 * time.Second
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		g = time.Duration(*s) * time.Second
	}
	return min(g, r.opts.GracePeriod)
}

// stop sends SIGTERM to the process group and SIGKILL after grace, and
// returns once the main process has ended.
func (r *Runner) stop(log logr.Logger, pid int, exited <-chan struct{}, grace time.Duration, cause error) {
	log.Info("Stopping process", "pid", pid, "cause", fmt.Sprint(cause))
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
		return
	case <-t.C:
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
}

// terminationLogEnv is functions.TerminationLogEnv (not imported: the pod
// runner knows containers, not stashflow's Functions).
const terminationLogEnv = "STASHFLOW_TERMINATION_LOG"

// maxTerminationMessage is the kubelet's bound on a termination message.
const maxTerminationMessage = 4096

// logTail is what the kubelet takes as the termination message with
// FallbackToLogsOnError: the last 2 KiB (at most 80 lines) of the log.
func logTail(logPath string) string {
	const maxBytes, maxLines = 2048, 80
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

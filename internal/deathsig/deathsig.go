package deathsig

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Process is a child started by Start.
type Process struct {
	Cmd *exec.Cmd
	// Exited is closed when the child has ended. It is not reaped yet: its
	// pid (and process group id, when it leads one) stays reserved until
	// Cmd.Wait, so the group can still be signalled safely.
	Exited <-chan struct{}
}

// Start starts cmd so that it receives sig (SIGKILL when 0) when this
// process dies, however it dies. Extra SysProcAttr settings of cmd are kept.
func Start(cmd *exec.Cmd, sig syscall.Signal) (*Process, error) {
	return StartPriority(cmd, sig, Priority{})
}

// StartPriority is Start with the child's CPU and I/O priority set: they
// are set on the thread that forks it, which it inherits.
func StartPriority(cmd *exec.Cmd, sig syscall.Signal, prio Priority) (*Process, error) {
	if sig == 0 {
		sig = syscall.SIGKILL
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = sig
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		// Pdeathsig fires when the thread that forked the child ends, so the
		// thread is held for the child's life. It is given back afterwards,
		// not retired: retiring it would also fire the parent-death signal
		// of any other child that other code had forked from this thread
		// earlier (a goroutine that ends locked ends its thread).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if !prio.IsZero() {
			undo, err := prio.apply()
			defer undo()
			if err != nil {
				started <- err
				return
			}
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waitExited(cmd.Process.Pid)
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return &Process{Cmd: cmd, Exited: exited}, nil
}

// Wait waits for the child to end and reaps it (Cmd.Wait).
func (p *Process) Wait() error {
	<-p.Exited
	return p.Cmd.Wait()
}

// waitExited blocks until pid has ended, without reaping it.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

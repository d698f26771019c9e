package deathsig

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// GuardArg is the argument that makes a binary run Guard: an engine starts
// `<binary> GuardArg -- <argv...>` instead of argv.
const GuardArg = "__step-guard"

// KillTreeSignal is the signal that, sent to a guard, makes it kill every
// process of its step with SIGKILL and exit; an engine sends it when a step's grace period is
// over, and it is the guard's parent-death signal.
const KillTreeSignal = syscall.SIGUSR2

// Guard runs argv as the one child of this process and keeps the whole tree
// of processes it starts on a leash, as a container does with its
// processes: it is a child subreaper, so that a descendant whose parent
// ended (a daemon started with setsid, the tar of a `tar | restic` whose
// shell was killed) is re-parented to it rather than to init; when the
// child ends, or on KillTreeSignal, it kills every descendant left with
// SIGKILL before it exits. SIGTERM and SIGINT are the child's to handle
// (an engine signals the whole process group); the guard only waits.
//
// It returns the exit code the guard should exit with; a child killed by a
// signal is reported by raising the same signal on the guard.
func Guard(argv []string) int {
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "step guard: no command")
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "step guard: PR_SET_CHILD_SUBREAPER: %v\n", err)
		return 126
	}
	// Caught and dropped, not ignored: an ignored signal stays ignored
	// across exec, and the step must get SIGTERM to stop gracefully.
	drop := make(chan os.Signal, 8)
	signal.Notify(drop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for range drop {
		}
	}()
	kill := make(chan os.Signal, 1)
	signal.Notify(kill, KillTreeSignal)
	// The engine may have died between our start and the Notify above.
	if os.Getppid() == 1 {
		return 137
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "step guard: cannot start %s: %v\n", argv[0], err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	select {
	case waitErr = <-done:
		// The main process is gone, so every process it left was
		// re-parented to this subreaper: no child left means no
		// descendant, and /proc need not be read (the common case).
		if hasChildren() {
			KillDescendants(os.Getpid())
		}
	case <-kill:
		KillDescendants(os.Getpid())
		<-done
		return 137
	}
	if waitErr == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			signal.Reset(ws.Signal())
			_ = syscall.Kill(os.Getpid(), ws.Signal())
			time.Sleep(time.Second) // a signal that does not end us
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// KillDescendants sends SIGKILL to every process below pid, again and
// again until none is left, not even a zombie (a process may fork while it
// is being killed), reaping the orphans that were re-parented to this
// process when it is a subreaper. It gives up after 10 seconds.
func KillDescendants(pid int) {
	deadline := time.Now().Add(10 * time.Second)
	// The zombies of killed orphans are reaped too: a zombie still answers
	// kill(pid, 0), and restic takes a lock whose holder answers for held.
	defer reapOrphans(pid)
	for time.Now().Before(deadline) {
		pids := descendants(pid)
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		reapOrphans(pid)
		time.Sleep(10 * time.Millisecond)
	}
}

// reapOrphans reaps ended children of this process other than the ones
// os/exec waits for: those can only be orphans a subreaper adopted, and
// their zombies would otherwise stay descendants forever.
func reapOrphans(self int) {
	if self == os.Getpid() {
		// exec.Cmd.Wait's own child may be reaped here too; its Wait then
		// returns an error that is not looked at once the tree is killed.
		_ = hasChildren()
	}
}

// hasChildren reaps this process's ended children and reports whether any
// is left.
func hasChildren() bool {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil: // ECHILD: none
			return false
		case p == 0: // some, still running
			return true
		}
	}
}

// descendants lists the pids below pid. Zombies are listed too: a
// multi-threaded process shows its leader as a zombie while its other
// threads still exit, and only once it is reaped is it gone (a zombie still
// answers kill(pid, 0), which restic asks of a lock's holder).
func descendants(pid int) []int {
	var out []int
	for _, p := range Descendants(pid) {
		out = append(out, p.PID)
	}
	return out
}

// Proc is one process as /proc/<pid>/stat shows it.
type Proc struct {
	PID, PPID int
	// Comm is the command name; State is one letter (R, S, D, Z, ...);
	// Start is the start time in clock ticks since boot, which tells a
	// process from a later one that reuses its pid.
	Comm, State, Start string
}

// ReadProc reads /proc/<pid>/stat; ok is false when the process is gone.
func ReadProc(pid int) (p Proc, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Proc{}, false
	}
	// pid (comm) state ppid ... starttime(22nd field); comm may hold spaces
	// and parentheses.
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return Proc{}, false
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 20 || f[0] == "X" {
		return Proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return Proc{PID: pid, PPID: ppid, Comm: s[open+1 : closing], State: f[0], Start: f[19]}, true
}

// Descendants lists the processes below pid (zombies included), read from
// /proc.
func Descendants(pid int) []Proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := map[int]Proc{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := ReadProc(n); ok {
			procs[n] = p
		}
	}
	var out []Proc
	for _, p := range procs {
		for q, n := p.PPID, 0; q > 1 && n < 4096; q, n = procs[q].PPID, n+1 {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// GuardBinary is the small binary that runs Guard (cmd/stashflow-guard).
const GuardBinary = "stashflow-guard"

// FindGuard returns the argv prefix of a step guard for an engine run by
// the stashflow binary exe: GuardBinary beside exe, else on PATH, else exe
// itself with GuardArg (the same guard, ≈ 80 ms slower to start).
func FindGuard(exe string) []string {
	if p := filepath.Join(filepath.Dir(exe), GuardBinary); isExecutable(p) {
		return []string{p}
	}
	if p, err := exec.LookPath(GuardBinary); err == nil {
		return []string{p}
	}
	return []string{exe, GuardArg}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

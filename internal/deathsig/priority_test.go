package deathsig_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/internal/deathsig"
)

// TestStartPriority: the child starts with the niceness added and the I/O
// class and level asked for.
func TestStartPriority(t *testing.T) {
	before := niceOf(t, os.Getpid())
	p, err := deathsig.StartPriority(exec.Command("sleep", "30"), 0, deathsig.Priority{Nice: ptr.To(5), IOClass: ptr.To(3), IOClassData: ptr.To(0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Cmd.Process.Kill(); _ = p.Wait() })
	pid := p.Cmd.Process.Pid
	if got := niceOf(t, pid); got != before+5 {
		t.Errorf("child niceness %d, want %d", got, before+5)
	}
	prio, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, 1, uintptr(pid), 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if class, data := prio>>13, prio&0xff; class != 3 || data != 0 {
		t.Errorf("child I/O class %d level %d, want idle (3) at 0", class, data)
	}
	if _, err := deathsig.StartPriority(exec.Command("true"), 0, deathsig.Priority{IOClass: ptr.To(9)}); err == nil || !strings.Contains(err.Error(), "want a class of 0-3") {
		t.Errorf("an I/O class of 9: err = %v, want it refused", err)
	}
}

// niceOf reads field 19 (nice) of /proc/<pid>/stat.
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	n, err := strconv.Atoi(fields[16]) // field 19 of the whole line
	if err != nil {
		t.Fatal(err)
	}
	return n
}

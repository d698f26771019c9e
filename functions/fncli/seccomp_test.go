package fncli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// forbidSchedEnv, set in the environment of this test binary run as a
// child, makes TestSchedBatchForbidden's child side run.
const forbidSchedEnv = "STASHFLOW_TEST_FORBID_SCHED_SETATTR"

// forbidSchedSetattr installs a seccomp filter on every thread of this
// process that fails sched_setattr with EPERM and allows every other
// system call, as a container runtime's profile without sched_setattr
// does. The filter is inherited by the threads and children made later.
// (It compares syscall numbers without checking the architecture: this
// test binary makes only native calls.)
func forbidSchedSetattr() error {
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_SCHED_SETATTR},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	return nil
}

// resetPolicy puts every thread of this process under the default policy,
// listing them again until a pass finds none left to change.
func resetPolicy() error {
	for range 10 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		changed := 0
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			attr, err := unix.SchedGetAttr(tid, 0)
			if err != nil || attr.Policy == 0 {
				continue // ended meanwhile, or already SCHED_OTHER
			}
			attr.Policy = 0
			if err := unix.SchedSetAttr(tid, attr, 0); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("sched_setattr SCHED_OTHER of thread %d: %w", tid, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return errors.New("threads kept appearing under another policy")
}

// TestSchedBatchForbidden: where the runtime forbids sched_setattr, the
// step runs under the default policy, says so in its log, and succeeds
// (docs/functions.md, STASHFLOW_SCHED_BATCH). The step runs in a child
// process of this test binary, so that the filter stays there.
func TestSchedBatchForbidden(t *testing.T) {
	if os.Getenv(forbidSchedEnv) == "1" {
		// This process inherited the policy of the test process, which
		// TestSchedBatch may have left at SCHED_BATCH: back to the default
		// first, or there would be nothing for the step to set.
		if err := resetPolicy(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(98)
		}
		if err := forbidSchedSetattr(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(99)
		}
		// The hook's command prints its own policy (field 41 of its stat).
		os.Exit(Main(context.Background(), []string{"hook", "exec", "--local", "--",
			"sh", "-c", `read -r s < /proc/self/stat; set -- ${s##*)}; shift 38; echo "hook policy $1"`}))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSchedBatchForbidden$")
	cmd.Env = append(os.Environ(), forbidSchedEnv+"=1", "STASHFLOW_OUTPUT_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the step under a filter forbidding sched_setattr failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"scheduling policy left at the default",
		"sched_setattr SCHED_BATCH of thread",
		"operation not permitted",
		"hook policy 0", // SCHED_OTHER: the hook's process did not get SCHED_BATCH
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

package schedbatch

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Policies of linux/sched.h.
const (
	policyOther = 0 // SCHED_OTHER (SCHED_NORMAL), the default
	PolicyBatch = 3 // SCHED_BATCH
)

// Apply sets SCHED_BATCH, keeping each thread's niceness, on every thread
// of this process that has the default policy (a thread someone put under
// another policy, e.g. SCHED_IDLE or a real-time one, is left as it is). A thread the Go runtime makes later is cloned from one of
// them and inherits it, as does a child forked from any of them. Threads
// made while Apply lists them are caught by listing again until a pass
// finds none left to change. It returns the number of threads changed.
func Apply() (int, error) {
	changed := 0
	for range 10 {
		n, err := applyOnce()
		changed += n
		if err != nil || n == 0 {
			return changed, err
		}
	}
	return changed, nil
}

func applyOnce() (int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue // the thread ended meanwhile
			}
			return n, fmt.Errorf("sched_getattr of thread %d: %w", tid, err)
		}
		if attr.Policy != policyOther {
			continue
		}
		attr.Policy = PolicyBatch
		attr.Priority = 0
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			return n, fmt.Errorf("sched_setattr SCHED_BATCH of thread %d: %w", tid, err)
		}
		n++
	}
	return n, nil
}

// Policy returns the scheduling policy of thread tid (0: the caller's).
func Policy(tid int) (uint32, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, err
	}
	return attr.Policy, nil
}

package deathsig

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Priority is the CPU and I/O priority a child starts with (Stash's
// runtimeSettings.container nice and ionice): Nice is added to the
// niceness, IOClass and IOClassData are the I/O scheduling class (1
// realtime, 2 best-effort, 3 idle) and its level (0–7). Unset fields keep
// what the child would inherit.
type Priority struct {
	Nice, IOClass, IOClassData *int
}

// IsZero reports whether p changes nothing.
func (p Priority) IsZero() bool { return p.Nice == nil && p.IOClass == nil && p.IOClassData == nil }

const ioprioWhoProcess = 1

// apply sets p on the calling OS thread, which the child forked from it
// inherits (niceness and I/O priority are per thread on Linux), and returns
// what undoes it as far as this process may: lowering niceness again needs
// CAP_SYS_NICE, so without it the thread keeps the niceness.
func (p Priority) apply() (undo func(), err error) {
	tid := unix.Gettid()
	var undos []func()
	undo = func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	if p.Nice != nil {
		raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			return undo, fmt.Errorf("reading the niceness: %w", err)
		}
		old := 20 - raw // the raw syscall returns 20 - nice
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, old+*p.Nice); err != nil {
			return undo, fmt.Errorf("nice adjustment %d: %w", *p.Nice, err)
		}
		undos = append(undos, func() { _ = unix.Setpriority(unix.PRIO_PROCESS, tid, old) })
	}
	if p.IOClass != nil || p.IOClassData != nil {
		old, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
		if errno != 0 {
			return undo, fmt.Errorf("reading the I/O priority: %w", errno)
		}
		class, data := 2, 4 // best-effort at its default level
		if p.IOClass != nil {
			class = *p.IOClass
		}
		if p.IOClassData != nil {
			data = *p.IOClassData
		}
		if class < 0 || class > 3 || data < 0 || data > 7 {
			return undo, fmt.Errorf("ionice class %d, level %d: want a class of 0-3 and a level of 0-7", class, data)
		}
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), uintptr(class<<13|data)); errno != 0 {
			return undo, fmt.Errorf("ionice class %d, level %d: %w", class, data, errno)
		}
		undos = append(undos, func() { _, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, uintptr(tid), old) })
	}
	return undo, nil
}

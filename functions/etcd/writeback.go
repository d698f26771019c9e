package etcd

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing file's dirty pages to
// disk without waiting for it, so that the fsync of the commit that follows
// finds most of them written. restic leaves the whole restored file dirty
// (far below the kernel's background writeback threshold on a machine with
// memory to spare). Best effort: the commit's fsync is what makes the file
// durable.
func startWriteback(file string) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

package redis

import (
	"os"
	"sort"
	"syscall"
)

func slicesSort(s []string) { sort.Strings(s) }

func statOwner(st os.FileInfo) (int, int) {
	sys := st.Sys().(*syscall.Stat_t)
	return int(sys.Uid), int(sys.Gid)
}

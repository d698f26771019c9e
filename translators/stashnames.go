package translators

import (
	"regexp"
	"strings"
)

// stashTaskVersion is the version suffix of Stash's addon Task names:
// etcd-backup-3.5.0, elasticsearch-restore-7.3.2, postgres-backup-11.9.
var stashTaskVersion = regexp.MustCompile(`^(.+-(?:backup|restore))-v?[0-9]+(?:\.[0-9]+)*(?:[-+][0-9A-Za-z.-]+)?$`)

// StashTaskName is the stashflow Task a Stash Task name stands for, "" if
// it is not one: a versioned addon Task (etcd-backup-3.5.0) is the Task of
// its name without the version, and Stash's volume Tasks (pvc-backup,
// workload-backup and their restores) are volume-backup and
// volume-restore. The catalog has one Task per database; its Functions
// read the version from the AppBinding where it matters.
func StashTaskName(name string) string {
	for _, prefix := range []string{"pvc-", "workload-"} {
		if op, ok := strings.CutPrefix(name, prefix); ok && (op == "backup" || op == "restore") {
			return "volume-" + op
		}
	}
	if m := stashTaskVersion.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// Package names builds the deterministic names of the objects the controllers
// create (scheduled sessions, retries, Snapshots), short enough to be label
// values: sessions are named in the stashflow.dev/session label of everything
// they run.
package names

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// MaxLength is the longest name this package returns: a label value's limit.
const MaxLength = 63

// Join returns base + "-" + suffix. When that is longer than MaxLength, base
// is shortened and a hash of the whole base is added, so that two long bases
// still give two names.
func Join(base, suffix string) string {
	name := base + "-" + suffix
	if len(name) <= MaxLength {
		return name
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(base))
	hash := fmt.Sprintf("%08x", h.Sum32())
	keep := MaxLength - len(suffix) - len(hash) - 2
	if keep < 1 {
		// The suffix alone is too long: hash everything.
		h.Reset()
		_, _ = h.Write([]byte(name))
		return strings.TrimRight(name[:MaxLength-9], "-.") + "-" + fmt.Sprintf("%08x", h.Sum32())
	}
	short := strings.TrimRight(base[:keep], "-.")
	return short + "-" + hash + "-" + suffix
}

// Hash returns 8 hex digits that stand for s.
func Hash(s string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

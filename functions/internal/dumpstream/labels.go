package dumpstream

import (
	"context"
	"fmt"
	"strings"

	"github.com/stashflow/stashflow/functions/restic"
)

// Tag keys a dump's snapshot carries: session=<name>, target=<name>.
const (
	tagSession = "session"
	tagTarget  = "target"
)

// CheckLabels refuses what would not survive as a restic tag or host
// name: a tag that is empty or holds a comma or newline, and a session,
// target or host name with either. Flags are named as the Functions'.
func CheckLabels(tags []string, labels map[string]string) error {
	for _, t := range tags {
		if t == "" || strings.ContainsAny(t, ",\n") {
			return fmt.Errorf("--tags: %q must be non-empty, without commas or newlines", t)
		}
	}
	for flag, v := range labels {
		if strings.ContainsAny(v, ",\n") {
			return fmt.Errorf("--%s: %q must not contain commas or newlines", flag, v)
		}
	}
	return nil
}

// SnapshotQuery names the snapshot a restore reads: an id (or prefix) or
// "latest" among host's snapshots of path, narrowed to a session's and a
// target's when they are given.
type SnapshotQuery struct {
	ID, Host, Path, Session, Target string
}

// Resolve finds the snapshot q names in repo.
func (q SnapshotQuery) Resolve(ctx context.Context, repo *restic.Client) (restic.Snapshot, error) {
	filter := restic.Filter{Host: q.Host, Paths: []string{q.Path}}
	if q.Session != "" {
		filter.Tags = append(filter.Tags, tagSession+"="+q.Session)
	}
	if q.Target != "" {
		filter.Tags = append(filter.Tags, tagTarget+"="+q.Target)
	}
	return repo.Resolve(ctx, q.ID, filter)
}

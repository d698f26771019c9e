package dumpstream

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

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

// Labels are what a dump's snapshot is labelled with: extra tags, the
// session's and the target's names as tags, and the host name. Each
// database's backup Function takes them as the same flags.
type Labels struct {
	tags                      []string
	session, target, hostname string
}

// AddFlags registers --tags, --session, --target and --hostname.
func (l *Labels) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&l.tags, "tags", nil, "extra restic tags for the snapshot, comma separated")
	fs.StringVar(&l.session, "session", "", "the BackupSession's name (tag session=NAME)")
	fs.StringVar(&l.target, "target", "", "the backup target's name (tag target=NAME)")
	fs.StringVar(&l.hostname, "hostname", "", "hostname recorded in the restic snapshot")
}

// Check refuses labels restic could not keep (CheckLabels).
func (l *Labels) Check() error {
	return CheckLabels(l.tags, map[string]string{"session": l.session, "target": l.target, "hostname": l.hostname})
}

// Tags are the snapshot's tags: the extra ones, session=, target=.
func (l *Labels) Tags() []string {
	tags := append([]string(nil), l.tags...)
	if l.session != "" {
		tags = append(tags, tagSession+"="+l.session)
	}
	if l.target != "" {
		tags = append(tags, tagTarget+"="+l.target)
	}
	return tags
}

// Host is the host name the snapshot records.
func (l *Labels) Host() string { return l.hostname }

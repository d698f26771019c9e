package restic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// EnsureRepository opens the repository and initialises it when it does not
// exist. It reports whether it initialised one. A backend that restic cannot
// reach within OpenTimeout is reported as KindUnreachable. The check and the
// init run under the repository's init lock (initlock.go), so that
// processes of this machine never initialise one repository twice.
func (c *Client) EnsureRepository(ctx context.Context) (bool, error) {
	open := runOptions{giveUpRetryingAfter: c.OpenTimeout}
	_, err := c.run(ctx, open, "cat", "config", "--no-lock")
	if err == nil || !IsKind(err, KindNoRepository) {
		return false, err
	}
	unlock, err := c.lockInit(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	// Whoever held the lock before us may have initialised it.
	if _, err := c.run(ctx, open, "cat", "config", "--no-lock"); err == nil || !IsKind(err, KindNoRepository) {
		return false, err
	}
	c.log().Info("initialising restic repository", "repository", RedactLocation(c.Location))
	if _, ierr := c.run(ctx, open, "init"); ierr != nil {
		// Another machine may have initialised it meanwhile (restic's init
		// refuses an existing config).
		if _, err := c.run(ctx, open, "cat", "config", "--no-lock"); err == nil {
			return false, nil
		}
		return false, ierr
	}
	return true, nil
}

// Open opens the repository (restic cat config): nil when the backend
// holds a repository that the password opens.
func (c *Client) Open(ctx context.Context) error {
	_, err := c.run(ctx, runOptions{giveUpRetryingAfter: c.OpenTimeout}, "cat", "config", "--no-lock")
	return err
}

// Snapshot is one entry of `restic snapshots --json`.
type Snapshot struct {
	ID       string          `json:"id"`
	ShortID  string          `json:"short_id"`
	Time     time.Time       `json:"time"`
	Tree     string          `json:"tree"`
	Paths    []string        `json:"paths"`
	Hostname string          `json:"hostname"`
	Username string          `json:"username"`
	UID      uint32          `json:"uid,omitempty"` // restic omits 0
	GID      uint32          `json:"gid,omitempty"`
	Tags     []string        `json:"tags"`
	Summary  *BackupSummary  `json:"summary,omitempty"`
	Raw      json.RawMessage `json:"-"`
}

// Tag returns the value of a "key=value" tag, or "".
func (s Snapshot) Tag(key string) string {
	for _, t := range s.Tags {
		if k, v, ok := strings.Cut(t, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Filter selects snapshots.
type Filter struct {
	Tags  []string // all must be present
	Host  string
	Paths []string
}

func (f Filter) args() []string {
	var a []string
	if len(f.Tags) > 0 {
		a = append(a, "--tag", strings.Join(f.Tags, ","))
	}
	if f.Host != "" {
		a = append(a, "--host", f.Host)
	}
	for _, p := range f.Paths {
		a = append(a, "--path", p)
	}
	return a
}

// Snapshots lists the snapshots matching f, oldest first.
func (c *Client) Snapshots(ctx context.Context, f Filter) ([]Snapshot, error) {
	out, err := c.run(ctx, runOptions{}, append([]string{"snapshots", "--no-lock"}, f.args()...)...)
	if err != nil {
		return nil, err
	}
	var snaps []Snapshot
	if err := json.Unmarshal(firstJSON(out), &snaps); err != nil {
		return nil, &Error{Command: "snapshots", Message: "cannot parse output: " + err.Error()}
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Time.Before(snaps[j].Time) })
	return snaps, nil
}

// Resolve returns the snapshot named by id ("latest" or an id or id prefix)
// among those matching f.
func (c *Client) Resolve(ctx context.Context, id string, f Filter) (Snapshot, error) {
	snaps, err := c.Snapshots(ctx, f)
	if err != nil {
		return Snapshot{}, err
	}
	if id == "" || id == "latest" {
		if len(snaps) == 0 {
			return Snapshot{}, &Error{Kind: KindNoSnapshot, Command: "snapshots", Message: "no snapshot matches " + f.describe()}
		}
		return snaps[len(snaps)-1], nil
	}
	var found []Snapshot
	for _, s := range snaps {
		if strings.HasPrefix(s.ID, id) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Snapshot{}, &Error{Kind: KindNoSnapshot, Command: "snapshots", Message: fmt.Sprintf("no snapshot %q matches %s", id, f.describe())}
	default:
		return Snapshot{}, &Error{Kind: KindNoSnapshot, Command: "snapshots", Message: fmt.Sprintf("snapshot id %q is ambiguous", id)}
	}
}

func (f Filter) describe() string {
	var parts []string
	if len(f.Tags) > 0 {
		parts = append(parts, "tags "+strings.Join(f.Tags, ","))
	}
	if f.Host != "" {
		parts = append(parts, "host "+f.Host)
	}
	if len(f.Paths) > 0 {
		parts = append(parts, "paths "+strings.Join(f.Paths, ","))
	}
	if len(parts) == 0 {
		return "(no filter)"
	}
	return strings.Join(parts, ", ")
}

// Dump streams one file of a snapshot to w (`restic dump <id> <path>`).
func (c *Client) Dump(ctx context.Context, snapshotID, path string, w io.Writer) error {
	_, err := c.runLocking(ctx, runOptions{stdout: w}, "dump", snapshotID, path)
	return err
}

// Stats is `restic stats --json`.
type Stats struct {
	TotalSize             uint64  `json:"total_size"`
	TotalUncompressedSize uint64  `json:"total_uncompressed_size"`
	CompressionRatio      float64 `json:"compression_ratio"`
	TotalFileCount        uint64  `json:"total_file_count"`
	TotalBlobCount        uint64  `json:"total_blob_count"`
	SnapshotsCount        int     `json:"snapshots_count"`
}

// Stats returns repository statistics in mode ("restore-size", "raw-data",
// ...; "" for restic's default) for the given snapshots (none: all).
func (c *Client) Stats(ctx context.Context, mode string, snapshotIDs ...string) (Stats, error) {
	args := []string{"stats", "--no-lock"}
	if mode != "" {
		args = append(args, "--mode", mode)
	}
	out, err := c.run(ctx, runOptions{}, append(args, snapshotIDs...)...)
	if err != nil {
		return Stats{}, err
	}
	var s Stats
	if err := json.Unmarshal(firstJSON(out), &s); err != nil {
		return Stats{}, &Error{Command: "stats", Message: "cannot parse output: " + err.Error()}
	}
	return s, nil
}

// firstJSON returns the first line of out that starts a JSON value.
func firstJSON(out []byte) []byte {
	for _, line := range strings.Split(string(out), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			return []byte(t)
		}
	}
	return []byte(strings.TrimSpace(string(out)))
}

// ForgetOptions is a retention policy (`restic forget`).
type ForgetOptions struct {
	KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly int
	KeepWithin                                                           string // restic duration, e.g. "30d"
	KeepTags                                                             []string
	GroupBy                                                              string // e.g. "host,paths"; "" for restic's default
	Filter                                                               Filter
	Prune                                                                bool
	DryRun                                                               bool
}

// ForgetGroup is one group of `restic forget --json`.
type ForgetGroup struct {
	Tags   []string   `json:"tags"`
	Host   string     `json:"host"`
	Paths  []string   `json:"paths"`
	Keep   []Snapshot `json:"keep"`
	Remove []Snapshot `json:"remove"`
}

// ForgetResult sums up a forget run.
type ForgetResult struct {
	Groups  []ForgetGroup
	Kept    int
	Removed int
}

// Forget applies a retention policy, optionally pruning afterwards.
func (c *Client) Forget(ctx context.Context, o ForgetOptions) (ForgetResult, error) {
	args := []string{"forget"}
	for _, k := range []struct {
		flag string
		n    int
	}{{"--keep-last", o.KeepLast}, {"--keep-hourly", o.KeepHourly}, {"--keep-daily", o.KeepDaily},
		{"--keep-weekly", o.KeepWeekly}, {"--keep-monthly", o.KeepMonthly}, {"--keep-yearly", o.KeepYearly}} {
		if k.n > 0 {
			args = append(args, k.flag, fmt.Sprint(k.n))
		}
	}
	if o.KeepWithin != "" {
		args = append(args, "--keep-within", o.KeepWithin)
	}
	for _, t := range o.KeepTags {
		args = append(args, "--keep-tag", t)
	}
	if o.GroupBy != "" {
		args = append(args, "--group-by", o.GroupBy)
	}
	args = append(args, o.Filter.args()...)
	if o.Prune {
		args = append(args, "--prune")
	}
	if o.DryRun {
		args = append(args, "--dry-run")
	}
	out, err := c.runLocking(ctx, runOptions{}, args...)
	if err != nil {
		return ForgetResult{}, err
	}
	var res ForgetResult
	if j := firstJSON(out); len(j) > 0 && j[0] == '[' {
		if err := json.Unmarshal(j, &res.Groups); err != nil {
			return ForgetResult{}, &Error{Command: "forget", Message: "cannot parse output: " + err.Error()}
		}
	}
	for _, g := range res.Groups {
		res.Kept += len(g.Keep)
		res.Removed += len(g.Remove)
	}
	return res, nil
}

// ForgetIDs forgets the snapshots of ids (restic forget <id>...), pruning
// the repository afterwards when prune is true.
func (c *Client) ForgetIDs(ctx context.Context, ids []string, prune bool) error {
	if len(ids) == 0 {
		return nil
	}
	args := []string{"forget"}
	if prune {
		args = append(args, "--prune")
	}
	args = append(append(args, "--"), ids...)
	_, err := c.runLocking(ctx, runOptions{}, args...)
	return err
}

// CheckOptions tunes `restic check`.
type CheckOptions struct {
	ReadData       bool
	ReadDataSubset string // e.g. "10%" or "1/5"
}

// CheckResult is `restic check --json`'s summary plus its error messages.
type CheckResult struct {
	NumErrors          int      `json:"num_errors"`
	BrokenPacks        []string `json:"broken_packs"`
	SuggestRepairIndex bool     `json:"suggest_repair_index"`
	SuggestPrune       bool     `json:"suggest_prune"`
	Errors             []string `json:"-"`
}

// Check verifies the repository. Errors found are reported both in the
// result and as a KindCheckFailed error.
func (c *Client) Check(ctx context.Context, o CheckOptions) (CheckResult, error) {
	args := []string{"check"}
	if o.ReadData {
		args = append(args, "--read-data")
	}
	if o.ReadDataSubset != "" {
		args = append(args, "--read-data-subset", o.ReadDataSubset)
	}
	out, err := c.runLocking(ctx, runOptions{}, args...)
	var res CheckResult
	for _, line := range strings.Split(string(out), "\n") {
		var m struct {
			MessageType string `json:"message_type"`
			Message     string `json:"message"`
		}
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch m.MessageType {
		case "summary":
			_ = json.Unmarshal([]byte(line), &res)
		case "error":
			res.Errors = append(res.Errors, m.Message)
		}
	}
	if err != nil {
		if IsKind(err, KindOther) && (res.NumErrors > 0 || len(res.Errors) > 0) {
			msg := fmt.Sprintf("%d error(s) found", max(res.NumErrors, len(res.Errors)))
			if len(res.Errors) > 0 {
				msg += ": " + oneLine(res.Errors[0])
			}
			return res, &Error{Kind: KindCheckFailed, Command: "check", ExitCode: 1, Message: msg}
		}
		return res, err
	}
	return res, nil
}

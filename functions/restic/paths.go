package restic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// PathsBackupOptions are the options of a backup of files and directories.
type PathsBackupOptions struct {
	Paths   []string
	Exclude []string
	Tags    []string
	Host    string
}

// BackupPaths runs `restic backup` of paths and returns its summary.
func (c *Client) BackupPaths(ctx context.Context, o PathsBackupOptions) (*BackupSummary, error) {
	if len(o.Paths) == 0 {
		return nil, fmt.Errorf("backup: no paths")
	}
	args := []string{"backup"} // run adds --json
	if o.Host != "" {
		args = append(args, "--host", o.Host)
	}
	tags, err := tagArgs(o.Tags)
	if err != nil {
		return nil, err
	}
	args = append(args, tags...)
	for _, e := range o.Exclude {
		args = append(args, "--exclude", e)
	}
	args = append(args, "--")
	args = append(args, o.Paths...)
	out, err := c.runLocking(ctx, runOptions{env: []string{"GOGC=" + BackupGOGC}}, args...)
	sum := backupSummary(out)
	if IsKind(err, KindInvalidData) && sum != nil && sum.SnapshotID != "" {
		// restic exit 3: some files could not be read, and restic still
		// committed a snapshot without them. A failed backup leaves no
		// snapshot: forget it (its data goes at the next prune).
		return nil, c.forgetPartial(ctx, sum.SnapshotID, err)
	}
	if err != nil {
		return nil, err
	}
	if sum == nil || sum.SnapshotID == "" {
		return nil, &Error{Kind: KindOther, Command: "backup", Message: "restic printed no summary"}
	}
	return sum, nil
}

// backupSummary is the summary line of `restic backup --json`'s output, or nil.
func backupSummary(out []byte) *BackupSummary {
	var sum *BackupSummary
	scanLines(out, func(line []byte) {
		var m struct {
			MessageType string `json:"message_type"`
		}
		if json.Unmarshal(line, &m) == nil && m.MessageType == "summary" {
			var s BackupSummary
			if json.Unmarshal(line, &s) == nil {
				sum = &s
			}
		}
	})
	return sum
}

// forgetPartial forgets the snapshot a backup that failed with cause
// committed anyway, and returns cause, saying what became of it. The
// forget runs even when ctx is done: the snapshot must not stay.
func (c *Client) forgetPartial(ctx context.Context, id string, cause error) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), partialForgetTimeout)
	defer cancel()
	if ferr := c.ForgetIDs(fctx, []string{id}, false); ferr != nil {
		return fmt.Errorf("%w; restic committed the incomplete snapshot %s anyway and forgetting it failed (forget it by hand: restic forget %s): %w",
			cause, shortID(id), shortID(id), ferr)
	}
	return fmt.Errorf("%w; the incomplete snapshot %s restic committed anyway was forgotten", cause, shortID(id))
}

// partialForgetTimeout bounds the forget of an incomplete snapshot.
const partialForgetTimeout = 2 * time.Minute

func shortID(id string) string { return id[:min(len(id), 8)] }

// RestoreOptions are the options of `restic restore`.
type RestoreOptions struct {
	SnapshotID string
	Target     string
	Include    []string
	Exclude    []string
}

// RestoreSummary is restic's restore summary (restic ≥ 0.17).
type RestoreSummary struct {
	TotalFiles     uint64 `json:"total_files"`
	FilesRestored  uint64 `json:"files_restored"`
	FilesSkipped   uint64 `json:"files_skipped"`
	TotalBytes     uint64 `json:"total_bytes"`
	BytesRestored  uint64 `json:"bytes_restored"`
	BytesSkipped   uint64 `json:"bytes_skipped"`
	SecondsElapsed uint64 `json:"seconds_elapsed"`
}

// Restore runs `restic restore` and returns its summary.
func (c *Client) Restore(ctx context.Context, o RestoreOptions) (RestoreSummary, error) {
	args := []string{"restore", o.SnapshotID, "--target", o.Target} // run adds --json
	for _, i := range o.Include {
		args = append(args, "--include", i)
	}
	for _, e := range o.Exclude {
		args = append(args, "--exclude", e)
	}
	out, err := c.runLocking(ctx, runOptions{}, args...)
	if err != nil {
		return RestoreSummary{}, err
	}
	var sum RestoreSummary
	scanLines(out, func(line []byte) {
		var m struct {
			MessageType string `json:"message_type"`
		}
		if json.Unmarshal(line, &m) == nil && m.MessageType == "summary" {
			_ = json.Unmarshal(line, &sum)
		}
	})
	return sum, nil
}

func scanLines(out []byte, f func([]byte)) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
}

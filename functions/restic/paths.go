package restic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	for _, t := range o.Tags {
		args = append(args, "--tag", t)
	}
	for _, e := range o.Exclude {
		args = append(args, "--exclude", e)
	}
	args = append(args, "--")
	args = append(args, o.Paths...)
	out, err := c.runLocking(ctx, runOptions{env: []string{"GOGC=" + BackupGOGC}}, args...)
	if err != nil {
		return nil, err
	}
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
	if sum == nil || sum.SnapshotID == "" {
		return nil, &Error{Kind: KindOther, Command: "backup", Message: "restic printed no summary"}
	}
	return sum, nil
}

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

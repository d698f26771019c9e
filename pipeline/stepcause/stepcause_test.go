package stepcause

import (
	"strings"
	"testing"
)

// TestMeaningful: the lines that name a cause are kept; our structured
// log, progress displays and restic's and tar's generic lines are not.
func TestMeaningful(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"tar: /srv/site: Cannot open: Permission denied", true},
		{`pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused`, true},
		{"error: restic backup: open /srv/site/key: permission denied", true},
		{`{"message_type":"error","error":{"message":"open /x: permission denied"},"during":"archival","item":"/x"}`, true},
		{"", false},
		{`time=2026-12-05T07:10:50.268Z level=INFO msg="initialising restic repository" repository=/r`, false},
		{`time=2026-12-05T07:10:50.268Z level=WARN msg="cgroup memory limit not read"`, false},
		{"[0:01] 45.00%  3 files 1.2 MiB, total 7 files 2.4 MiB, 0 errors", false},
		{"100%", false},
		{`{"message_type":"status","percent_done":0.5}`, false},
		{`{"message_type":"summary","snapshot_id":"abc"}`, false},
		{"Warning: at least one source file could not be read", false},
		{"tar: Error is not recoverable: exiting now", false},
		{"tar: Exiting with failure status due to previous errors", false},
		{"exit status 1", false},
		{"error: exit status 2", false},
		{"repository 3b2a1c opened (version 2, compression level auto)", false},
		{"created restic repository 3b2a1c at /r", false},
		{"Please note that knowledge of your password is required to access", false},
		{"the repository. Losing your password means that your data is", false},
		{"irrecoverably lost.", false},
		{"using parent snapshot 0a1b2c3d", false},
		{"no parent snapshot found, will read all files", false},
		{"Files:           3 new,     0 changed,     0 unmodified", false},
		{"Added to the repository: 1.2 KiB (900 B stored)", false},
		{"processed 3 files, 12 B in 0:00", false},
		{"snapshot 0a1b2c3d saved", false},
	} {
		if got := Meaningful(tc.line); got != tc.want {
			t.Errorf("Meaningful(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestOfText: a termination message (a Function's one-line reason, or
// the log tail the kubelet takes) gives the same cause as the log it came
// from gives the local engine.
func TestOfText(t *testing.T) {
	upper := strings.ToUpper
	for _, tc := range []struct {
		name, text string
		redact     func(string) string
		want       string
	}{
		{"empty", "", nil, ""},
		{"a Function's one-line reason", "restic cat: repository does not exist at /r", nil, "restic cat: repository does not exist at /r"},
		{"restic's output: the cause, not the hint after it",
			"opening the repository\nFatal: repository does not exist: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n",
			nil, "Fatal: repository does not exist: unable to open config file: stat /r/config: no such file or directory … /r"},
		{"a script's ordinary output and then its error",
			"starting the dump\n[0:01] 10%\nmysqldump: Got error: 2003: Can't connect to MySQL server on '127.0.0.1:1' (111)\n",
			nil, "mysqldump: Got error: 2003: Can't connect to MySQL server on '127.0.0.1:1' (111)"},
		{"nothing meaningful: the last line", "repository 1 opened\nexit status 1", nil, "exit status 1"},
		{"each quoted line redacted", "connect with password hunter2 refused\n", func(s string) string { return strings.ReplaceAll(s, "hunter2", "[redacted]") },
			"connect with password [redacted] refused"},
		{"redact sees the whole line", "a\nfailed: b\n", upper, "FAILED: B"},
		{"control characters", "failed:\tx\x1b[0m\n", nil, "failed: x?[0m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OfText(tc.text, tc.redact); got != tc.want {
				t.Errorf("OfText() = %q, want %q", got, tc.want)
			}
		})
	}
}

package local

import (
	"os"
	"path/filepath"
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
		if got := meaningful(tc.line); got != tc.want {
			t.Errorf("meaningful(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestLogCause: a failed attempt's message quotes the first meaningful line
// of its log, and the last one when it is another; with none, the last
// line; secret values replaced before a line is cut.
func TestLogCause(t *testing.T) {
	secret := "s3cr3t-" + strings.Repeat("v", 40)
	red := &redactor{}
	red.add(secret)
	for _, tc := range []struct{ name, log, want string }{
		{"empty", "", ""},
		{"blank lines", "\n\n  \n", ""},
		{"tar in a pipeline, then restic's summary",
			"tar: /srv/site: Cannot open: Permission denied\ntar: Error is not recoverable: exiting now\nWarning: at least one source file could not be read\n",
			"tar: /srv/site: Cannot open: Permission denied"},
		{"stashflow fn: its log lines, then its reason",
			"time=2026-12-05T07:10:50Z level=INFO msg=\"backing up\"\nerror: restic backup: open /x: permission denied\n",
			"error: restic backup: open /x: permission denied"},
		{"ordinary output first: the error",
			"starting the dump\n[0:01] 10%\nmysqldump: Got error: 2003: Can't connect to MySQL server on '127.0.0.1:1' (111)\n",
			"mysqldump: Got error: 2003: Can't connect to MySQL server on '127.0.0.1:1' (111)"},
		{"many ordinary lines, the cause last",
			"checked pack 0\nchecked pack 1\nchecked pack 2\nupload check: 3 of 5 packs missing\n",
			"upload check: 3 of 5 packs missing"},
		{"the first error and the last line differ",
			"pg_dump: error: connection to server on socket failed: No such file or directory\ncleaning up\nrestic: the stream ended early\n",
			"pg_dump: error: connection to server on socket failed: No such file or directory … restic: the stream ended early"},
		{"nothing meaningful: the last line", "repository 1 opened\nexit status 1\n", "exit status 1"},
		{"tabs and control characters", "a\tb\x1b[0mc\n", "a b?[0mc"},
		{"progress display", "10%\r50%\rdisk full\n", "disk full"},
		{"long line", strings.Repeat("x", maxLineLen+60), strings.Repeat("x", maxLineLen) + "…"},
		{"a secret past the cut is replaced whole", strings.Repeat("x", maxLineLen-5) + secret + "\n", strings.Repeat("x", maxLineLen-5) + "[reda…"},
		{"a secret in the first line", "connect with password " + secret + " refused\n", "connect with password [redacted] refused"},
		{"a line cut by the head or the tail is not quoted", "early failure\n" + strings.Repeat("y", headSize+tailSize), "early failure"},
		{"the end of a long log", strings.Repeat("[0:01] 10%\n", headSize) + "tar: x: Cannot open\n", "tar: x: Cannot open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(name, []byte(tc.log), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := logCause(name, red); got != tc.want {
				t.Errorf("logCause() = %q, want %q", got, tc.want)
			}
		})
	}
}

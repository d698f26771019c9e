package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// TestLogCause: a failed attempt's message quotes the first meaningful line
// of its log, and the last one when it is another; with none, the last
// line; secret values replaced before a line is cut.
func TestLogCause(t *testing.T) {
	secret := "s3cr3t-" + strings.Repeat("v", 40)
	red := &stepcause.Redactor{}
	red.Add(secret)
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
		{"long line", strings.Repeat("x", stepcause.MaxLineLen+60), strings.Repeat("x", stepcause.MaxLineLen) + "…"},
		{"a secret past the cut is replaced whole", strings.Repeat("x", stepcause.MaxLineLen-5) + secret + "\n", strings.Repeat("x", stepcause.MaxLineLen-5) + "[reda…"},
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

package local

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// TestRedactedTail: the tail keeps the last whole lines within its bounds,
// and no secret value, whole or cut where the read started, ever reaches it.
func TestRedactedTail(t *testing.T) {
	const secret = "hunter2-correct-horse"
	multi := "-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----"
	many := func(n int, line string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s %d\n", line, i)
		}
		return b.String()
	}
	tests := []struct {
		name string
		log  string
		// want is the whole tail, or wantSuffix its end with wantLines lines.
		want       string
		wantSuffix string
		wantLines  int
	}{
		{name: "empty", log: "", want: ""},
		{name: "short, redacted", log: "connecting with " + secret + "\nfailed\n", want: "connecting with [redacted]\nfailed\n"},
		{name: "no final newline", log: "a\nb", want: "a\nb\n"},
		{name: "a multi-line value", log: "key:\n" + multi + "\nend\n", want: "key:\n[redacted]\nend\n"},
		{name: "the last 200 lines", log: many(500, "line"), wantSuffix: "line 499\n", wantLines: TailLines},
		{
			// 64 KiB of long lines, the read starting inside a value:
			// the lines kept are whole, and the cut value is not kept.
			name:       "a long log with values everywhere",
			log:        strings.Repeat(secret+strings.Repeat("x", 300)+"\n", 400),
			wantSuffix: "[redacted]" + strings.Repeat("x", 300) + "\n",
		},
		{
			name:       "a multi-line value where the read starts",
			log:        strings.Repeat(multi+"\n"+strings.Repeat("y", 1000)+"\n", 200),
			wantSuffix: "[redacted]\n" + strings.Repeat("y", 1000) + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "attempt-1.log")
			if err := os.WriteFile(path, []byte(tt.log), 0o600); err != nil {
				t.Fatal(err)
			}
			red := &stepcause.Redactor{}
			red.Add(secret)
			red.Add(multi)
			got, err := redactedTail(path, red)
			if err != nil {
				t.Fatal(err)
			}
			s := string(got)
			if tt.wantSuffix == "" {
				if diff := cmp.Diff(tt.want, s); diff != "" {
					t.Errorf("tail (-want +got):\n%s", diff)
				}
			} else if !strings.HasSuffix(s, tt.wantSuffix) {
				t.Errorf("tail ends %q, want %q", s[max(len(s)-80, 0):], tt.wantSuffix)
			}
			if tt.wantLines > 0 && strings.Count(s, "\n") != tt.wantLines {
				t.Errorf("%d lines, want %d", strings.Count(s, "\n"), tt.wantLines)
			}
			if len(got) > TailBytes {
				t.Errorf("%d bytes, more than %d", len(got), TailBytes)
			}
			for _, part := range []string{"hunter", "horse", "-correct-", "AAAA", "BBBB", "BEGIN KEY", "END KEY"} {
				if strings.Contains(s, part) {
					t.Errorf("the tail holds %q, part of a secret value", part)
				}
			}
		})
	}
}

// TestStepRecord: a finished step leaves its redacted tail and outputs
// beside its logs, where the web UI reads them.
func TestStepRecord(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "attempt-2.log")
	if err := os.WriteFile(logPath, []byte("token s3cr3t\ndone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	red := &stepcause.Redactor{}
	red.Add("s3cr3t")
	writeStepRecord(dir, logPath, map[string]string{"id": "abc", "url": "https://u:s3cr3t@h"}, red)
	tail, err := os.ReadFile(filepath.Join(dir, TailFile))
	if err != nil || string(tail) != "token [redacted]\ndone\n" {
		t.Errorf("%s = %q, %v", TailFile, tail, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, OutputsFile))
	if err != nil {
		t.Fatal(err)
	}
	var outs map[string]string
	if err := json.Unmarshal(b, &outs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"id": "abc", "url": "https://u:[redacted]@h"}, outs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	// No outputs, no file; no log, no tail.
	empty := t.TempDir()
	writeStepRecord(empty, "", nil, red)
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a step with neither log nor outputs left %d files", len(entries))
	}
}

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestStepMessageSaysTheCause: a Function whose tar cannot open its source
// fails, after restic's chatter on the same log; the step's message in the
// session's status and the line on stderr quote tar's own error, not its
// summary or the exit code alone, and the repository password in the path
// tar names is redacted.
func TestStepMessageSaysTheCause(t *testing.T) {
	tmp := t.TempDir()
	const password = "cause-test-password"
	missing := filepath.Join(tmp, "gone", password)
	file := write(t, "archive.yaml", localRepository(filepath.Join(tmp, "repo"), password)+`---
apiVersion: stashflow.dev/v1alpha1
kind: Function
metadata: {name: archive}
spec:
  image: busybox
  command: [sh, -c]
  args: ['set -eu; restic init; tar -C "${SOURCE_DIR}" -cf "$STASHFLOW_OUTPUT_DIR/site.tar" .']
  outputs: [{name: snapshotID, path: /tmp/stashflow/outputs/snapshotID}]
---
apiVersion: stashflow.dev/v1alpha1
kind: Task
metadata: {name: archive}
spec:
  steps: [{name: archive}]
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: site}
spec:
  repository: {name: repo}
  schedule: "@daily"
  task: {name: archive, params: [{name: SOURCE_DIR, value: `+missing+`}]}
`)
	stdout, stderr, code := stashflow(context.Background(), t, "run", "--work-dir", t.TempDir(), "-q", "-o", "json", "-f", file)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var session v1alpha1.BackupSession
	if err := json.Unmarshal([]byte(stdout), &session); err != nil {
		t.Fatalf("stdout is not a BackupSession: %v\n%s", err, stdout)
	}
	if len(session.Status.Targets) != 1 || len(session.Status.Targets[0].Steps) != 1 {
		t.Fatalf("want one target with one step, got %+v", session.Status.Targets)
	}
	want := "exit code 2: tar: " + filepath.Join(tmp, "gone", "[redacted]") + ": Cannot open: No such file or directory"
	if got := session.Status.Targets[0].Steps[0].Message; got != want {
		t.Errorf("step message = %q, want %q", got, want)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("the password is printed:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
)

// TestRunValidatesWithTheCRDs: `stashflow run` refuses what the apiserver
// would refuse, with the apiserver's words, each problem naming the file, the
// document and the field; it exits 2 and runs nothing.
func TestRunValidatesWithTheCRDs(t *testing.T) {
	base, err := os.ReadFile("testdata/shell-backup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const schedule = `  schedule: "@every 1s"` + "\n"
	if !strings.Contains(string(base), schedule) {
		t.Fatalf("testdata/shell-backup.yaml lacks %q", schedule)
	}
	const bc = "bad.yaml#5: BackupConfiguration/every-second: "
	tests := []struct {
		name       string
		old, new   string // replaced once in testdata/shell-backup.yaml
		wantStderr []string
	}{
		{
			name: "timeOut negative", old: schedule, new: schedule + "  timeOut: -5m\n",
			wantStderr: []string{bc + `spec.timeOut: Invalid value: "string": spec.timeOut must be a duration such as 30m or 1h30m`},
		},
		{
			name: "keepLast negative", old: schedule, new: schedule + "  retentionPolicy: {name: keep, keepLast: -3}\n",
			wantStderr: []string{bc + `spec.retentionPolicy.keepLast: Invalid value: -3: spec.retentionPolicy.keepLast in body should be greater than or equal to 0`},
		},
		{
			name: "an unknown field", old: schedule, new: schedule + "  timeout: 5m\n",
			wantStderr: []string{bc + `strict decoding error: unknown field "spec.timeout"`},
		},
		{
			name: "a CEL rule across fields", old: "    local: {", new: "    rest: {url: http://localhost:8000}\n    local: {",
			wantStderr: []string{"bad.yaml#2: Repository/repo: " + `spec.backend: Invalid value: "object": exactly one of backend.local, backend.s3, backend.gcs, backend.azure, backend.b2, backend.swift or backend.rest must be set`},
		},
		{
			name: "every problem of every document", old: schedule + "  task: {name: say}\n", new: "  timeOut: -5m\n  retentionPolicy: {name: keep, keepLast: -3}\n",
			wantStderr: []string{
				bc + `spec.retentionPolicy.keepLast: Invalid value: -3: spec.retentionPolicy.keepLast in body should be greater than or equal to 0`,
				bc + `spec: Invalid value: "object": spec.task or spec.target must be set`,
				bc + `spec: Invalid value: "object": spec.schedule is required unless spec.paused is true`,
				bc + `spec.timeOut: Invalid value: "string": spec.timeOut must be a duration such as 30m or 1h30m`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(base), tt.old) {
				t.Fatalf("testdata/shell-backup.yaml lacks %q", tt.old)
			}
			file := write(t, "bad.yaml", strings.Replace(string(base), tt.old, tt.new, 1))
			work := t.TempDir()
			stdout, stderr, code := stashflow(context.Background(), t, "run", "-f", file, "--work-dir", work)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitUsage, stdout, stderr)
			}
			got := strings.Split(strings.TrimSpace(strings.TrimPrefix(stderr, "error: ")), "\n")
			for i := range got {
				got[i] = strings.Replace(got[i], file, "bad.yaml", 1)
			}
			if diff := cmp.Diff(tt.wantStderr, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing: no session ran", stdout)
			}
			if entries, _ := os.ReadDir(work); len(entries) > 0 {
				t.Errorf("the work dir holds %d entries, want none: nothing may run", len(entries))
			}
		})
	}
}

// TestRunDeadlineExceeded: a session past its timeOut ends as the operator
// ends it (controllers/backupsession): Failed, reason DeadlineExceeded,
// condition DeadlineExceeded True, the sleeping step stopped.
func TestRunDeadlineExceeded(t *testing.T) {
	base, err := os.ReadFile("testdata/shell-backup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(base), `test "${WORD}" != fail`, `exec sleep 30`, 1)
	doc = strings.Replace(doc, `  schedule: "@every 1s"`+"\n", `  schedule: "@every 1s"`+"\n  timeOut: 1s\n", 1)
	if !strings.Contains(doc, "exec sleep 30") || !strings.Contains(doc, "timeOut: 1s") {
		t.Fatal("testdata/shell-backup.yaml changed: the test cannot make its step sleep")
	}
	file := write(t, "slow.yaml", doc)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	stdout, stderr, code := stashflow(ctx, t, "run", "-f", file, "--work-dir", t.TempDir(), "-o", "json")
	if code != exitFailed {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %s: the step was not stopped at the 1s timeOut", took)
	}
	var bs v1alpha1.BackupSession
	if err := json.Unmarshal([]byte(stdout), &bs); err != nil {
		t.Fatalf("stdout is not a BackupSession: %v\n%s", err, stdout)
	}
	type summary struct {
		Phase          v1alpha1.BackupSessionPhase
		Reason         string
		MessagePrefix  string
		Condition      metav1.ConditionStatus
		ConditionWhy   string
		StepPhase      v1alpha1.StepPhase
		DeadlineIsSet  bool
		DeadlineInTime bool
	}
	st := bs.Status
	got := summary{Phase: st.Phase, Reason: st.Reason, DeadlineIsSet: st.SessionDeadline != nil}
	got.MessagePrefix, _, _ = strings.Cut(st.Message, ":")
	if c := conditions.Get(st.Conditions, conditions.DeadlineExceeded); c != nil {
		got.Condition, got.ConditionWhy = c.Status, c.Reason
	}
	if len(st.Targets) == 1 && len(st.Targets[0].Steps) == 1 {
		got.StepPhase = st.Targets[0].Steps[0].Phase
	}
	if st.SessionDeadline != nil {
		got.DeadlineInTime = st.SessionDeadline.Sub(start) > 0 && st.SessionDeadline.Sub(start) < 5*time.Second
	}
	want := summary{
		Phase:          v1alpha1.BackupSessionFailed,
		Reason:         string(conditions.ReasonDeadlineExceeded),
		MessagePrefix:  "the session exceeded its timeOut of 1s",
		Condition:      metav1.ConditionTrue,
		ConditionWhy:   string(conditions.ReasonDeadlineExceeded),
		StepPhase:      v1alpha1.StepFailed,
		DeadlineIsSet:  true,
		DeadlineInTime: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s\nstatus: %+v", diff, st)
	}
}

package argo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// mustParse reads a Workflow fixture from testdata/status.
func mustParse(t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "status", name))
	if err != nil {
		t.Fatal(err)
	}
	var wf wfv1.Workflow
	if err := yaml.UnmarshalStrict(raw, &wf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &wf
}

func at(hms string) time.Time {
	t, err := time.Parse(time.DateTime, "2024-05-01 "+hms)
	if err != nil {
		panic(err)
	}
	return t
}

// singleTarget is
//
//	pre-backup-hook ─▶ etcd-backup ─▶ retention ─▶ post-backup-hook (OnEnd)
func singleTarget() *pipeline.Graph {
	return graph("etcd-nightly-1700000000",
		hook("pre-backup-hook", "etcd", "preBackup"),
		target(fn("etcd-backup", "etcd-backup"), "etcd", after("pre-backup-hook")),
		target(fn("retention", "retention"), "etcd", after("etcd-backup")),
		hook("post-backup-hook", "etcd", "postBackup", onEnd("retention")),
	)
}

// policies is
//
//	pre-backup-hook ─▶ etcd-backup ─▶ retention ─┬─▶ post-on-success (OnSuccess)
//	                                             ├─▶ post-on-failure (OnFailure)
//	                                             └─▶ post-always     (OnEnd)
func policies() *pipeline.Graph {
	return graph("etcd-nightly-1700000000",
		hook("pre-backup-hook", "etcd", "preBackup"),
		target(fn("etcd-backup", "etcd-backup"), "etcd", after("pre-backup-hook")),
		target(fn("retention", "retention"), "etcd", after("etcd-backup")),
		hook("post-on-success", "etcd", "postBackup", after("retention")),
		hook("post-on-failure", "etcd", "postBackup", onFailure("retention")),
		hook("post-always", "etcd", "postBackup", onEnd("retention")),
	)
}

// backupThenRetention is
//
//	etcd-backup ─▶ retention
func backupThenRetention() *pipeline.Graph {
	return graph("etcd-nightly-1700000000",
		fn("etcd-backup", "etcd-backup"),
		deps(fn("retention", "retention"), after("etcd-backup")),
	)
}

func TestNodeStatuses(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		graph   *pipeline.Graph
		want    []pipeline.NodeStatus
	}{
		{
			name:    "running with a retry in progress",
			fixture: "running.yaml",
			graph:   singleTarget(),
			want: []pipeline.NodeStatus{
				{Step: "pre-backup-hook", Phase: pipeline.PhaseSucceeded, StartedAt: at("02:00:00"), FinishedAt: at("02:00:07"), Attempts: 1},
				{Step: "etcd-backup", Phase: pipeline.PhaseRunning, StartedAt: at("02:00:10"), Attempts: 2},
				{Step: "retention", Phase: pipeline.PhasePending},
				{Step: "post-backup-hook", Phase: pipeline.PhasePending},
			},
		},
		{
			name:    "finished: retried success, error, omitted, hooks by policy",
			fixture: "finished.yaml",
			graph:   policies(),
			want: []pipeline.NodeStatus{
				{Step: "pre-backup-hook", Phase: pipeline.PhaseSucceeded, StartedAt: at("02:00:00"), FinishedAt: at("02:00:07"), Attempts: 1},
				{
					Step: "etcd-backup", Phase: pipeline.PhaseSucceeded, StartedAt: at("02:00:10"), FinishedAt: at("02:02:02"),
					Outputs:  map[string]string{"snapshot-id": "4f9a2c1e", "bytes": "1073741824"},
					Attempts: 2,
				},
				{Step: "retention", Phase: pipeline.PhaseError, Message: "pod deleted", StartedAt: at("02:02:05"), FinishedAt: at("02:02:40"), Attempts: 1},
				{Step: "post-on-success", Phase: pipeline.PhaseOmitted, Message: "omitted: depends condition not met", StartedAt: at("02:02:41"), FinishedAt: at("02:02:41")},
				{Step: "post-on-failure", Phase: pipeline.PhaseSucceeded, StartedAt: at("02:02:41"), FinishedAt: at("02:03:00"), Attempts: 1},
				{Step: "post-always", Phase: pipeline.PhaseSucceeded, StartedAt: at("02:02:41"), FinishedAt: at("02:03:28"), Attempts: 1},
			},
		},
		{
			name:    "retries exhausted",
			fixture: "retries-exhausted.yaml",
			graph:   backupThenRetention(),
			want: []pipeline.NodeStatus{
				{
					Step: "etcd-backup", Phase: pipeline.PhaseFailed,
					Message:   "No more retries left; last attempt: exit code 2",
					StartedAt: at("02:00:00"), FinishedAt: at("02:01:39"), Attempts: 3,
				},
				{Step: "retention", Phase: pipeline.PhaseOmitted, Message: "omitted: depends condition not met", StartedAt: at("02:01:40"), FinishedAt: at("02:01:40")},
			},
		},
		{
			name:    "stopped before a step got a node",
			fixture: "stopped.yaml",
			graph:   backupThenRetention(),
			want: []pipeline.NodeStatus{
				{Step: "etcd-backup", Phase: pipeline.PhaseFailed, Message: "workflow shutdown with strategy:  Stop", StartedAt: at("02:00:00"), FinishedAt: at("02:00:49"), Attempts: 1},
				{Step: "retention", Phase: pipeline.PhaseOmitted, Message: "not run: the workflow ended Failed: Stopped with strategy 'Stop'"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The graph must render to the workflow the fixture stands for.
			if _, err := Render(tc.graph, Options{}); err != nil {
				t.Fatalf("Render: %v", err)
			}
			got, err := NodeStatuses(mustParse(t, tc.fixture), tc.graph, nil)
			if err != nil {
				t.Fatalf("NodeStatuses: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NodeStatuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeStatusesNotInline(t *testing.T) {
	for _, fixture := range []string{"compressed.yaml", "offloaded.yaml"} {
		t.Run(fixture, func(t *testing.T) {
			got, err := NodeStatuses(mustParse(t, fixture), backupThenRetention(), nil)
			if !errors.Is(err, ErrNodesNotInline) {
				t.Fatalf("NodeStatuses = %v, %v; want ErrNodesNotInline", got, err)
			}
		})
	}
}

func TestNodeStatusesUnknownPhase(t *testing.T) {
	wf := mustParse(t, "stopped.yaml")
	n := wf.Status.Nodes["etcd-nightly-1700000000-2208745393"]
	n.Phase = "Exploded"
	wf.Status.Nodes["etcd-nightly-1700000000-2208745393"] = n
	if _, err := NodeStatuses(wf, backupThenRetention(), nil); err == nil {
		t.Fatal("NodeStatuses accepted an unknown node phase")
	}
}

func TestWorkflowPhase(t *testing.T) {
	cases := []struct {
		phase    wfv1.WorkflowPhase
		want     pipeline.Phase
		finished bool
	}{
		{"", pipeline.PhasePending, false},
		{wfv1.WorkflowPending, pipeline.PhasePending, false},
		{wfv1.WorkflowRunning, pipeline.PhaseRunning, false},
		{wfv1.WorkflowSucceeded, pipeline.PhaseSucceeded, true},
		{wfv1.WorkflowFailed, pipeline.PhaseFailed, true},
		{wfv1.WorkflowError, pipeline.PhaseError, true},
	}
	for _, tc := range cases {
		wf := &wfv1.Workflow{Status: wfv1.WorkflowStatus{Phase: tc.phase}}
		if got := WorkflowPhase(wf); got != tc.want {
			t.Errorf("WorkflowPhase(%q) = %q, want %q", tc.phase, got, tc.want)
		}
		if got := Finished(wf); got != tc.finished {
			t.Errorf("Finished(%q) = %v, want %v", tc.phase, got, tc.finished)
		}
	}
}

// TestStepMessage: a failed container's node message says what the local
// engine says for the same output: the exit code and the cause its
// termination message gives (stepcause), not the log's whole tail.
func TestStepMessage(t *testing.T) {
	for _, tc := range []struct{ name, msg, want string }{
		{"no message", "", ""},
		{"not a container's failure", "pod deleted", "pod deleted"},
		{"retries", "No more retries left", "No more retries left"},
		{"exit code alone", "main: Error (exit code 1)", "exit code 1"},
		{"older controller without the container's name", "Error (exit code 2)", "exit code 2"},
		{"a Function's reason", "main: Error (exit code 1): restic cat: repository does not exist at /r",
			"exit code 1: restic cat: repository does not exist at /r"},
		{"the kubelet's log tail of a script", "main: Error (exit code 10): opening the repository\n" +
			"Fatal: repository does not exist: unable to open config file: stat /r/config: no such file or directory\n" +
			"Is there a repository at the following location?\n/r",
			"exit code 10: Fatal: repository does not exist: unable to open config file: stat /r/config: no such file or directory … /r"},
		{"another reason", "main: OOMKilled (exit code 137)", "OOMKilled (exit code 137)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, StepMessage(tc.msg, nil)); diff != "" {
				t.Errorf("StepMessage(%q) (-want +got):\n%s", tc.msg, diff)
			}
		})
	}
}

// TestStepMessageRedacts: a secret value a script printed is hidden before
// the line is cut, and a log tail as long as the kubelet takes loses its
// first line, which may hold the end of a value redact cannot recognise.
func TestStepMessageRedacts(t *testing.T) {
	red := &stepcause.Redactor{}
	red.Add("s3cr3t-password")
	long := strings.Repeat("x", 990)
	// A tail as long as the kubelet takes, begun inside the value.
	tail := "password failed\n" + strings.Repeat("progress line\n", 144) + "error: login refused"
	for _, tc := range []struct{ name, msg, want string }{
		{"in a script's log tail", "main: Error (exit code 3): starting\nerror: cannot log in with password s3cr3t-password\ndone",
			"exit code 3: error: cannot log in with password [redacted] … done"},
		{"across the cut", "main: Error (exit code 3): error: " + long + " s3cr3t-password",
			"exit code 3: error: " + long + " [redacted]"[:1000-len("error: "+long)] + "…"},
		{"not a container's failure", "pod s3cr3t-password deleted", "pod [redacted] deleted"},
		{"a tail the kubelet cut", "main: Error (exit code 1): " + tail, "exit code 1: error: login refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := StepMessage(tc.msg, red.Redact)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("StepMessage() (-want +got):\n%s", diff)
			}
			if strings.Contains(got, "s3cr3t") {
				t.Errorf("StepMessage() = %q keeps part of the secret", got)
			}
		})
	}
}

// TestSecretsRead: every Secret a container's environment, envFrom or a
// Secret volume reads, and only those.
func TestSecretsRead(t *testing.T) {
	ref := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: key, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}}
	}
	wf := &wfv1.Workflow{Spec: wfv1.WorkflowSpec{
		Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}}},
		Templates: []wfv1.Template{
			{Name: "backup", Container: &corev1.Container{Env: []corev1.EnvVar{
				ref("repo", "RESTIC_PASSWORD"), ref("repo", "AWS_SECRET_ACCESS_KEY"), ref("repo", "RESTIC_PASSWORD"),
				{Name: "PLAIN", Value: "not a secret"},
			}}},
			{Name: "hook", Container: &corev1.Container{
				Env:     []corev1.EnvVar{ref("db", "password")},
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}},
			}},
			{Name: "dag"},
		},
	}}
	want := map[string][]string{"repo": {"RESTIC_PASSWORD", "AWS_SECRET_ACCESS_KEY"}, "db": nil, "tls": nil}
	if diff := cmp.Diff(want, SecretsRead(wf)); diff != "" {
		t.Errorf("SecretsRead() (-want +got):\n%s", diff)
	}
}

// TestMayQuoteOutput: a Workflow's messages can quote a container's output
// when a node (a step, or an attempt of a retried one) failed or errored
// with a message, a message has a failed container's shape, or the Workflow
// finished with a message; the messages of pending and running nodes cannot.
func TestMayQuoteOutput(t *testing.T) {
	wf := func(phase wfv1.WorkflowPhase, msg string, nodes ...wfv1.NodeStatus) *wfv1.Workflow {
		w := &wfv1.Workflow{Status: wfv1.WorkflowStatus{Phase: phase, Message: msg, Nodes: wfv1.Nodes{}}}
		for _, n := range nodes {
			w.Status.Nodes[n.ID] = n
		}
		return w
	}
	n := func(id string, phase wfv1.NodePhase, msg string) wfv1.NodeStatus {
		return wfv1.NodeStatus{ID: id, Name: "wf." + id, Phase: phase, Message: msg}
	}
	for _, tc := range []struct {
		name string
		wf   *wfv1.Workflow
		want bool
	}{
		{"no nodes", wf(wfv1.WorkflowRunning, ""), false},
		{"nodes without messages", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodeRunning, ""), n("b", wfv1.NodeFailed, "")), false},
		{"a pending node's message", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodePending, "ContainerCreating")), false},
		{"a running retry node between attempts", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodeRunning, "Retrying in 10 seconds... (1/3)")), false},
		{"a succeeded node's message", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodeSucceeded, "done")), false},
		{"a running Workflow's message", wf(wfv1.WorkflowRunning, "step a is slow"), false},
		{"a failed attempt of a running step", wf(wfv1.WorkflowRunning, "",
			n("a", wfv1.NodeRunning, ""), n("a(0)", wfv1.NodeFailed, "main: Error (exit code 1): error: log in failed")), true},
		{"an errored node", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodeError, "pod deleted")), true},
		{"a failed container's message on a running node", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodeRunning, "main: Error (exit code 1): error: log in failed")), true},
		{"a failed container's exit code alone on a running node", wf(wfv1.WorkflowRunning, "", n("a", wfv1.NodeRunning, "main: Error (exit code 1)")), false},
		{"a finished Workflow's message", wf(wfv1.WorkflowFailed, "child 'a' failed"), true},
		{"a finished Workflow without a message", wf(wfv1.WorkflowSucceeded, "", n("a", wfv1.NodeSucceeded, "")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MayQuoteOutput(tc.wf); got != tc.want {
				t.Errorf("MayQuoteOutput() = %v, want %v", got, tc.want)
			}
		})
	}
}

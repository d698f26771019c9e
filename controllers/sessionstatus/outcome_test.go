package sessionstatus

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/pipeline"
)

// The layout of a batch of two targets, a and b, with hooks:
//
//	global-pre-backup ─▶ a-pre ─▶ a-backup ─▶ a-retention ─▶ a-post ─┐
//	                 └─▶ b-backup ────────────────────────────────────┴─▶ global-post-backup
var batchLayout = v1alpha1.RunLayout{
	GlobalPreHook:  "global-pre-backup",
	GlobalPostHook: "global-post-backup",
	Targets: []v1alpha1.TargetLayout{
		{
			Ref: &v1alpha1.TargetRef{Kind: "AppBinding", Name: "a"}, Hostname: "a",
			PreHook: "a-pre-backup", PostHook: "a-post-backup",
			Steps: []v1alpha1.StepRef{
				{Name: "a-backup", Function: "volume-backup", Role: v1alpha1.RoleBackup, Outputs: []string{"snapshotID", "size", "uploaded", "files", "duration"}},
				{Name: "a-retention", Function: "retention", Role: v1alpha1.RoleRetention, Outputs: []string{"removed", "duration"}},
			},
		},
		{
			Ref: &v1alpha1.TargetRef{Kind: "AppBinding", Name: "b"}, Hostname: "b",
			Steps: []v1alpha1.StepRef{{Name: "b-backup", Function: "volume-backup", Role: v1alpha1.RoleBackup, Outputs: []string{"snapshotID", "size"}}},
		},
	},
}

func ok(step string, outputs map[string]string) pipeline.NodeStatus {
	return pipeline.NodeStatus{Step: step, Phase: pipeline.PhaseSucceeded, Outputs: outputs, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
}

func failed(step, msg string) pipeline.NodeStatus {
	return pipeline.NodeStatus{Step: step, Phase: pipeline.PhaseFailed, Message: msg, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
}

func omitted(step string) pipeline.NodeStatus {
	return pipeline.NodeStatus{Step: step, Phase: pipeline.PhaseOmitted, Message: "a dependency failed"}
}

func running(step string) pipeline.NodeStatus {
	return pipeline.NodeStatus{Step: step, Phase: pipeline.PhaseRunning, StartedAt: t0}
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// summary is what the tests compare: the phases and the first failure.
type summary struct {
	Phase        Phase
	Reason       conditions.Reason
	TargetPhases []v1alpha1.TargetPhase
	Hosts        []string // "<hostname> <phase> <snapshotID>"; "-" for none
}

func summarize(o *Outcome) summary {
	s := summary{Phase: o.Phase, Reason: o.Reason}
	for _, t := range o.Targets {
		s.TargetPhases = append(s.TargetPhases, t.Phase)
		if len(t.Hosts) == 0 {
			s.Hosts = append(s.Hosts, "-")
		}
		for _, h := range t.Hosts {
			s.Hosts = append(s.Hosts, h.Hostname+" "+string(h.Phase)+" "+h.SnapshotID)
		}
	}
	return s
}

func TestEvaluate(t *testing.T) {
	snap := func(id string) map[string]string {
		return map[string]string{"snapshotID": id, "size": "10", "duration": "1.5"}
	}
	tests := []struct {
		name     string
		nodes    []pipeline.NodeStatus
		finished bool
		want     summary
	}{
		{
			name:  "nothing started",
			nodes: nil,
			want: summary{Phase: Pending, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetPending, v1alpha1.TargetPending},
				Hosts: []string{"a Pending ", "b Pending "}},
		},
		{
			name:  "running",
			nodes: []pipeline.NodeStatus{ok("global-pre-backup", nil), running("a-pre-backup"), running("b-backup")},
			want: summary{Phase: Running, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetRunning, v1alpha1.TargetRunning},
				Hosts: []string{"a Pending ", "b Running "}},
		},
		{
			name: "all succeeded",
			nodes: []pipeline.NodeStatus{
				ok("global-pre-backup", nil), ok("a-pre-backup", nil), ok("a-backup", snap("aaa")), ok("a-retention", map[string]string{"snapshotID": ""}),
				ok("a-post-backup", nil), ok("b-backup", snap("bbb")), ok("global-post-backup", nil),
			},
			finished: true,
			want: summary{Phase: Succeeded, Reason: conditions.ReasonSucceeded, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetSucceeded, v1alpha1.TargetSucceeded},
				Hosts: []string{"a Succeeded aaa", "b Succeeded bbb"}},
		},
		{
			name: "a step of one target failed, the other went on",
			nodes: []pipeline.NodeStatus{
				ok("global-pre-backup", nil), ok("a-pre-backup", nil), failed("a-backup", "exit status 1"), omitted("a-retention"),
				ok("a-post-backup", nil), ok("b-backup", snap("bbb")), ok("global-post-backup", nil),
			},
			finished: true,
			want: summary{Phase: Failed, Reason: conditions.ReasonStepFailed, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetFailed, v1alpha1.TargetSucceeded},
				Hosts: []string{"a Failed ", "b Succeeded bbb"}},
		},
		{
			name: "a pre hook failed",
			nodes: []pipeline.NodeStatus{
				ok("global-pre-backup", nil), failed("a-pre-backup", "hook failed"), omitted("a-backup"), omitted("a-retention"),
				ok("a-post-backup", nil), ok("b-backup", snap("bbb")), ok("global-post-backup", nil),
			},
			finished: true,
			want: summary{Phase: Failed, Reason: conditions.ReasonPreHookFailed, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetFailed, v1alpha1.TargetSucceeded},
				Hosts: []string{"a Failed ", "b Succeeded bbb"}},
		},
		{
			name: "a post hook failed",
			nodes: []pipeline.NodeStatus{
				ok("global-pre-backup", nil), ok("a-pre-backup", nil), ok("a-backup", snap("aaa")), ok("a-retention", nil),
				failed("a-post-backup", "boom"), ok("b-backup", snap("bbb")), ok("global-post-backup", nil),
			},
			finished: true,
			want: summary{Phase: Failed, Reason: conditions.ReasonPostHookFailed, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetFailed, v1alpha1.TargetSucceeded},
				Hosts: []string{"a Succeeded aaa", "b Succeeded bbb"}},
		},
		{
			name: "the global pre hook failed: targets skipped",
			nodes: []pipeline.NodeStatus{
				failed("global-pre-backup", "no"), omitted("a-pre-backup"), omitted("a-backup"), omitted("a-retention"),
				omitted("a-post-backup"), omitted("b-backup"), ok("global-post-backup", nil),
			},
			finished: true,
			want: summary{Phase: Failed, Reason: conditions.ReasonGlobalPreHookFailed, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetSkipped, v1alpha1.TargetSkipped},
				Hosts: []string{"-", "-"}},
		},
		{
			name: "the global post hook failed",
			nodes: []pipeline.NodeStatus{
				ok("global-pre-backup", nil), ok("a-pre-backup", nil), ok("a-backup", snap("aaa")), ok("a-retention", nil),
				ok("a-post-backup", nil), ok("b-backup", snap("bbb")), failed("global-post-backup", "boom"),
			},
			finished: true,
			want: summary{Phase: Failed, Reason: conditions.ReasonGlobalPostHookFailed, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetSucceeded, v1alpha1.TargetSucceeded},
				Hosts: []string{"a Succeeded aaa", "b Succeeded bbb"}},
		},
		{
			name: "stopped at the deadline",
			nodes: Stopped([]pipeline.NodeStatus{
				ok("global-pre-backup", nil), ok("a-pre-backup", nil), running("a-backup"), {Step: "a-retention", Phase: pipeline.PhasePending},
				{Step: "a-post-backup", Phase: pipeline.PhasePending}, ok("b-backup", snap("bbb")), {Step: "global-post-backup", Phase: pipeline.PhasePending},
			}, "stopped: deadline", t0),
			finished: true,
			want: summary{Phase: Failed, Reason: conditions.ReasonStepFailed, TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetFailed, v1alpha1.TargetSucceeded},
				Hosts: []string{"a Failed ", "b Succeeded bbb"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(Evaluate(&batchLayout, tt.nodes, tt.finished))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopped(t *testing.T) {
	started := t0.Add(-time.Second)
	now := t0.Add(time.Minute)
	tests := []struct {
		name string
		node pipeline.NodeStatus
		want pipeline.NodeStatus
	}{
		{"running ends Failed", pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseRunning, StartedAt: started},
			pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseFailed, Message: "stopped", StartedAt: started, FinishedAt: now}},
		{"started, not yet seen Running, may have run: Failed", pipeline.NodeStatus{Step: "s", Phase: pipeline.PhasePending, StartedAt: started},
			pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseFailed, Message: "stopped", StartedAt: started, FinishedAt: now}},
		{"never started: Omitted", pipeline.NodeStatus{Step: "s", Phase: pipeline.PhasePending},
			pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseOmitted, Message: "stopped"}},
		{"no phase yet: Omitted", pipeline.NodeStatus{Step: "s"},
			pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseOmitted, Message: "stopped"}},
		{"finished: as it was", pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseSucceeded, StartedAt: started, FinishedAt: t0},
			pipeline.NodeStatus{Step: "s", Phase: pipeline.PhaseSucceeded, StartedAt: started, FinishedAt: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff([]pipeline.NodeStatus{tt.want}, Stopped([]pipeline.NodeStatus{tt.node}, "stopped", now)); diff != "" {
				t.Errorf("Stopped() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateDetails(t *testing.T) {
	nodes := []pipeline.NodeStatus{
		ok("global-pre-backup", nil), ok("a-pre-backup", nil),
		ok("a-backup", map[string]string{"snapshotID": "abc123\n", "size": "2048", "uploaded": "1024", "files": "3", "duration": "1.5"}),
		ok("a-retention", map[string]string{"removed": "2"}),
		ok("a-post-backup", nil), failed("b-backup", "exit status 1: disk full"), ok("global-post-backup", nil),
	}
	o := Evaluate(&batchLayout, nodes, true)
	a := o.Targets[0]
	wantHost := []Host{{
		Hostname: "a", Phase: v1alpha1.HostSucceeded, SnapshotID: "abc123",
		Size: ptr.To[int64](2048), Uploaded: ptr.To[int64](1024), Files: ptr.To[int64](3), Duration: "1.5s", FinishedAt: t0.Add(time.Second),
	}}
	if diff := cmp.Diff(wantHost, a.Hosts); diff != "" {
		t.Errorf("host of a (-want +got):\n%s", diff)
	}
	if a.Retention == nil || a.Retention.Phase != v1alpha1.StepSucceeded {
		t.Errorf("retention of a = %+v, want Succeeded", a.Retention)
	}
	if a.Outputs["removed"] != "2" {
		t.Errorf("outputs of a = %v, want removed=2", a.Outputs)
	}
	if want := "target AppBinding/b: step b-backup failed: exit status 1: disk full"; o.Message != want {
		t.Errorf("message = %q, want %q", o.Message, want)
	}
	if b := o.Targets[1]; len(b.Hosts) != 1 || b.Hosts[0].Phase != v1alpha1.HostFailed || b.Hosts[0].Error != "exit status 1: disk full" {
		t.Errorf("hosts of b = %+v, want one Failed with the step's message", b.Hosts)
	}
}

// TestEvaluateRepositoryInit: a failed repository initialisation is the
// session's failure, named first; the verdict step is not read.
func TestEvaluateRepositoryInit(t *testing.T) {
	layout := batchLayout
	layout.RepositoryInit, layout.Verdict = "repository-init", "verdict"
	nodes := []pipeline.NodeStatus{
		failed("repository-init", "wrong password"), ok("global-pre-backup", nil), omitted("a-pre-backup"), omitted("a-backup"),
		omitted("a-retention"), ok("a-post-backup", nil), omitted("b-backup"), ok("global-post-backup", nil), failed("verdict", "failed"),
	}
	o := Evaluate(&layout, nodes, true)
	want := summary{Phase: Failed, Reason: conditions.ReasonRepositoryInitFailed,
		TargetPhases: []v1alpha1.TargetPhase{v1alpha1.TargetFailed, v1alpha1.TargetFailed}, Hosts: []string{"a Failed ", "b Failed "}}
	if diff := cmp.Diff(want, summarize(o)); diff != "" {
		t.Errorf("Evaluate() mismatch (-want +got):\n%s", diff)
	}
	if o.Message != "the repository could not be initialised: wrong password" {
		t.Errorf("message = %q", o.Message)
	}
	nodes[0] = ok("repository-init", nil)
	for i := range nodes[1:] {
		if nodes[i+1].Phase == pipeline.PhaseOmitted {
			nodes[i+1] = ok(nodes[i+1].Step, nil)
		}
	}
	nodes[len(nodes)-1] = omitted("verdict")
	if o := Evaluate(&layout, nodes, true); o.Phase != Succeeded {
		t.Errorf("with the repository initialised and everything run: %s %s %q, want Succeeded", o.Phase, o.Reason, o.Message)
	}
}

// TestRolesFromTheRecord: a step's role is the one its record declares,
// never guessed from its Function's name.
func TestRolesFromTheRecord(t *testing.T) {
	layout := v1alpha1.RunLayout{Targets: []v1alpha1.TargetLayout{{
		Hostname: "h",
		Steps: []v1alpha1.StepRef{
			{Name: "verify-config", Function: "verify-config"},
			{Name: "dump", Function: "dump", Role: v1alpha1.RoleBackup},
			{Name: "thin", Function: "thin", Role: v1alpha1.RoleRetention},
			{Name: "fsck", Function: "fsck", Role: v1alpha1.RoleIntegrityCheck},
		},
	}}}
	nodes := []pipeline.NodeStatus{
		ok("verify-config", nil), ok("dump", map[string]string{"snapshotID": "abc"}), ok("thin", nil), ok("fsck", map[string]string{"integrity": "true"}),
	}
	o := Evaluate(&layout, nodes, true)
	tg := o.Targets[0]
	got := []string{"", "", ""}
	if len(tg.Hosts) == 1 {
		got[0] = tg.Hosts[0].SnapshotID
	}
	if tg.Retention != nil {
		got[1] = tg.Retention.Name
	}
	if tg.Check != nil {
		got[2] = tg.Check.Name
	}
	if diff := cmp.Diff([]string{"abc", "thin", "fsck"}, got); diff != "" {
		t.Errorf("host snapshot, retention, check (-want +got):\n%s", diff)
	}
}

// TestEvaluateLeftQuiesced: a workload restore that failed after its
// workload was scaled to zero says so, with the recorded count and the
// command that scales it back; one that never quiesced or resumed does not.
func TestEvaluateLeftQuiesced(t *testing.T) {
	layout := v1alpha1.RunLayout{Targets: []v1alpha1.TargetLayout{{
		Ref: &v1alpha1.TargetRef{Kind: "Deployment", Name: "www"},
		Steps: []v1alpha1.StepRef{
			{Name: "workload-quiesce", Function: "workload-quiesce", Role: v1alpha1.RoleQuiesce, Outputs: []string{"replicas"}},
			{Name: "host-0-volume-restore", Function: "volume-restore", Role: v1alpha1.RoleRestore, Host: "host-0"},
			{Name: "workload-resume", Function: "workload-resume", Role: v1alpha1.RoleResume},
		},
	}}}
	tests := []struct {
		name     string
		nodes    []pipeline.NodeStatus
		wantLeft bool
	}{
		{"restore failed", []pipeline.NodeStatus{ok("workload-quiesce", map[string]string{"replicas": "3\n"}), failed("host-0-volume-restore", "wrong password")}, true},
		{"quiesce failed", []pipeline.NodeStatus{failed("workload-quiesce", "pods still there")}, false},
		{"resumed", []pipeline.NodeStatus{ok("workload-quiesce", map[string]string{"replicas": "3"}), ok("host-0-volume-restore", nil), ok("workload-resume", nil)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Evaluate(&layout, tt.nodes, true)
			msg := o.Targets[0].Message
			left := strings.Contains(msg, "Deployment/www is left scaled to 0")
			if left != tt.wantLeft {
				t.Fatalf("message %q: says left scaled down = %v, want %v", msg, left, tt.wantLeft)
			}
			if left && (!strings.Contains(msg, "its 3 replica(s) recorded in annotation stashflow.dev/restore-replicas") || !strings.Contains(msg, "scale deployment/www --replicas=3")) {
				t.Errorf("message %q does not give the count and the command", msg)
			}
		})
	}
	if o := Evaluate(&layout, []pipeline.NodeStatus{ok("workload-quiesce", map[string]string{"replicas": "3"}), failed("host-0-volume-restore", "x")}, true); o.Targets[0].Hosts[0].Hostname != "host-0" {
		t.Errorf("hosts = %+v, want host-0", o.Targets[0].Hosts)
	}
}

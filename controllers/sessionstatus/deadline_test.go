package sessionstatus

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/pipeline"
)

// The layout of one target with one step:
//
//	backup
var oneStepLayout = v1alpha1.RunLayout{Targets: []v1alpha1.TargetLayout{{
	Hostname: "h", Steps: []v1alpha1.StepRef{{Name: "backup", Function: "volume-backup", Role: v1alpha1.RoleBackup}},
}}}

func TestDeadlineEvaluateRun(t *testing.T) {
	const timeout = 2 * time.Second
	deadline := NewDeadline(timeout, t0, "session")
	before, after := t0.Add(time.Second), t0.Add(3*time.Second)
	type want struct {
		Phase     Phase
		Reason    conditions.Reason
		Message   string
		Condition bool // DeadlineExceeded True
	}
	tests := []struct {
		name     string
		deadline Deadline
		nodes    []pipeline.NodeStatus
		finished bool
		now      time.Time
		want     want
	}{
		{
			name: "running, before the deadline", deadline: deadline,
			nodes: []pipeline.NodeStatus{running("backup")}, now: before,
			want: want{Phase: Running},
		},
		{
			name: "running past the deadline: taken as stopped (the operator stops it)", deadline: deadline,
			nodes: []pipeline.NodeStatus{running("backup")}, now: after,
			want: want{Phase: Failed, Reason: conditions.ReasonDeadlineExceeded, Condition: true,
				Message: "the session exceeded its timeOut of 2s: target h: step backup failed: stopped: the session exceeded its timeOut of 2s"},
		},
		{
			name: "ended failed past the deadline (the local engine enforced it)", deadline: deadline,
			nodes: []pipeline.NodeStatus{failed("backup", "run exceeded its timeout of 2s")}, finished: true, now: after,
			want: want{Phase: Failed, Reason: conditions.ReasonDeadlineExceeded, Condition: true,
				Message: "the session exceeded its timeOut of 2s: target h: step backup failed: run exceeded its timeout of 2s"},
		},
		{
			name: "ended failed before the deadline: the step's own failure", deadline: deadline,
			nodes: []pipeline.NodeStatus{failed("backup", "exit code 1")}, finished: true, now: before,
			want: want{Phase: Failed, Reason: conditions.ReasonStepFailed, Message: "target h: step backup failed: exit code 1"},
		},
		{
			name: "succeeded, read past the deadline", deadline: deadline,
			nodes: []pipeline.NodeStatus{ok("backup", nil)}, finished: true, now: after,
			want: want{Phase: Succeeded, Reason: conditions.ReasonSucceeded, Message: "1 of 1 targets succeeded"},
		},
		{
			name: "no timeOut: no deadline", deadline: NewDeadline(0, t0, "session"),
			nodes: []pipeline.NodeStatus{failed("backup", "exit code 1")}, finished: true, now: after.Add(time.Hour),
			want: want{Phase: Failed, Reason: conditions.ReasonStepFailed, Message: "target h: step backup failed: exit code 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conds []v1alpha1.Condition
			o := tt.deadline.EvaluateRun(&conds, 1, &oneStepLayout, tt.nodes, tt.finished, tt.now)
			got := want{Phase: o.Phase, Reason: o.Reason, Message: o.Message, Condition: conditions.IsTrue(conds, conditions.DeadlineExceeded)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

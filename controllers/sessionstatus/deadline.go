package sessionstatus

import (
	"fmt"
	"time"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/pipeline"
)

// Deadline is a session's timeOut once its run started. The session
// controllers and `stashflow run` judge a run against it with EvaluateRun, so
// that a run that went past it ends the same everywhere: Failed, reason
// DeadlineExceeded, condition DeadlineExceeded True, the message saying so.
type Deadline struct {
	// Timeout is the session's timeOut (its graph's Timeout).
	Timeout time.Duration
	// At is when it passes (status.sessionDeadline); zero: no deadline.
	At time.Time
	// Subject names the run in messages: "session" or "restore".
	Subject string
}

// NewDeadline is the deadline of a run of a graph with timeout that started
// at start; zero when the graph has none.
func NewDeadline(timeout time.Duration, start time.Time, subject string) Deadline {
	d := Deadline{Timeout: timeout, Subject: subject}
	if timeout > 0 {
		d.At = start.Add(timeout)
	}
	return d
}

// Passed reports whether now is at or past the deadline.
func (d Deadline) Passed(now time.Time) bool { return !d.At.IsZero() && !now.Before(d.At) }

// Message says that the run exceeded its timeOut; the message a caller stops
// the run's engine with.
func (d Deadline) Message() string {
	return fmt.Sprintf("the %s exceeded its timeOut of %s", d.Subject, d.Timeout)
}

// EvaluateRun is Evaluate for a run with a deadline, at now.
//
// Past the deadline, a run that has not finished is taken as stopped (the
// caller stops it on its engine with Message): its running steps end Failed
// and the steps not started end Omitted (Stopped), and the condition
// DeadlineExceeded is set True in conds. A run past the deadline that failed,
// whether it was stopped here or its engine enforced the timeOut itself (the
// local engine does), fails with reason DeadlineExceeded, its message
// prefixed with Message, and the condition set as well.
func (d Deadline) EvaluateRun(conds *[]v1alpha1.Condition, generation int64, layout *v1alpha1.RunLayout, nodes []pipeline.NodeStatus, finished bool, now time.Time) *Outcome {
	passed := d.Passed(now)
	stopped := passed && !finished
	if stopped {
		nodes, finished = Stopped(nodes, "stopped: "+d.Message(), now), true
	}
	o := Evaluate(layout, nodes, finished)
	failed := passed && o.Phase == Failed
	if stopped || failed {
		conditions.True(conds, generation, conditions.DeadlineExceeded, conditions.ReasonDeadlineExceeded, d.Message())
	}
	if failed {
		o.Reason = conditions.ReasonDeadlineExceeded
		o.Message = d.Message() + ": " + o.Message
	}
	return o
}

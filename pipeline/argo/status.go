package argo

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"

	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// ErrNodesNotInline means the Workflow's node statuses are not in
// status.nodes (compressed, or offloaded to Argo's database), so the
// per-step state cannot be read from the object alone.
var ErrNodesNotInline = errors.New("argo: workflow node statuses are not inline")

// NodeStatuses reads one NodeStatus per graph step (in graph order) out of a
// Workflow rendered from g. Every node message goes through redact (nil:
// none) before it is cut to fit a step's message (StepMessage).
//
// A step's node is the DAG task node named "<workflow>.<step>". A Retry node
// carries the step's overall phase, outputs and times; its children flagged
// as retried (named "<workflow>.<step>(N)") are the attempts. Nodes of
// lifecycle hooks and anything else are ignored. A step without a node is
// Pending while the workflow runs, and Omitted (with the workflow's message)
// once the workflow finished without reaching it, e.g. after its deadline or
// a stop.
func NodeStatuses(wf *wfv1.Workflow, g *pipeline.Graph, redact func(string) string) ([]pipeline.NodeStatus, error) {
	if wf == nil || g == nil {
		return nil, errors.New("argo: NodeStatuses needs a workflow and a graph")
	}
	st := &wf.Status
	switch {
	case st.CompressedNodes != "":
		return nil, fmt.Errorf("%w: workflow %q has status.compressedNodes; decompress them first (Argo's workflow/packer)", ErrNodesNotInline, wf.Name)
	case st.IsOffloadNodeStatus() && len(st.Nodes) == 0:
		return nil, fmt.Errorf("%w: workflow %q has offloaded its node statuses (version %s) to Argo's database", ErrNodesNotInline, wf.Name, st.OffloadNodeStatusVersion)
	}

	byName := make(map[string]*wfv1.NodeStatus, len(st.Nodes))
	for id := range st.Nodes {
		n := st.Nodes[id]
		byName[n.Name] = &n
	}
	out := make([]pipeline.NodeStatus, 0, len(g.Steps))
	for i := range g.Steps {
		step := g.Steps[i].Name
		node := byName[wf.Name+"."+step]
		if node == nil {
			out = append(out, notReached(wf, step, redact))
			continue
		}
		ns, err := stepStatus(step, node, st.Nodes, redact)
		if err != nil {
			return nil, fmt.Errorf("argo: workflow %q: %w", wf.Name, err)
		}
		out = append(out, ns)
	}
	return out, nil
}

func notReached(wf *wfv1.Workflow, step string, redact func(string) string) pipeline.NodeStatus {
	if !Finished(wf) {
		return pipeline.NodeStatus{Step: step, Phase: pipeline.PhasePending}
	}
	msg := fmt.Sprintf("not run: the workflow ended %s", wf.Status.Phase)
	if wf.Status.Message != "" {
		msg += ": " + wf.Status.Message
		if redact != nil {
			msg = redact(msg)
		}
	}
	return pipeline.NodeStatus{Step: step, Phase: pipeline.PhaseOmitted, Message: msg}
}

func stepStatus(step string, node *wfv1.NodeStatus, nodes wfv1.Nodes, redact func(string) string) (pipeline.NodeStatus, error) {
	phase, err := phaseOf(node.Phase)
	if err != nil {
		return pipeline.NodeStatus{}, fmt.Errorf("step %q: %w", step, err)
	}
	ns := pipeline.NodeStatus{
		Step:       step,
		Phase:      phase,
		Message:    StepMessage(node.Message, redact),
		StartedAt:  timeOf(node.StartedAt.Time),
		FinishedAt: timeOf(node.FinishedAt.Time),
		Outputs:    outputsOf(node.Outputs),
	}
	switch node.Type {
	case wfv1.NodeTypePod:
		if node.Phase != wfv1.NodePending {
			ns.Attempts = 1
		}
	case wfv1.NodeTypeRetry:
		attempts := retryAttempts(node, nodes)
		for _, a := range attempts {
			if a.Phase != wfv1.NodePending {
				ns.Attempts++
			}
		}
		if len(attempts) > 0 {
			last := attempts[len(attempts)-1]
			lastMsg := StepMessage(last.Message, redact)
			switch {
			case ns.Message == "":
				ns.Message = lastMsg
			case lastMsg != "" && lastMsg != ns.Message:
				ns.Message += "; last attempt: " + lastMsg
			}
			if ns.Outputs == nil && last.Phase == wfv1.NodeSucceeded {
				ns.Outputs = outputsOf(last.Outputs)
			}
		}
	}
	return ns, nil
}

// reFailedContainer is the message Argo gives a node whose container
// failed: "<container>: <reason> (exit code <n>)", then ": <termination
// message>" when the container left one (older controllers: without the
// container's name).
var reFailedContainer = regexp.MustCompile(`(?s)^(?:[a-z0-9][a-z0-9-]*: )?(\w+) \(exit code (-?\d+)\)(?:: (.*))?$`)

// StepMessage is the step's message for an Argo node's message, in the
// local engine's words: for a failed container, "exit code <n>" (or
// "<reason> (exit code <n>)" for a reason other than Error, e.g.
// OOMKilled) and the cause its termination message gives by the rule the
// local engine applies to a step's log (stepcause): a Function's one-line
// reason as it is, a log tail the kubelet took reduced to the line that
// names the failure. Any other message is kept.
//
// Every line quoted goes through redact (nil: none) before it is cut, so no
// part of a secret value is kept. A log tail as long as the kubelet takes
// (kubeletTailBytes, kubeletTailLines) may begin inside a value, where
// redact cannot recognise it: its first line is dropped.
func StepMessage(msg string, redact func(string) string) string {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	m := reFailedContainer.FindStringSubmatch(msg)
	if m == nil {
		return redact(msg)
	}
	out := "exit code " + m[2]
	if m[1] != "Error" {
		out = m[1] + " (exit code " + m[2] + ")"
	}
	tail := m[3]
	cut := len(tail) >= kubeletTailBytes-16 || strings.Count(tail, "\n") >= kubeletTailLines-1
	lines := stepcause.Lines([]byte(tail), cut, false)
	if cause := stepcause.Of(lines, lines, redact); cause != "" {
		out += ": " + cause
	}
	return out
}

// The kubelet's bounds on the log tail it takes as a termination message
// (terminationMessagePolicy FallbackToLogsOnError): the tail may start
// inside a line.
const (
	kubeletTailBytes = 2048
	kubeletTailLines = 80
)

// retryAttempts returns the attempt nodes of a Retry node in order: the
// children Argo flags as retried, or (older controllers) named "<node>(N)".
func retryAttempts(node *wfv1.NodeStatus, nodes wfv1.Nodes) []*wfv1.NodeStatus {
	attemptName := regexp.MustCompile(`^` + regexp.QuoteMeta(node.Name) + `\(\d+\)$`)
	var out []*wfv1.NodeStatus
	for _, id := range node.Children {
		child, ok := nodes[id]
		if !ok {
			continue
		}
		if (child.NodeFlag != nil && child.NodeFlag.Retried) || attemptName.MatchString(child.Name) {
			out = append(out, &child)
		}
	}
	return out
}

func phaseOf(p wfv1.NodePhase) (pipeline.Phase, error) {
	switch p {
	case "", wfv1.NodePending:
		return pipeline.PhasePending, nil
	case wfv1.NodeRunning:
		return pipeline.PhaseRunning, nil
	case wfv1.NodeSucceeded:
		return pipeline.PhaseSucceeded, nil
	case wfv1.NodeFailed:
		return pipeline.PhaseFailed, nil
	case wfv1.NodeError:
		return pipeline.PhaseError, nil
	case wfv1.NodeOmitted:
		return pipeline.PhaseOmitted, nil
	case wfv1.NodeSkipped:
		return pipeline.PhaseSkipped, nil
	}
	return "", fmt.Errorf("unknown node phase %q", p)
}

func outputsOf(o *wfv1.Outputs) map[string]string {
	if o == nil {
		return nil
	}
	var out map[string]string
	for _, p := range o.Parameters {
		if p.Value == nil {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[p.Name] = p.Value.String()
	}
	return out
}

func timeOf(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// Finished reports whether the workflow reached a final phase
// (Succeeded, Failed or Error).
func Finished(wf *wfv1.Workflow) bool {
	return wf.Status.Phase.Completed()
}

// WorkflowPhase maps the workflow's phase onto the pipeline's phases; an
// unknown or unset phase is Pending. Note that a workflow can succeed while
// a step failed (an OnFailure step handled it): read the steps for details.
func WorkflowPhase(wf *wfv1.Workflow) pipeline.Phase {
	switch wf.Status.Phase {
	case wfv1.WorkflowRunning:
		return pipeline.PhaseRunning
	case wfv1.WorkflowSucceeded:
		return pipeline.PhaseSucceeded
	case wfv1.WorkflowFailed:
		return pipeline.PhaseFailed
	case wfv1.WorkflowError:
		return pipeline.PhaseError
	}
	return pipeline.PhasePending
}

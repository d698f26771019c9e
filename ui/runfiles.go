package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/argo"
	"github.com/stashflow/stashflow/pipeline/local"
)

// Bounds of what the session page shows of a step's files.
const (
	// maxOutputsFile bounds outputs.json as read (the engine bounds each
	// output at 256 KiB).
	maxOutputsFile = 1 << 20
	// outputChars bounds one output's value on the page.
	outputChars = 2000
)

// stepFiles is what a local-engine run left of one step: the end of its
// log and its outputs, as the engine wrote them with secret values
// redacted (pipeline/local.TailFile and OutputsFile).
type stepFiles struct {
	Name, Title, Target, Phase string
	// Log is the log's tail, Lines its lines; LogNote says why there is
	// none.
	Log     string
	Lines   int
	LogNote string
	Outputs []outputRow
	// Open: the page shows it unfolded (failed steps).
	Open bool
}

// outputRow is one output parameter of a step.
type outputRow struct {
	Name, Value string
	// Missing: declared, not written (the step did not succeed).
	Missing bool
}

// stepFilesOf is what the session page shows of its steps' logs and
// outputs: the local engine's run directory, or the Argo Workflow's nodes.
func (p *pages) stepFilesOf(ctx context.Context, rec *record, d *dag) ([]stepFiles, string) {
	if rec.Workflow != nil && rec.Workflow.Engine == v1alpha1.EngineArgo {
		return argoOutputs(ctx, p.s.cfg.Client, rec, d)
	}
	return runFiles(p.s.cfg.LocalWorkDir, rec, d)
}

// argoLogs says where an Argo session's step logs are.
const argoLogs = "The step logs of Argo sessions are in the workflow's pods: open the workflow in the Argo UI, or kubectl logs its pods."

// argoOutputs reads the steps' output parameters from the session's Argo
// Workflow (its status.nodes, as the operator reads them); the logs are in
// the workflow's pods, which the UI does not read.
func argoOutputs(ctx context.Context, c client.Reader, rec *record, d *dag) ([]stepFiles, string) {
	ref := rec.Workflow
	if rec.Plan == nil {
		return nil, argoLogs
	}
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	if key.Namespace == "" {
		key.Namespace = rec.Namespace
	}
	wf := &wfv1.Workflow{}
	if err := c.Get(ctx, key, wf); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("The Argo Workflow %s is gone: its steps' outputs went with it. %s", key, argoLogs)
		}
		return nil, fmt.Sprintf("Reading the Argo Workflow %s for its steps' outputs: %v. %s", key, err, argoLogs)
	}
	g := &pipeline.Graph{Name: wf.Name, Steps: make([]pipeline.Step, len(rec.Plan.Steps))}
	for i := range rec.Plan.Steps {
		g.Steps[i].Name = rec.Plan.Steps[i].Name
	}
	statuses, err := argo.NodeStatuses(wf, g, nil)
	if err != nil {
		return nil, fmt.Sprintf("Reading the Argo Workflow %s for its steps' outputs: %v. %s", key, err, argoLogs)
	}
	outs := map[string]map[string]string{}
	for _, st := range statuses {
		outs[st.Step] = st.Outputs
	}
	var files []stepFiles
	for i := range d.Nodes {
		n := &d.Nodes[i]
		values, ok := outs[n.Name]
		if !ok || len(values) == 0 && len(n.Outputs) == 0 || n.Phase != v1alpha1.StepSucceeded && n.Phase != v1alpha1.StepFailed {
			continue
		}
		files = append(files, stepFiles{
			Name: n.Name, Title: n.Title, Target: n.TargetName, Phase: string(n.Phase),
			Outputs: outputRows(values, n.Outputs),
		})
	}
	return files, "Outputs from the Argo Workflow " + key.String() + ". " + argoLogs
}

// runFiles reads the step logs and outputs of a session's run. Only the
// local engine's runs have them here, in <workDir>/<namespace>/<run name>;
// note says why there are none.
func runFiles(workDir string, rec *record, d *dag) (files []stepFiles, note string) {
	wf := rec.Workflow
	switch {
	case wf == nil:
		return nil, "No step logs yet: the session has not been submitted."
	case wf.Engine != v1alpha1.EngineLocal:
		return nil, "Step logs are shown for sessions of the local engine; this session ran on " + string(wf.Engine) + "."
	case workDir == "":
		return nil, "Step logs and outputs are not shown: the UI was started without the local engine's work directory."
	case !safeName(rec.Namespace) || !safeName(wf.Name):
		return nil, "Step logs and outputs are not shown: the workflow's name is not a plain name."
	}
	runDir := filepath.Join(workDir, rec.Namespace, wf.Name)
	if _, err := os.Stat(runDir); err != nil {
		return nil, "Step logs and outputs are not on this replica: the local engine keeps them in its work directory on the machine that ran the session (the operator's leader), and they are gone once that directory is cleared."
	}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		if !safeName(n.Name) {
			continue
		}
		f := stepFiles{Name: n.Name, Title: n.Title, Target: n.TargetName, Phase: string(n.Phase), Open: n.Phase == v1alpha1.StepFailed}
		dir := filepath.Join(runDir, n.Name)
		tail, err := readAtMost(filepath.Join(dir, local.TailFile), local.TailBytes+1)
		switch {
		case err == nil && len(tail) > 0:
			f.Log = strings.ToValidUTF8(string(tail), "\uFFFD")
			f.Lines = strings.Count(f.Log, "\n")
		case err == nil:
			f.LogNote = "The step printed nothing."
		case n.Phase == v1alpha1.StepRunning:
			f.LogNote = "Running: the end of its log is shown when the step ends (the log itself may hold secret values; the tail shown is redacted)."
		}
		if ended := n.Phase == v1alpha1.StepSucceeded || n.Phase == v1alpha1.StepFailed; ended || f.Log != "" {
			f.Outputs = readOutputs(filepath.Join(dir, local.OutputsFile), n.Outputs)
		}
		if f.Log != "" || f.LogNote != "" || len(f.Outputs) > 0 {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		note = "No step has left a log yet."
	}
	return files, note
}

// readOutputs are a step's declared outputs with the values it wrote, then
// any value written that was not declared.
func readOutputs(path string, declared []string) []outputRow {
	values := map[string]string{}
	if b, err := readAtMost(path, maxOutputsFile); err == nil {
		_ = json.Unmarshal(b, &values)
	}
	return outputRows(values, declared)
}

// outputRows are the declared outputs with their values, in order, then
// the values that were not declared, by name.
func outputRows(values map[string]string, declared []string) []outputRow {
	values = maps.Clone(values)
	var out []outputRow
	for _, name := range declared {
		v, ok := values[name]
		out = append(out, outputRow{Name: name, Value: ellipsis(v, outputChars), Missing: !ok})
		delete(values, name)
	}
	var rest []string
	for name := range values {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	for _, name := range rest {
		out = append(out, outputRow{Name: name, Value: ellipsis(values[name], outputChars)})
	}
	return out
}

// safeName is a name that is one path element below a directory: a
// status written by hand cannot make the UI read elsewhere.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && filepath.IsLocal(s)
}

// readAtMost reads at most limit bytes of a file: the last limit bytes if
// it is longer (a file the engine wrote is never longer; this bounds what
// a file put there by someone else costs).
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	if fi.Size() > limit {
		if _, err := f.Seek(fi.Size()-limit, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

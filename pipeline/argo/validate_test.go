package argo

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/argolint"
)

// TestValidateRejects makes sure Validate really runs Argo's checks, on
// broken variants of a rendered workflow.
func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name    string
		breakIt func(wf *wfv1.Workflow)
		wantErr string
	}{
		{"unknown task result", func(wf *wfv1.Workflow) { wf.Spec.Templates[0].DAG.Tasks[1].Depends = "a.Finished" }, "task result 'Finished'"},
		// Argo dereferences the missing template when spec.podMetadata is set.
		{"unknown template", func(wf *wfv1.Workflow) { wf.Spec.Templates[0].DAG.Tasks[0].Template = "nope" }, "panicked"},
		{"unknown template, no podMetadata", func(wf *wfv1.Workflow) {
			wf.Spec.PodMetadata = nil
			wf.Spec.Templates[0].DAG.Tasks[0].Template = "nope"
		}, "template name 'nope' undefined"},
		{"unresolvable reference", func(wf *wfv1.Workflow) {
			wf.Spec.Templates[1].Container.Args = []string{"{{inputs.parameters.missing}}"}
		}, "failed to resolve {{inputs.parameters.missing}}"},
		{"cycle", func(wf *wfv1.Workflow) { wf.Spec.Templates[0].DAG.Tasks[0].Depends = "b.Succeeded" }, "graph with cycle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wf, err := Render(graph("broken", fn("a", "x"), deps(fn("b", "y"), after("a"))), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatalf("rendered workflow fails: %v", err)
			}
			tc.breakIt(wf)
			if err := argolint.Validate(wf); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestValidateLeavesWorkflowAlone: Argo's validation merges podMetadata into
// the templates it resolves; Validate must not let that leak.
func TestValidateLeavesWorkflowAlone(t *testing.T) {
	wf, err := Render(graph("untouched", fn("a", "x")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := wf.DeepCopy()
	if err := argolint.Validate(wf); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, wf); diff != "" {
		t.Errorf("Validate changed the workflow (-before +after):\n%s", diff)
	}
}

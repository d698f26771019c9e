package pipeline_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/pipeline"
)

func TestOutputRefs(t *testing.T) {
	tcs := []struct {
		in   string
		want []pipeline.OutputRef
	}{
		{in: "plain"},
		{in: "$(steps.a.outputs.id)", want: []pipeline.OutputRef{{Step: "a", Output: "id"}}},
		{
			in:   "--from=$(steps.backup-1.outputs.snapshot_id),$(steps.b.outputs.Size-2)",
			want: []pipeline.OutputRef{{Step: "backup-1", Output: "snapshot_id"}, {Step: "b", Output: "Size-2"}},
		},
		// Not references: upper-case step, missing parts, Argo's own syntax.
		{in: "$(steps.A.outputs.id) $(steps.a.outputs) {{tasks.a.outputs.parameters.id}}"},
	}
	for _, tc := range tcs {
		t.Run(tc.in, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, pipeline.OutputRefs(tc.in)); diff != "" {
				t.Errorf("OutputRefs(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestReplaceOutputRefs(t *testing.T) {
	got := pipeline.ReplaceOutputRefs("a=$(steps.a.outputs.id) b=$(steps.b.outputs.x) $(x)", func(r pipeline.OutputRef) string {
		return strings.ToUpper(r.Step + "." + r.Output)
	})
	if diff := cmp.Diff("a=A.ID b=B.X $(x)", got); diff != "" {
		t.Errorf("ReplaceOutputRefs mismatch (-want +got):\n%s", diff)
	}
	if got, want := (pipeline.OutputRef{Step: "a", Output: "id"}).String(), "$(steps.a.outputs.id)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestStepRefs(t *testing.T) {
	s := pipeline.Step{Name: "c", Process: pipeline.Process{
		Command: []string{"sh", "-c", "echo $(steps.a.outputs.x)"},
		Args:    []string{"$(steps.b.outputs.y)"},
		Env:     []pipeline.EnvVar{{Name: "Z", Value: "$(steps.a.outputs.z)"}, {Name: "S", SecretKeyRef: &pipeline.SecretKeyRef{Name: "s", Key: "k"}}},
	}}
	want := []pipeline.OutputRef{{Step: "b", Output: "y"}, {Step: "a", Output: "x"}, {Step: "a", Output: "z"}}
	if diff := cmp.Diff(want, s.Refs()); diff != "" {
		t.Errorf("Refs() mismatch (-want +got):\n%s", diff)
	}
}

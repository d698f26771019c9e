package argo

import (
	"testing"

	"github.com/stashflow/stashflow/internal/argolint"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/conformance"
)

// TestConformanceGraphsRender renders every graph of the shared conformance
// table and runs Argo's validation on it; running them on a real Argo
// controller is e2e's job.
func TestConformanceGraphsRender(t *testing.T) {
	for _, c := range conformance.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			g := c.Graph(t.TempDir())
			wf, err := Render(g, Options{})
			if err != nil {
				t.Fatalf("Render:\n%s\n%v", c.Drawing, err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatalf("Validate:\n%s\n%v", c.Drawing, err)
			}
			if got := len(wf.Spec.Templates[0].DAG.Tasks); got != len(g.Steps) {
				t.Errorf("dag tasks = %d, want %d", got, len(g.Steps))
			}
		})
	}
}

// TestConformanceDependsDecisions evaluates every rendered depends
// expression, with Argo's evaluator, on the phases the case wants for the
// dependencies: a step the case wants Omitted must evaluate false, any other
// step true. So Argo makes the same run-or-omit decisions as the table.
func TestConformanceDependsDecisions(t *testing.T) {
	for _, c := range conformance.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			wf, err := Render(c.Graph(t.TempDir()), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range wf.Spec.Templates[0].DAG.Tasks {
				if task.Depends == "" {
					continue
				}
				run, err := evalDepends(task.Depends, c.Want)
				if err != nil {
					t.Fatalf("%s: %s: %v", task.Name, task.Depends, err)
				}
				if want := c.Want[task.Name] != pipeline.PhaseOmitted; run != want {
					t.Errorf("%s: depends %q gives run=%v with the wanted phases, want run=%v", task.Name, task.Depends, run, want)
				}
			}
		})
	}
}

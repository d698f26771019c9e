package argo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/argoproj/argo-workflows/v3/util/expr/argoexpr"

	"github.com/stashflow/stashflow/pipeline"
)

// taskResults mirrors the fields Argo's DAG executor (workflow/controller
// dag.go, TaskResults) exposes to a depends expression.
type taskResults struct {
	Succeeded, Failed, Errored, Skipped, Omitted, Daemoned, AnySucceeded, AllFailed bool
}

func resultsOf(p pipeline.Phase) taskResults {
	return taskResults{
		Succeeded: p == pipeline.PhaseSucceeded,
		Failed:    p == pipeline.PhaseFailed,
		Errored:   p == pipeline.PhaseError,
		Skipped:   p == pipeline.PhaseSkipped,
		Omitted:   p == pipeline.PhaseOmitted,
	}
}

// evalDepends evaluates a rendered depends expression the way Argo does:
// '-' becomes '_' in the expression and in task names, then expr runs it.
func evalDepends(expr string, phases map[string]pipeline.Phase) (bool, error) {
	env := map[string]taskResults{}
	for name, p := range phases {
		env[strings.ReplaceAll(name, "-", "_")] = resultsOf(p)
	}
	return argoexpr.EvalBool(strings.ReplaceAll(expr, "-", "_"), env)
}

var finalPhases = []pipeline.Phase{
	pipeline.PhaseSucceeded, pipeline.PhaseFailed, pipeline.PhaseError, pipeline.PhaseOmitted, pipeline.PhaseSkipped,
}

// TestDependsMatchesConditions pins the rendered depends expressions to the
// pipeline's rule (Condition.Satisfies), evaluated by Argo's own evaluator.
func TestDependsMatchesConditions(t *testing.T) {
	for _, when := range []pipeline.Condition{pipeline.OnSuccess, pipeline.OnFailure, pipeline.OnEnd} {
		for _, p := range finalPhases {
			t.Run(fmt.Sprintf("%s/%s", when, p), func(t *testing.T) {
				expr := dependsExpression([]pipeline.Dependency{{Step: "etcd-backup", When: when}})
				got, err := evalDepends(expr, map[string]pipeline.Phase{"etcd-backup": p})
				if err != nil {
					t.Fatalf("%s: %v", expr, err)
				}
				if want := when.Satisfies(p); got != want {
					t.Errorf("%s with etcd-backup %s = %v, want %v", expr, p, got, want)
				}
			})
		}
	}
}

func TestDependsConjunction(t *testing.T) {
	deps := []pipeline.Dependency{onEnd("a-post"), after("b-backup"), onFailure("c")}
	expr := dependsExpression(deps)
	want := "(a-post.Succeeded || a-post.Failed || a-post.Errored || a-post.Skipped || a-post.Omitted) && " +
		"b-backup.Succeeded && (c.Failed || c.Errored)"
	if expr != want {
		t.Fatalf("dependsExpression = %q, want %q", expr, want)
	}
	for _, a := range finalPhases {
		for _, b := range finalPhases {
			for _, c := range finalPhases {
				phases := map[string]pipeline.Phase{"a-post": a, "b-backup": b, "c": c}
				got, err := evalDepends(expr, phases)
				if err != nil {
					t.Fatal(err)
				}
				want := true
				for _, d := range deps {
					want = want && d.When.Satisfies(phases[d.Step])
				}
				if got != want {
					t.Errorf("%v: got %v, want %v", phases, got, want)
				}
			}
		}
	}
}

// TestDependsOnAwkwardNames checks step names that look like expr syntax;
// the ones expr cannot take are rejected by Render (exprKeywords).
func TestDependsOnAwkwardNames(t *testing.T) {
	names := []string{"and", "or", "not", "in", "matches", "contains", "startswith", "endswith",
		"true", "false", "nil", "let", "if", "else", "len", "all", "any", "none", "one", "filter", "map", "count",
		"abs", "int", "string", "now", "duration", "date", "type", "keys", "values", "get", "first", "last",
		"a-and-b", "in-1", "not-x", "x", "e", "v1", "sprig", "env"}
	for _, n := range names {
		expr := dependsExpression([]pipeline.Dependency{{Step: n, When: pipeline.OnEnd}})
		got, err := evalDepends(expr, map[string]pipeline.Phase{n: pipeline.PhaseSucceeded})
		works := err == nil && got
		if works == exprKeywords[n] {
			t.Errorf("step %q: expression works = %v (err %v), but exprKeywords says %v", n, works, err, exprKeywords[n])
		}
	}
}

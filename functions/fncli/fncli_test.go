package fncli

import (
	"context"
	"slices"
	"testing"

	"github.com/stashflow/stashflow/functions"
)

// TestMainExitCodes: stashflow-fn answers as `stashflow fn` does: exit 2
// for a step called wrongly, 0 for --list.
func TestMainExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{name: "list", args: []string{"--list"}, want: 0},
		{name: "no function", args: nil, want: ExitUsage},
		{name: "unknown function", args: []string{"nope"}, want: ExitUsage},
		{name: "unknown flag", args: []string{"verdict", "--nope"}, want: ExitUsage},
		{name: "bad memory limit", args: []string{"verdict", "--memory-limit", "lots"}, want: ExitUsage},
		{name: "an argument where none is taken", args: []string{"verdict", "extra"}, want: ExitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Main(context.Background(), tc.args); got != tc.want {
				t.Errorf("Main(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

// TestHeavyNames: every name stashflow-fn leaves out is a built-in
// Function of the full build (a renamed Function would otherwise be
// exec'd into a binary that lacks it).
func TestHeavyNames(t *testing.T) {
	reg, err := functions.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range functions.HeavyNames {
		if !slices.Contains(reg.Names(), n) {
			t.Errorf("HeavyNames has %q, which is not a built-in Function", n)
		}
	}
}

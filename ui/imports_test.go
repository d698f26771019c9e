package ui

import (
	"os/exec"
	"strings"
	"testing"
)

// TestReadsOnlyRecords: the UI reads API objects, their run records and
// the engines' node statuses; it must not translate sessions again, so it
// imports neither the translators nor the controllers.
func TestReadsOnlyRecords(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/stashflow/stashflow/translators") || strings.HasPrefix(pkg, "github.com/stashflow/stashflow/controllers") {
			t.Errorf("ui depends on %s", pkg)
		}
	}
}

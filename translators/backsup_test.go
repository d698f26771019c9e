package translators_test

import (
	"strings"
	"testing"

	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/translators"
)

// TestCatalogTasksBackUp: every backup Task of the built-in catalog has a
// step that backs up, and no restore Task has one (a restore Task named by
// a BackupConfiguration is refused).
func TestCatalogTasksBackUp(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cat.TaskNames() {
		err := translators.NoBackupStep("spec.task.name", cat.Tasks[name], cat.Functions)
		switch {
		case strings.HasSuffix(name, "-backup") && err != nil:
			t.Errorf("catalog Task %s: %v", name, err)
		case strings.HasSuffix(name, "-restore") && err == nil:
			t.Errorf("catalog Task %s: accepted as a backup Task", name)
		case !strings.HasSuffix(name, "-backup") && !strings.HasSuffix(name, "-restore"):
			t.Errorf("catalog Task %s: neither a backup nor a restore Task; say which this test expects", name)
		}
	}
}

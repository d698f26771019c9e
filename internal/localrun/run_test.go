package localrun

import (
	"path/filepath"
	"testing"
)

// TestDefaultWorkDir: runs keep their files in the user's cache directory,
// never in a directory every user of the machine shares.
func TestDefaultWorkDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	if got, want := DefaultWorkDir(), filepath.Join(cache, "stashflow", "run"); got != want {
		t.Errorf("DefaultWorkDir() = %q, want %q", got, want)
	}
}

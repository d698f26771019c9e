package testrepo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// layout writes a repository-shaped directory: two read-only pack files and
// a config file that is not a pack.
func layout(t *testing.T) (dir, first, second string) {
	t.Helper()
	dir = t.TempDir()
	first = filepath.Join(dir, "data", "0a", "0a11")
	second = filepath.Join(dir, "data", "ff", "ff22")
	for _, p := range []string{first, second} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, 100), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("config"), 0o400); err != nil {
		t.Fatal(err)
	}
	return dir, first, second
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestDamage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(testing.TB, string) string
		// sizes of the first and second pack afterwards; -1: gone.
		want [2]int64
	}{
		{"truncate", TruncatePack, [2]int64{10, 100}},
		{"remove", RemovePack, [2]int64{-1, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, first, second := layout(t)
			if got := tc.damage(t, dir); got != first {
				t.Errorf("damaged %s, want the first pack %s", got, first)
			}
			got := [2]int64{size(t, first), size(t, second)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pack sizes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPacks(t *testing.T) {
	dir, first, second := layout(t)
	if diff := cmp.Diff([]string{first, second}, Packs(t, dir)); diff != "" {
		t.Errorf("Packs (-want +got):\n%s", diff)
	}
}

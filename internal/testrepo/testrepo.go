package testrepo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Packs returns the pack files of the restic repository in repoDir (a local
// backend's directory), sorted; it fails the test if there are none.
func Packs(t testing.TB, repoDir string) []string {
	t.Helper()
	packs, err := filepath.Glob(filepath.Join(repoDir, "data", "*", "*"))
	if err != nil {
		t.Fatalf("listing the pack files of %s: %v", repoDir, err)
	}
	if len(packs) == 0 {
		t.Fatalf("the repository %s has no pack files under data/", repoDir)
	}
	slices.Sort(packs)
	return packs
}

// TruncatePack cuts the first pack file of the repository in repoDir to 10
// bytes and returns its path: `restic check` then reports a broken pack
// (with --read-data, or from the pack's size without it).
func TruncatePack(t testing.TB, repoDir string) string {
	t.Helper()
	pack := Packs(t, repoDir)[0]
	// restic writes pack files read-only.
	if err := os.Chmod(pack, 0o600); err != nil {
		t.Fatalf("making the pack %s writable: %v", pack, err)
	}
	if err := os.Truncate(pack, 10); err != nil {
		t.Fatalf("truncating the pack %s: %v", pack, err)
	}
	return pack
}

// RemovePack deletes the first pack file of the repository in repoDir and
// returns its path: `restic check` then reports a pack the index names but
// the backend lacks.
func RemovePack(t testing.TB, repoDir string) string {
	t.Helper()
	pack := Packs(t, repoDir)[0]
	if err := os.Remove(pack); err != nil {
		t.Fatalf("removing the pack %s: %v", pack, err)
	}
	return pack
}

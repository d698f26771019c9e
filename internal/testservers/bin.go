package testservers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/internal/repo"
)

// RepoRoot returns the directory holding go.mod, walking up from the
// working directory.
func RepoRoot() (string, error) {
	return repo.Root()
}

// SetupPATH prepends <repo root>/bin to PATH and checks that the named
// tools are there. Call it from TestMain.
func SetupPATH(tools ...string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	if err := os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return err
	}
	var missing []string
	for _, t := range tools {
		if st, err := os.Stat(filepath.Join(bin, t)); err != nil || st.IsDir() {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s missing from %s: run make tools (or hack/build-tools.sh %s)", strings.Join(missing, ", "), bin, strings.Join(missing, " "))
	}
	return nil
}

// toolPath returns <repo root>/bin/<name>, the pinned build, whatever PATH
// says; a missing binary fails the test with the command that builds it.
func toolPath(t testing.TB, name string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run make test-tools (or hack/build-tools.sh %s)", p, strings.TrimSuffix(name, "-blob"))
	}
	return p
}

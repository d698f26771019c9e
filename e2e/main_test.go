package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stashflow/stashflow/e2e/argoenv"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/internal/testenv"
)

// env is the apiserver, the real Argo workflow-controller and the pod
// runner, shared by the package's tests.
var env *argoenv.Env

// stashflowBin is ./cmd/stashflow built for this run; the pod runner runs
// it for the "stashflow" command of the catalog's Functions.
var stashflowBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "stashflow-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if stashflowBin, err = repo.BuildStashflow(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Steps find restic (and etcd) in <repo>/bin through the runner's PATH.
	_ = os.Setenv("PATH", filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return argoenv.Run(m, argoenv.Options{Commands: map[string]string{"stashflow": stashflowBin}}, func(e *argoenv.Env) error {
		env = e
		return nil
	})
}

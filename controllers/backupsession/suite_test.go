package backupsession_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/fntest"
	"github.com/stashflow/stashflow/internal/testenv"
)

var (
	env *testenv.Env
	c   client.Client
)

// TestMain starts one kube-apiserver for the package, with Argo's Workflow
// CRD (from the module cache) besides stashflow's.
func TestMain(m *testing.M) {
	fntest.Dispatch() // hook and verdict steps run this binary as `stashflow fn`
	os.Exit(run(m))
}

func run(m *testing.M) int {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-workflows/v3").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "locating the Argo module: %v\n", err)
		return 1
	}
	crd := filepath.Join(strings.TrimSpace(string(out)), "manifests", "base", "crds", "minimal", "argoproj.io_workflows.yaml")
	env, err = testenv.Start(testenv.WithCRDPaths(crd))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	if c, err = operatortest.Client(env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

package repository_test

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
// CRD (from the module cache) besides stashflow's, for the tests that run
// the Repository's runs on the Argo engine and play its controller.
func TestMain(m *testing.M) {
	fntest.Dispatch() // before the go list below: steps run this binary as `stashflow fn`
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-workflows/v3").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "locating the Argo module: %v\n", err)
		os.Exit(1)
	}
	crd := filepath.Join(strings.TrimSpace(string(out)), "manifests", "base", "crds", "minimal", "argoproj.io_workflows.yaml")
	operatortest.Main(m, &env, &c, testenv.WithCRDPaths(crd))
}

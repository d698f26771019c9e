package e2e

import (
	"os"
	"testing"

	"github.com/stashflow/stashflow/e2e/argoenv"
)

// env is the apiserver, the real Argo workflow-controller and the pod
// runner, shared by the package's tests.
var env *argoenv.Env

func TestMain(m *testing.M) {
	os.Exit(argoenv.Run(m, argoenv.Options{}, func(e *argoenv.Env) error {
		env = e
		return nil
	}))
}

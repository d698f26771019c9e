package repository_test

import (
	"os"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/testenv"
)

var (
	env *testenv.Env
	c   client.Client
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		var err error
		c, err = operatortest.Client(e)
		return err
	}))
}

package backupblueprint_test

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/internal/testenv"
)

var (
	env *testenv.Env
	c   client.Client
)

func TestMain(m *testing.M) { operatortest.Main(m, &env, &c) }

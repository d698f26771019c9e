package translators_test

import (
	"testing"

	"github.com/stashflow/stashflow/translators"
)

// FuzzTranslate feeds arbitrary strings into the places users write: a
// Function's args, a Task param, a target's name, a hook command and body.
// Translation must never panic, and what it returns must be a valid graph.
// Run it with go test ./translators -run '^$' -fuzz FuzzTranslate -fuzztime 2m.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{"", "${SOURCE_DIR}", "${X:=y}", "$${", "${", "$(steps.a.outputs.b)", "{{ .Name }}", "Ünïcode", "a b", "--flag=${HOSTNAME}"} {
		f.Add(s, s, "etcd", s)
	}
	f.Fuzz(func(t *testing.T, arg, param, target, hook string) {
		in := mustLoad(t, "custom-task.yaml")
		fn := in.objs.Functions["tar-archive"]
		fn.Spec.Args = append(fn.Spec.Args, arg)
		in.objs.Tasks["archive-backup"].Spec.Steps[0].Params[0].Value = param
		checkPlan(t, in)

		b := mustLoad(t, "batch-parallel.yaml")
		batch := batchOf(b)
		batch.Spec.Members[0].Target.Ref.Name = target
		batch.Spec.Members[0].Hooks.PreBackup.Exec.Command = []string{hook}
		batch.Spec.Hooks.PostBackup.HTTPPost.Body = hook
		checkPlan(t, b)
	})
}

func checkPlan(t *testing.T, in *input) {
	t.Helper()
	plan, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		return
	}
	if err := plan.Graph.Validate(); err != nil {
		t.Fatalf("translate returned an invalid graph: %v", err)
	}
}

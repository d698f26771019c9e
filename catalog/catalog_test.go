package catalog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/outputs"
)

func TestCatalogContents(t *testing.T) {
	c, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	wantFunctions := []string{
		"elasticsearch-backup", "elasticsearch-restore", "etcd-backup", "etcd-restore",
		"mariadb-backup", "mariadb-restore", "mysql-backup", "mysql-restore", "postgres-backup", "postgres-restore", "redis-backup", "redis-restore", "repository-check", "retention", "volume-backup", "volume-restore",
	}
	if diff := cmp.Diff(wantFunctions, c.FunctionNames()); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
	wantTasks := map[string][]string{
		"etcd-backup":           {"etcd-backup", "retention"},
		"etcd-restore":          {"etcd-restore"},
		"elasticsearch-backup":  {"elasticsearch-backup", "retention"},
		"elasticsearch-restore": {"elasticsearch-restore"},
		"mariadb-backup":        {"mariadb-backup", "retention"},
		"mariadb-restore":       {"mariadb-restore"},
		"mysql-backup":          {"mysql-backup", "retention"},
		"mysql-restore":         {"mysql-restore"},
		"postgres-backup":       {"postgres-backup", "retention"},
		"postgres-restore":      {"postgres-restore"},
		"redis-backup":          {"redis-backup", "retention"},
		"redis-restore":         {"redis-restore"},
		"volume-backup":         {"volume-backup", "retention"},
		"volume-restore":        {"volume-restore"},
	}
	got := map[string][]string{}
	for name, task := range c.Tasks {
		for _, s := range task.Spec.Steps {
			got[name] = append(got[name], s.Name)
			if c.Functions[s.Name] == nil {
				t.Errorf("task %q: step %q is not a catalog Function", name, s.Name)
			}
		}
	}
	if diff := cmp.Diff(wantTasks, got); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	for name, fn := range c.Functions {
		if fn.Labels["app.kubernetes.io/part-of"] != "stashflow-catalog" {
			t.Errorf("function %q lacks the catalog label", name)
		}
		if len(fn.Spec.Args) < 2 || fn.Spec.Args[0] != "fn" || fn.Spec.Args[1] != name {
			t.Errorf("function %q: args must start with [fn %s], got %v", name, name, fn.Spec.Args)
		}
		for _, o := range fn.Spec.Outputs {
			if !strings.HasPrefix(o.Path, outputs.Dir+"/") {
				t.Errorf("function %q output %q: path %q is not under %s", name, o.Name, o.Path, outputs.Dir)
			}
		}
		for _, e := range fn.Spec.Env {
			if e.Value != "" && (strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "KEY")) {
				t.Errorf("function %q env %s: a credential must come from a secretKeyRef, not a value", name, e.Name)
			}
		}
	}
}

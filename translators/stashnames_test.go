package translators_test

import (
	"strings"
	"testing"

	"github.com/stashflow/stashflow/translators"
)

func TestStashTaskName(t *testing.T) {
	for in, want := range map[string]string{
		"etcd-backup-3.5.0":           "etcd-backup",
		"etcd-restore-3.5.0":          "etcd-restore",
		"elasticsearch-backup-7.3.2":  "elasticsearch-backup",
		"postgres-backup-11.9":        "postgres-backup",
		"postgres-backup-15.1":        "postgres-backup",
		"postgres-restore-15.1":       "postgres-restore",
		"mysql-backup-8.0.21":         "mysql-backup",
		"mariadb-backup-10.5.8":       "mariadb-backup",
		"mariadb-restore-10.5.8":      "mariadb-restore",
		"redis-backup-6.2.5":          "redis-backup",
		"mysql-restore-8.0.21-v2":     "mysql-restore",
		"mongodb-backup-v4.2.3":       "mongodb-backup",
		"pvc-backup":                  "volume-backup",
		"pvc-restore":                 "volume-restore",
		"workload-backup":             "volume-backup",
		"workload-restore":            "volume-restore",
		"etcd-backup":                 "",
		"my-task":                     "",
		"backup-3.5.0":                "",
		"etcd-backup-latest":          "",
		"workload-something":          "",
		"elasticsearch-backup-7.x.2a": "",
	} {
		if got := translators.StashTaskName(in); got != want {
			t.Errorf("StashTaskName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStashTaskNameTranslates: a Stash configuration that names a
// versioned addon Task runs the catalog's Task, with a warning saying so.
func TestStashTaskNameTranslates(t *testing.T) {
	in := mustLoad(t, "etcd-backup-exec-hooks.yaml")
	configOf(in).Spec.Task.Name = "etcd-backup-3.5.0"
	plan, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	want, err := mustLoad(t, "etcd-backup-exec-hooks.yaml").translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Graph.Format() != want.Graph.Format() {
		t.Errorf("etcd-backup-3.5.0 translates differently from etcd-backup:\n%s", plan.Graph.Format())
	}
	if !strings.Contains(strings.Join(plan.Warnings, "\n"), `Stash's Task "etcd-backup-3.5.0" runs stashflow's Task "etcd-backup"`) {
		t.Errorf("warnings = %q, want one naming the mapping", plan.Warnings)
	}
}

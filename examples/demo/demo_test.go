package main

import (
	"bytes"
	"context"
	"github.com/stashflow/stashflow/internal/repo"
	"strings"
	"testing"
)

// TestDemo runs `make demo`'s program with fewer keys, so the README's
// first command cannot rot: real etcd, real restic, the real stashflow.
func TestDemo(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := repo.BuildStashflow(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{keys: 300, root: root, stashflowBin: bin}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"==> 5/5 Start a new etcd from the restored data dir and verify every key",
		"BackupSession etcd-",
		": Succeeded",
		"RestoreSession etcd-restore: Succeeded",
		"/etcd.snapshot",
		"all 280 keys present with identical values, nothing extra",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

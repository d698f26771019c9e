// The acceptance test of `stashflow convert`: Stash's manifests, written as
// Stash's documentation writes them (this directory), are converted by the
// built binary, and what it writes is applied to a real kube-apiserver
// (envtest, stashflow's CRDs) with server-side apply and strict field
// validation; the expected refusals are asserted with their messages, and
// the apiserver is shown to refuse the same objects in the same words. One
// converted example, the etcd backup, is run with `stashflow run` against a
// real etcd and its snapshot read back with restic.
package stash_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/convert"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/internal/testservers"
)

var (
	env       *testenv.Env
	stashflow string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stashflow-convert")
	if err != nil {
		panic(err)
	}
	code := testenv.Run(m, func(e *testenv.Env) error {
		env = e
		_ = os.Setenv("PATH", filepath.Join(e.RepoRoot, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		if stashflow, err = repo.BuildStashflow(dir); err != nil {
			return err
		}
		return e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}})
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the built binary and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(stashflow, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("stashflow %v: %v", args, err)
	return "", "", -1
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func readDocs(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := convert.ReadDocuments(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []*unstructured.Unstructured
	for _, d := range docs {
		out = append(out, &unstructured.Unstructured{Object: d})
	}
	return out
}

// The expected refusals of refusals.yaml, each a line of convert's stderr.
var refusals = []string{
	`BackupConfiguration/statefulset-volume-snapshot: spec.target.replicas: cannot carry: Stash uses it with driver VolumeSnapshotter (CSI VolumeSnapshots), which stashflow does not have`,
	`BackupConfiguration/statefulset-volume-snapshot: spec.driver: cannot carry: driver VolumeSnapshotter (CSI VolumeSnapshots) is not supported: stashflow backs up and restores with restic; remove driver or set it to Restic`,
	`Repository/wiped-repo: spec.wipeOut: cannot carry: Invalid value: "object": wipeOut: true is supported for backend.local, s3, gcs, azure and rest only, not for b2 or swift (stashflow deletes only restic's files of the repository); set wipeOut to false and delete the data of this backend by hand`,
	`Restic/stash-demo: kind: cannot carry: Stash's legacy v1alpha1 Restic (a sidecar backup) has no stashflow counterpart`,
	`RestoreSession/restore-statefulset: spec.target.replicas: cannot carry: Stash makes new claims from target.volumeClaimTemplates (replicas sets of them) and restores into them, with driver Restic (its clone-pvc guide) or VolumeSnapshotter; stashflow restores only into claims and workloads that exist: create the claims (or the StatefulSet, whose own volumeClaimTemplates make them) first and restore into them with target.ref`,
	`RestoreSession/restore-statefulset: spec.target.volumeClaimTemplates: cannot carry: Stash makes new claims from target.volumeClaimTemplates (replicas sets of them) and restores into them, with driver Restic (its clone-pvc guide) or VolumeSnapshotter; stashflow restores only into claims and workloads that exist: create the claims (or the StatefulSet, whose own volumeClaimTemplates make them) first and restore into them with target.ref`,
}

// TestConvertedManifestsApply converts this directory and server-side
// applies every object written, with strict field validation: all are
// accepted. The refusals are the expected ones, with their messages, and
// none of the refused objects is written.
func TestConvertedManifestsApply(t *testing.T) {
	out := t.TempDir()
	_, stderr, code := run(t, "convert", "-f", ".", "-o", out)
	if code != 1 {
		t.Fatalf("exit code %d, want 1 (the refusals)\n%s", code, stderr)
	}
	for _, want := range refusals {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if got := strings.Count(stderr, "cannot carry"); got != 11 {
		t.Errorf("%d lines say cannot carry, want 11 (refusals.yaml only):\n%s", got, stderr)
	}
	const notWritten = "error: 4 object(s) not written: BackupConfiguration/statefulset-volume-snapshot, " +
		"Repository/wiped-repo, Restic/stash-demo, RestoreSession/restore-statefulset\n"
	if !strings.HasSuffix(stderr, notWritten) {
		t.Errorf("stderr does not end with %q:\n%s", notWritten, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
	inputs, _ := filepath.Glob("*.yaml")
	if len(files) != len(inputs)-1 { // refusals.yaml writes nothing
		t.Fatalf("wrote %d files for %d inputs", len(files), len(inputs))
	}
	kinds := map[string]int{}
	for _, f := range files {
		for _, u := range readDocs(t, f) {
			name := u.GetKind() + "/" + u.GetName()
			if strings.Contains(notWritten, name+",") || strings.Contains(notWritten, name+"\n") {
				t.Errorf("%s: refused %s was written", filepath.Base(f), name)
			}
			if strings.Contains(u.GetAPIVersion(), "appscode.com") {
				t.Errorf("%s: %s still has apiVersion %s", filepath.Base(f), name, u.GetAPIVersion())
			}
			err := env.Client.Patch(ctx(t), u, client.Apply, client.FieldOwner("convert-test"), client.ForceOwnership, client.FieldValidation("Strict"))
			if err != nil {
				t.Errorf("%s: apply %s: %v", filepath.Base(f), name, err)
			}
			kinds[u.GetKind()]++
		}
	}
	for _, k := range []string{"Repository", "AppBinding", "BackupConfiguration", "BackupSession", "RestoreSession", "BackupBatch", "RestoreBatch", "BackupBlueprint", "Task", "Function", "Secret", "Deployment", "PersistentVolumeClaim"} {
		if kinds[k] == 0 {
			t.Errorf("no %s applied: %v", k, kinds)
		}
	}
	t.Logf("applied %v", kinds)
}

// TestApiserverRefusesInConvertsWords: the refused objects, with only their
// apiVersion changed, are refused by the apiserver with the message convert
// printed for them.
func TestApiserverRefusesInConvertsWords(t *testing.T) {
	_, stderr, _ := run(t, "convert", "-f", "refusals.yaml")
	for _, u := range readDocs(t, "refusals.yaml") {
		if u.GetKind() == "Restic" {
			continue
		}
		name := u.GetKind() + "/" + u.GetName()
		t.Run(name, func(t *testing.T) {
			u.SetAPIVersion("stashflow.dev/v1alpha1")
			_ = unstructured.SetNestedField(u.Object, "stashflow.dev/v1alpha1", "spec", "target", "ref", "apiVersion")
			err := env.Client.Create(ctx(t), u, client.FieldValidation("Strict"))
			if err == nil {
				_ = env.Client.Delete(context.Background(), u)
				t.Fatal("the apiserver accepted it")
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("err = %v", err)
			}
			found := false
			for _, line := range strings.Split(stderr, "\n") {
				reason, ok := strings.CutPrefix(line, name+": ")
				if !ok {
					continue
				}
				field, msg, _ := strings.Cut(reason, ": cannot carry: ")
				if strings.Contains(err.Error(), msg) || strings.Contains(err.Error(), `unknown field "`+field+`"`) {
					found = true
				}
			}
			if !found {
				t.Errorf("the apiserver's refusal says none of convert's reasons:\napiserver: %v\nconvert:\n%s", err, stderr)
			}
		})
	}
}

// TestConvertedEtcdBackupRuns converts etcd-backup.yaml, points its
// Repository at a directory and its AppBinding at a real etcd, and runs it
// with `stashflow run`: the session succeeds and restic finds its snapshot,
// a readable etcd snapshot file, in the repository.
func TestConvertedEtcdBackupRuns(t *testing.T) {
	etcd := testservers.StartEtcd(t, 1, nil)
	cli := etcd.Client(t)
	for _, k := range []string{"/registry/a", "/registry/b", "/app/config"} {
		if _, err := cli.Put(context.Background(), k, "value of "+k); err != nil {
			t.Fatal(err)
		}
	}
	out, tmp := t.TempDir(), t.TempDir()
	if _, stderr, code := run(t, "convert", "-f", "etcd-backup.yaml", "-o", out); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	repoDir := filepath.Join(tmp, "repo")
	var buf bytes.Buffer
	for _, u := range readDocs(t, filepath.Join(out, "etcd-backup.yaml")) {
		switch u.GetKind() {
		case "Repository":
			_ = unstructured.SetNestedField(u.Object, repoDir, "spec", "backend", "local", "hostPath", "path")
		case "AppBinding":
			_ = unstructured.SetNestedField(u.Object, map[string]any{"url": etcd.Endpoints()[0]}, "spec", "clientConfig")
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	manifests := filepath.Join(tmp, "run.yaml")
	if err := os.WriteFile(manifests, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, "run", "-f", manifests, "--work-dir", filepath.Join(tmp, "work"), "-o", "json", "-q")
	if code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var session struct {
		Status struct {
			Phase   string
			Targets []struct {
				Stats []struct{ Hostname, SnapshotID string }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &session); err != nil || session.Status.Phase != "Succeeded" ||
		len(session.Status.Targets) != 1 || len(session.Status.Targets[0].Stats) != 1 {
		t.Fatalf("session = %+v, %v\n%s", session, err, stdout)
	}
	stats := session.Status.Targets[0].Stats[0]

	restic := func(args ...string) []byte {
		cmd := exec.Command("restic", append([]string{"--no-cache", "-r", repoDir}, args...)...)
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=not@secret")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("restic %v: %v", args, err)
		}
		return b
	}
	var snaps []struct {
		ID, Hostname string
		Paths        []string
	}
	if err := json.Unmarshal(restic("snapshots", "--json"), &snaps); err != nil || len(snaps) != 1 {
		t.Fatalf("restic snapshots = %+v, %v", snaps, err)
	}
	if snaps[0].ID != stats.SnapshotID || snaps[0].Hostname != stats.Hostname || len(snaps[0].Paths) != 1 {
		t.Errorf("restic snapshot %+v, session stats %+v", snaps[0], stats)
	}
	// The file in the snapshot is an etcd snapshot: bbolt's magic number
	// at offset 16 of its first page (0xED0CDAED, little-endian).
	data := restic("dump", snaps[0].ID, snaps[0].Paths[0])
	if len(data) < 4096 || !slices.Equal(data[16:20], []byte{0xed, 0xda, 0x0c, 0xed}) {
		t.Errorf("the snapshot's file (%d bytes) is not an etcd snapshot", len(data))
	}
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/internal/testproc"
	"github.com/stashflow/stashflow/internal/testrepo"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestCheckInCluster runs `stashflow check --in-cluster` against a real
// kube-apiserver with the operator (this binary, local engine, real
// restic) running: a healthy repository exits 0, "no errors found"; after
// a pack file is truncated the next request exits 1 naming ErrorsFound and
// the broken packs.
func TestCheckInCluster(t *testing.T) {
	if err := testservers.SetupPATH("restic"); err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(dir, "repo")
	backup := exec.Command("sh", "-c", "restic init -q && echo data | restic backup -q --no-cache --stdin --stdin-filename data")
	backup.Env = append(os.Environ(), "RESTIC_REPOSITORY="+repoDir, "RESTIC_PASSWORD=pw")
	if out, err := backup.CombinedOutput(); err != nil {
		t.Fatalf("restic: %v: %s", err, out)
	}
	const ns = "check"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns}, StringData: map[string]string{"RESTIC_PASSWORD": "pw"}},
		&v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: ns}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
			StorageSecretName: "repo",
			Local:             &v1alpha1.LocalSpec{MountPath: "/stashflow/repository", HostPath: &corev1.HostPathVolumeSource{Path: repoDir}},
		}}},
	} {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	op := exec.Command(binary, "operator", "--engine=local", "--namespace="+ns, "--metrics-bind-address=0",
		"--health-probe-bind-address=0", "--ui-bind-address=", "--install-catalog=false", "--work-dir="+filepath.Join(dir, "work"))
	op.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	testproc.StartProcess(t, op, filepath.Join(dir, "operator.log"))
	check := func() (string, string, int) {
		return stashflowEnv(context.Background(), t, []string{"KUBECONFIG=" + kubeconfig},
			"check", "-n", ns, "--repository", "repo", "--in-cluster", "--timeout=2m")
	}

	stdout, stderr, code := check()
	if code != 0 || !strings.Contains(stdout, "repository check/repo: no errors found") {
		log, _ := os.ReadFile(filepath.Join(dir, "operator.log"))
		t.Fatalf("healthy: exit %d\nstdout: %s\nstderr: %s\noperator log:\n%s", code, stdout, stderr, log)
	}
	testrepo.TruncatePack(t, repoDir)
	stdout, stderr, code = check()
	if code != exitFailed || !strings.Contains(stderr, "ErrorsFound") || !strings.Contains(stderr, "broken pack(s)") {
		t.Errorf("damaged: exit %d\nstdout: %s\nstderr: %s; want exit 1 naming ErrorsFound and the broken packs", code, stdout, stderr)
	}
}

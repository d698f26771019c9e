package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/testservers"
)

// TestCloudBackendsOnEmulators backs up a PVC with `stashflow run` into
// emulators of Google Cloud Storage and Azure Blob Storage, each reached
// only through a Repository and its storage Secret with Stash's keys:
// fake-gcs-server with GOOGLE_PROJECT_ID and GOOGLE_SERVICE_ACCOUNT_JSON_KEY
// (a service account key whose signed JWT a token endpoint checks before it
// hands out the access token every storage request must carry), and
// Azurite over TLS with AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY.
// `stashflow snapshots -f` then lists the snapshot through the same Secret.
// A key the token endpoint does not know and a wrong account key fail with
// the server's refusal, and nothing is written. No secret value shows in any
// output or in the work directory, and no credential file (the GCS key file)
// is left in the scratch directory.
//
// The environment the emulators need (their endpoints, Azurite's proxy and
// CA, and an access tier restic must name for Azurite) is the test's, given
// to both commands; see testservers.GCSServer and AzureServer.
func TestCloudBackendsOnEmulators(t *testing.T) {
	const resticPass = "restic-pw-e7a310"
	gcs := testservers.StartGCSServer(t)
	az := testservers.StartAzurite(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644); err != nil {
		t.Fatal(err)
	}
	wrongGCSKey := gcs.OtherKeyJSON(t)
	wrongAzureKey := base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
	gcsKeys := func(key string) map[string]string {
		return map[string]string{"GOOGLE_PROJECT_ID": gcs.Project, "GOOGLE_SERVICE_ACCOUNT_JSON_KEY": key}
	}
	azureKeys := func(key string) map[string]string {
		return map[string]string{"AZURE_ACCOUNT_NAME": az.Account, "AZURE_ACCOUNT_KEY": key}
	}
	azureRepoAbsent := func(prefix string) func(t *testing.T) {
		return func(t *testing.T) {
			env := append(az.Env(), "AZURE_ACCOUNT_NAME="+az.Account, "AZURE_ACCOUNT_KEY="+az.Key)
			noRepository(t, "azure:"+az.Container+":/"+prefix, resticPass, env)
		}
	}
	tests := []backendCase{
		{name: "gcs with a service account key", backend: `gcs: {bucket: ` + gcs.Bucket + `, prefix: demo, maxConnections: 3}`,
			keys: gcsKeys(gcs.KeyJSON), env: gcs.Env(), describe: "gcs bucket stashflow-test prefix demo"},
		{name: "gcs with a key google does not know", backend: `gcs: {bucket: ` + gcs.Bucket + `, prefix: wrong-key}`,
			keys: gcsKeys(wrongGCSKey), env: gcs.Env(),
			written: filepath.Join(gcs.DataDir, gcs.Bucket, "wrong-key"), wantErr: []string{"credentials rejected by gs:", "oauth2: cannot fetch token: 400 Bad Request"}},
		{name: "gcs bucket that does not exist", backend: `gcs: {bucket: no-such-bucket, prefix: demo}`,
			keys: gcsKeys(gcs.KeyJSON), env: gcs.Env(),
			written: filepath.Join(gcs.DataDir, "no-such-bucket"), wantErr: []string{"bucket doesn't exist"}},
		{name: "azure with an account key", backend: `azure: {container: ` + az.Container + `, prefix: demo}`,
			keys: azureKeys(az.Key), env: az.Env(), describe: "azure bucket stashflow-test prefix demo"},
		{name: "azure with a wrong account key", backend: `azure: {container: ` + az.Container + `, prefix: wrong-key}`,
			keys: azureKeys(wrongAzureKey), env: az.Env(),
			untouched: azureRepoAbsent("wrong-key"), wantErr: []string{"credentials rejected by azure:", "403 Server failed to authenticate the request"}},
		// A missing container is a missing repository, as a missing S3
		// bucket is: restic's init creates it (as under Stash).
		{name: "azure container that does not exist is created by init", backend: `azure: {container: new-container, prefix: demo}`,
			keys: azureKeys(az.Key), env: az.Env(), describe: "azure bucket new-container prefix demo"},
	}
	secrets := []string{resticPass, az.Key, wrongAzureKey, privateKeyLine(t, gcs.KeyJSON), privateKeyLine(t, wrongGCSKey)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runBackendCase(t, tt, resticPass, secrets, src) })
	}
	// A command that does not initialise fails at once naming the missing
	// container (restic retries it: ContainerNotFound sits on a line after
	// its retry notice), and creates nothing.
	t.Run("snapshots of an azure container that does not exist", func(t *testing.T) {
		file := write(t, "azure.yaml", `apiVersion: v1
kind: Secret
metadata: {name: storage}
stringData:
  RESTIC_PASSWORD: `+resticPass+`
  AZURE_ACCOUNT_NAME: `+az.Account+`
  AZURE_ACCOUNT_KEY: `+az.Key+`
---
apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: repo}
spec:
  backend:
    storageSecretName: storage
    azure: {container: no-such-container, prefix: demo}
`)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		env := append([]string{"TMPDIR=" + t.TempDir(), "STASHFLOW_REPOSITORY_TIMEOUT=30s"}, az.Env()...)
		stdout, stderr, code := stashflowEnv(ctx, t, env, "snapshots", "-f", file)
		out := stdout + stderr
		if code == 0 {
			t.Fatalf("stashflow snapshots of a missing container: exit 0\n%s", out)
		}
		for _, w := range []string{`the Azure container "no-such-container" does not exist`, "ContainerNotFound"} {
			if !strings.Contains(out, w) {
				t.Errorf("the failure does not say %q:\n%s", w, out)
			}
		}
		if strings.Contains(out, "unreachable") {
			t.Errorf("a missing container reported as unreachable:\n%s", out)
		}
		if strings.Contains(out, az.Key) || strings.Contains(out, resticPass) {
			t.Errorf("the output holds a secret value:\n%s", out)
		}
		if az.ContainerExists(t, "no-such-container") {
			t.Error("the container no-such-container was created")
		}
	})
}

// noRepository checks with plain restic and the right credentials that
// there is no repository at location: `restic cat config` exits 10.
func noRepository(t *testing.T, location, password string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "restic", "cat", "config", "--no-cache")
	cmd.Env = append(os.Environ(), append(env, "RESTIC_REPOSITORY="+location, "RESTIC_PASSWORD="+password)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 10 {
		t.Errorf("restic cat config at %s: %v, want exit 10 (no repository): something was written\n%s", location, err, out)
	}
}

// privateKeyLine is a line of the private key in a service account key
// file: a value no output may hold.
func privateKeyLine(t *testing.T, keyJSON string) string {
	t.Helper()
	var key struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal([]byte(keyJSON), &key); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(key.PrivateKey, "\n")
	if len(lines) < 3 {
		t.Fatalf("the key file's private_key is not PEM")
	}
	return lines[1]
}

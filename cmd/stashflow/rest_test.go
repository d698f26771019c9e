package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/stashflow/stashflow/internal/testproc"
)

// TestRestServerWithStashSecretKeys is a Stash user's REST repository: a
// rest-server that wants a user name and password, given in the storage
// Secret under the keys Stash documents (REST_SERVER_USERNAME,
// REST_SERVER_PASSWORD), and a url without credentials. A PVC is backed up
// with `stashflow run`; the snapshot is in the repository. With a wrong
// password the run fails saying the server refused it, and no secret value
// shows in anything the run printed or left in its work directory.
func TestRestServerWithStashSecretKeys(t *testing.T) {
	const (
		user       = "backup-user"
		password   = "rest-pw-7f3a91"
		resticPass = "restic-pw-c4e802"
		wrongPass  = "wrong-pw-55d1e0"
	)
	base := startRestServerWithAuth(t, user, password)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644); err != nil {
		t.Fatal(err)
	}
	manifests := func(restPassword string) string {
		return `apiVersion: v1
kind: Secret
metadata: {name: rest-secret}
stringData:
  RESTIC_PASSWORD: ` + resticPass + `
  REST_SERVER_USERNAME: ` + user + `
  REST_SERVER_PASSWORD: ` + restPassword + `
---
apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: rest-repo}
spec:
  backend:
    storageSecretName: rest-secret
    rest: {url: "` + base + `repo"}
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: pvc-a}
spec:
  repository: {name: rest-repo}
  schedule: "@daily"
  target: {ref: {apiVersion: v1, kind: PersistentVolumeClaim, name: pvc-a}}
`
	}
	secrets := []string{password, resticPass, wrongPass}
	noSecrets := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret value %q:\n%s", what, s, text)
			}
		}
	}
	noSecretsInDir := func(t *testing.T, dir string) {
		t.Helper()
		for name, body := range files(t, dir) {
			noSecrets(t, "work directory file "+name, body)
		}
	}

	t.Run("backup", func(t *testing.T) {
		work := t.TempDir()
		file := write(t, "rest.yaml", manifests(password))
		stdout, stderr, code := stashflow(context.Background(), t, "run", "--work-dir", work, "-f", file, "--volume", "target-0="+src)
		if code != 0 {
			t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "phase: Succeeded") {
			t.Errorf("stdout lacks phase: Succeeded:\n%s", stdout)
		}
		noSecrets(t, "stdout", stdout)
		noSecrets(t, "stderr", stderr)
		noSecretsInDir(t, work)

		// The snapshot is in the repository, read with restic's own
		// variables for the credentials.
		cmd := exec.Command("restic", "snapshots", "--json", "--no-cache")
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY=rest:"+base+"repo", "RESTIC_PASSWORD="+resticPass,
			"RESTIC_REST_USERNAME="+user, "RESTIC_REST_PASSWORD="+password)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("restic snapshots: %v\n%s", err, out)
		}
		var snaps []struct {
			ID       string   `json:"short_id"`
			Hostname string   `json:"hostname"`
			Paths    []string `json:"paths"`
		}
		if err := json.Unmarshal(out, &snaps); err != nil {
			t.Fatalf("restic snapshots: %v\n%s", err, out)
		}
		if len(snaps) != 1 || snaps[0].Hostname != "pvc-a" {
			t.Fatalf("snapshots %+v, want one of host pvc-a", snaps)
		}
		if !strings.Contains(stdout, snaps[0].ID) {
			t.Errorf("the session's status does not name snapshot %s:\n%s", snaps[0].ID, stdout)
		}

		// `stashflow snapshots` reads the same Secret keys as the steps.
		listed, lerr, lcode := stashflow(context.Background(), t, "snapshots", "-f", file)
		if lcode != 0 || !strings.Contains(listed, snaps[0].ID) {
			t.Errorf("stashflow snapshots: exit %d, want snapshot %s listed\n%s\n%s", lcode, snaps[0].ID, listed, lerr)
		}
		noSecrets(t, "stashflow snapshots", listed+lerr)
	})

	t.Run("wrong password", func(t *testing.T) {
		work := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		stdout, stderr, code := stashflow(ctx, t, "run", "--work-dir", work, "-f", write(t, "wrong.yaml", manifests(wrongPass)), "--volume", "target-0="+src)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
		}
		if !strings.Contains(stdout, "phase: Failed") {
			t.Errorf("stdout lacks phase: Failed:\n%s", stdout)
		}
		// The refusal is classified (restic.KindAccessDenied: "credentials
		// rejected by …") and says what the server answered.
		for _, w := range []string{"credentials rejected by rest:", "401 Unauthorized"} {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("the failure does not say %q:\n%s\n%s", w, stdout, stderr)
			}
		}
		noSecrets(t, "stdout", stdout)
		noSecrets(t, "stderr", stderr)
		noSecretsInDir(t, work)
	})
}

// startRestServerWithAuth starts restic's rest-server on a free loopback
// port with basic authentication: one user, in an htpasswd file with a
// bcrypt hash (as `htpasswd -B` writes). It returns the server's base URL
// (http://127.0.0.1:PORT/), without credentials.
//
// internal/testservers has the unauthenticated starters; this
// package cannot import it (internal to functions/).
func startRestServerWithAuth(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, ".htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := testproc.StartRestServer(t, filepath.Join(dir, "data"), "--htpasswd-file", htpasswd)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("rest-server with --htpasswd-file answered %s to a request without credentials, want 401", resp.Status)
	}
	return "http://" + addr + "/"
}

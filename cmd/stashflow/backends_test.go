package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/stashflow/stashflow/internal/testservers"
)

// TestBackendsThroughRepositoryObjects backs up a PVC with `stashflow run`
// into real servers, each reached only through a Repository and its storage
// Secret with Stash's keys: MinIO over HTTP, MinIO over TLS with the CA in
// CA_CERT_DATA (and with insecureTLS instead), rest-server with htpasswd
// auth over TLS with the CA in CA_CERT_DATA. `stashflow snapshots -f` then
// lists the snapshot through the same Secret. A wrong CA, a wrong S3 key and
// a CA_CERT_DATA that is no certificate fail with a clear message, and
// nothing is written to the bucket. No secret value shows in any output or
// in the work directory, and no credential file is left in the scratch
// directory.
func TestBackendsThroughRepositoryObjects(t *testing.T) {
	const (
		resticPass = "restic-pw-9b1c77"
		restUser   = "backup-user"
		restPass   = "rest-pw-31aa0c"
		wrongKey   = "wrong-s3-key-42ef19"
	)
	tl := testservers.NewTLS(t)
	otherCA := testservers.NewTLS(t).CA
	plain := testservers.StartS3Server(t)
	secure := testservers.StartS3ServerTLS(t, tl)
	hash, err := bcrypt.GenerateFromPassword([]byte(restPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), ".htpasswd")
	if err := os.WriteFile(htpasswd, []byte(restUser+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	restURL := testservers.StartRestServerTLS(t, tl, "--htpasswd-file", htpasswd)

	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o644); err != nil {
		t.Fatal(err)
	}
	s3Backend := func(s *testservers.S3Server, prefix, extra string) string {
		return `s3: {endpoint: "` + s.Endpoint + `", bucket: ` + s.Bucket + `, prefix: ` + prefix + `, region: us-east-1` + extra + `}`
	}
	s3Keys := func(s *testservers.S3Server, secretKey string) map[string]string {
		return map[string]string{"AWS_ACCESS_KEY_ID": s.AccessKey, "AWS_SECRET_ACCESS_KEY": secretKey}
	}
	with := func(m map[string]string, k, v string) map[string]string {
		m[k] = v
		return m
	}
	tests := []backendCase{
		{name: "s3 over http", backend: s3Backend(plain, "plain", ""), keys: s3Keys(plain, plain.SecretKey),
			describe: "s3 bucket stashflow-test prefix plain (endpoint " + plain.Endpoint + ", region us-east-1)"},
		{name: "s3 over tls with CA_CERT_DATA", backend: s3Backend(secure, "tls", ""), keys: with(s3Keys(secure, secure.SecretKey), "CA_CERT_DATA", tl.CA),
			describe: "s3 bucket stashflow-test prefix tls (endpoint " + secure.Endpoint + ", region us-east-1)"},
		{name: "s3 over tls with insecureTLS", backend: s3Backend(secure, "insecure", ", insecureTLS: true"), keys: s3Keys(secure, secure.SecretKey),
			describe: "s3 bucket stashflow-test prefix insecure (endpoint " + secure.Endpoint + ", region us-east-1)"},
		{name: "rest over tls with auth and CA_CERT_DATA", backend: `rest: {url: "` + restURL + `repo"}`,
			keys:     map[string]string{"REST_SERVER_USERNAME": restUser, "REST_SERVER_PASSWORD": restPass, "CA_CERT_DATA": tl.CA},
			describe: "rest (endpoint " + restURL + "repo)"},
		{name: "s3 with a wrong CA", backend: s3Backend(secure, "wrong-ca", ""), keys: with(s3Keys(secure, secure.SecretKey), "CA_CERT_DATA", otherCA),
			written: filepath.Join(secure.DataDir, secure.Bucket, "wrong-ca"), wantErr: []string{"certificate signed by unknown authority", "CA_CERT_DATA"}},
		{name: "s3 with a wrong key", backend: s3Backend(plain, "wrong-key", ""), keys: s3Keys(plain, wrongKey),
			written: filepath.Join(plain.DataDir, plain.Bucket, "wrong-key"), wantErr: []string{"credentials rejected by s3:", "signature"}},
		{name: "s3 with a CA_CERT_DATA that is no certificate", backend: s3Backend(secure, "not-pem", ""), keys: with(s3Keys(secure, secure.SecretKey), "CA_CERT_DATA", "not a certificate"),
			written: filepath.Join(secure.DataDir, secure.Bucket, "not-pem"), wantErr: []string{"CA_CERT_DATA of the storage Secret is not a PEM certificate"}},
	}
	secrets := []string{resticPass, restPass, wrongKey, plain.SecretKey, secure.SecretKey}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runBackendCase(t, tt, resticPass, secrets, src) })
	}
}

// backendCase is one Repository backend, backed up to with `stashflow run
// -f` and listed with `stashflow snapshots -f`.
type backendCase struct {
	name    string
	backend string
	keys    map[string]string
	// env is added to the environment of both commands: what an emulator
	// needs that a real cloud would not (never a Repository field).
	env []string
	// written is the directory that must stay absent when the run fails;
	// untouched, when set, checks so in another way.
	written   string
	untouched func(t *testing.T)
	wantErr   []string // all in the output; nil: success
	// describe is the backend as `stashflow snapshots` shows it.
	describe string
}

// runBackendCase runs tt with a Secret holding resticPass and tt.keys:
// success is phase Succeeded and one snapshot of host pvc-a listed;
// failure is exit 1, phase Failed, every wantErr in the output and nothing
// written. No value of secrets shows in the output or the work directory,
// and no credential file is left in the scratch directory.
func runBackendCase(t *testing.T, tt backendCase, resticPass string, secrets []string, src string) {
	var secret strings.Builder
	for k, v := range tt.keys {
		secret.WriteString("  " + k + ": |-\n    " + strings.ReplaceAll(v, "\n", "\n    ") + "\n")
	}
	file := write(t, "backend.yaml", `apiVersion: v1
kind: Secret
metadata: {name: storage}
stringData:
  RESTIC_PASSWORD: `+resticPass+`
`+secret.String()+`---
apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: repo}
spec:
  backend:
    storageSecretName: storage
    `+tt.backend+`
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: pvc-a}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: v1, kind: PersistentVolumeClaim, name: pvc-a}}
`)
	work, scratch := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := append([]string{"TMPDIR=" + scratch, "STASHFLOW_REPOSITORY_TIMEOUT=5s"}, tt.env...)
	stdout, stderr, code := stashflowEnv(ctx, t, env, "run", "--work-dir", work, "-f", file, "--volume", "target-0="+src)
	out := stdout + stderr
	noSecretsLeft(t, secrets, out, work, scratch)
	if tt.wantErr != nil {
		if code != 1 || !strings.Contains(stdout, "phase: Failed") {
			t.Fatalf("exit %d, want 1 and phase: Failed\n%s", code, out)
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(out, w) {
				t.Errorf("the failure does not say %q:\n%s", w, out)
			}
		}
		if tt.written != "" {
			if _, err := os.Stat(tt.written); !os.IsNotExist(err) {
				t.Errorf("%s was written (stat: %v)", tt.written, err)
			}
		}
		if tt.untouched != nil {
			tt.untouched(t)
		}
		return
	}
	if code != 0 || !strings.Contains(stdout, "phase: Succeeded") {
		t.Fatalf("exit %d, want phase: Succeeded\n%s", code, out)
	}
	listed, lerr, lcode := stashflowEnv(ctx, t, env, "snapshots", "-f", file, "-o", "json")
	if lcode != 0 {
		t.Fatalf("stashflow snapshots: exit %d\n%s", lcode, lerr)
	}
	if rows := snapshotList(t, listed); len(rows) != 1 || rows[0].Spec.Hostname != "pvc-a" {
		t.Fatalf("stashflow snapshots: want one snapshot of host pvc-a\n%s", listed)
	}
	table, lerr, lcode := stashflowEnv(ctx, t, env, "snapshots", "-f", file)
	if want := "Repository default/repo: " + tt.describe + "\n"; lcode != 0 || !strings.HasPrefix(table, want) {
		t.Errorf("stashflow snapshots: exit %d, want the table to start with %q\n%s\n%s", lcode, want, table, lerr)
	}
	noSecretsLeft(t, secrets, table+lerr, work, scratch)
}

// noSecretsLeft checks that no value of secrets is in out or in a file of
// work, and that no credential file is left in scratch.
func noSecretsLeft(t *testing.T, secrets []string, out, work, scratch string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the output holds the secret value %q:\n%s", s, out)
		}
	}
	for name, body := range files(t, work) {
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("work directory file %s holds the secret value %q", name, s)
			}
		}
	}
	left, _ := filepath.Glob(filepath.Join(scratch, "*", "stashflow-credentials-*"))
	top, _ := filepath.Glob(filepath.Join(scratch, "stashflow-credentials-*"))
	if left = append(left, top...); len(left) > 0 {
		t.Errorf("credential files left behind: %v", left)
	}
}

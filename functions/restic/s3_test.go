package restic

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/testservers"
)

// s3Client returns a client for an S3 repository environment (from
// testservers.S3Server.S3Repo) plus extra variables, which win.
func s3Client(t *testing.T, repoEnv []string, extra ...string) *Client {
	t.Helper()
	loc, _ := strings.CutPrefix(repoEnv[0], "RESTIC_REPOSITORY=")
	return newClient(t, loc, append(repoEnv[1:], extra...)...)
}

// TestS3Repository runs the client against restic's S3 backend on a real
// S3 server (MinIO), in two repositories of one bucket: init, backup from
// a stream, snapshots, dump, restore, locks (a live holder blocks forget,
// its stale lock is removed), forget with prune, check.
func TestS3Repository(t *testing.T) {
	srv := testservers.StartS3Server(t)
	for _, tc := range []struct {
		name, location string
	}{
		{"prefix", "repo-a"},
		{"nested prefix", "nested/repo-b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for restic's key derivation
			c := s3Client(t, srv.S3Repo(tc.location))
			created, err := c.EnsureRepository(ctx(t))
			if err != nil || !created {
				t.Fatalf("EnsureRepository = %v, %v; want a new repository", created, err)
			}
			if created, err := c.EnsureRepository(ctx(t)); err != nil || created {
				t.Fatalf("second EnsureRepository = %v, %v", created, err)
			}
			data := make([]byte, 2<<20)
			_, _ = rand.Read(data)
			s1 := backup(t, c, data, "target=a", "n=1")
			s2 := backup(t, c, data[:1<<20], "target=a", "n=2")
			s3 := backup(t, c, []byte("other"), "target=b")
			if s1.TotalBytesProcessed != 2<<20 || s1.TotalFilesProcessed != 1 || s1.DataAddedPacked == 0 {
				t.Errorf("summary %+v", s1)
			}

			snaps, err := c.Snapshots(ctx(t), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			type snap struct{ ID, Host, N, Target string }
			var got []snap
			for _, s := range snaps {
				got = append(got, snap{s.ID, s.Hostname, s.Tag("n"), s.Tag("target")})
			}
			want := []snap{{s1.SnapshotID, "h", "1", "a"}, {s2.SnapshotID, "h", "2", "a"}, {s3.SnapshotID, "h", "", "b"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("snapshots (-want +got):\n%s", diff)
			}

			for _, d := range []struct {
				id   string
				want []byte
			}{{s1.SnapshotID, data}, {s2.SnapshotID, data[:1<<20]}, {s3.SnapshotID, []byte("other")}} {
				var dumped bytes.Buffer
				if err := c.Dump(ctx(t), d.id, "/f", &dumped); err != nil || !bytes.Equal(dumped.Bytes(), d.want) {
					t.Errorf("Dump(%s): %v (got %d bytes, want %d)", d.id[:8], err, dumped.Len(), len(d.want))
				}
			}

			target := t.TempDir()
			if _, err := c.Restore(ctx(t), RestoreOptions{SnapshotID: s3.SnapshotID, Target: target}); err != nil {
				t.Errorf("Restore: %v", err)
			} else if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "other" {
				t.Errorf("restored file: %q, %v", b, err)
			}

			if locks, err := c.Locks(ctx(t)); err != nil || len(locks) != 0 {
				t.Errorf("Locks = %v, %v; want none", locks, err)
			}
			// A live lock holder blocks forget; once it is killed its lock
			// is stale and forget removes it.
			holder, stop := startHolder(t, c)
			_, err = c.Forget(ctx(t), ForgetOptions{KeepLast: 1})
			if want := fmt.Sprintf("repository is locked by PID %d", holder.Process.Pid); !IsKind(err, KindLocked) || !strings.Contains(err.Error(), want) {
				t.Errorf("Forget with a live lock: err = %v, want a lock error containing %q", err, want)
			}
			stop()

			res, err := c.Forget(ctx(t), ForgetOptions{KeepLast: 1, Filter: Filter{Tags: []string{"target=a"}}, Prune: true})
			if err == nil {
				if locks, lerr := c.Locks(ctx(t)); lerr != nil || len(locks) != 0 {
					t.Errorf("Locks after forget = %v, %v; want none", locks, lerr)
				}
			}
			if err != nil {
				t.Fatalf("Forget: %v", err)
			}
			var removed []string
			for _, g := range res.Groups {
				for _, s := range g.Remove {
					removed = append(removed, s.ID)
				}
			}
			if diff := cmp.Diff([]string{s1.SnapshotID}, removed); diff != "" || res.Kept != 1 {
				t.Errorf("Forget kept %d, removed (-want +got):\n%s", res.Kept, diff)
			}
			snaps, err = c.Snapshots(ctx(t), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range snaps {
				ids = append(ids, s.ID)
			}
			if diff := cmp.Diff([]string{s2.SnapshotID, s3.SnapshotID}, ids); diff != "" {
				t.Errorf("snapshots after forget (-want +got):\n%s", diff)
			}
			chk, err := c.Check(ctx(t), CheckOptions{ReadDataSubset: "100%"})
			if err != nil || chk.NumErrors != 0 {
				t.Errorf("Check = %+v, %v", chk, err)
			}
		})
	}
}

// TestS3Errors: credentials the S3 server rejects give a one-line error of
// kind KindAccessDenied at once (restic would retry them for minutes) that
// names the problem and contains no secret key; a bucket that does not
// exist is created, as `restic init` does, rather than retried.
func TestS3Errors(t *testing.T) {
	srv := testservers.StartS3Server(t)
	good := srv.S3Repo("creds/repo")
	if _, err := s3Client(t, good).EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	const badSecret = "wrong-secret-0123456789abcdef"
	for _, tc := range []struct {
		name  string
		extra []string
		want  string // in the message
	}{
		{"wrong secret key", []string{"AWS_SECRET_ACCESS_KEY=" + badSecret}, "The request signature we calculated does not match"},
		{"unknown access key", []string{"AWS_ACCESS_KEY_ID=nobody", "AWS_SECRET_ACCESS_KEY=" + badSecret}, "The Access Key Id you provided does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A long open timeout: the error must come from the
			// server's answer, not from giving up.
			c := s3Client(t, good, append(tc.extra, EnvOpenTimeout+"=5m")...)
			_, err := c.EnsureRepository(ctx(t))
			if !IsKind(err, KindAccessDenied) {
				t.Fatalf("EnsureRepository: %v, want a KindAccessDenied error", err)
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, secret := range []string{badSecret, srv.SecretKey} {
				if strings.Contains(msg, secret) {
					t.Errorf("error contains a secret key: %q", msg)
				}
			}
			for _, w := range []string{"credentials rejected", tc.want} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}

	t.Run("missing bucket", func(t *testing.T) {
		t.Parallel()
		env := append([]string{"RESTIC_REPOSITORY=s3:" + srv.Endpoint + "/new-bucket/repo"}, good[1:]...)
		c := s3Client(t, env, EnvOpenTimeout+"=5m")
		created, err := c.EnsureRepository(ctx(t))
		if err != nil || !created {
			t.Fatalf("EnsureRepository = %v, %v; want the bucket and the repository created", created, err)
		}
		if _, err := c.Snapshots(ctx(t), Filter{}); err != nil {
			t.Errorf("snapshots of the new repository: %v", err)
		}
	})
}

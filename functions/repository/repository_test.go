package repository

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/testrepo"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

func TestMain(m *testing.M) {
	if err := testservers.SetupPATH("restic"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func run(t *testing.T, fn step.Function, env *step.Env, args ...string) (step.Outputs, error) {
	t.Helper()
	return fntest.Run(t, fn, env, args...)
}

// newRepository is a new restic repository in a temporary directory, and
// the step environment and client that reach it.
func newRepository(t *testing.T) (*step.Env, *restic.Client) {
	t.Helper()
	env := step.NewEnv(nil)
	env.Environ = append(env.Environ, "RESTIC_REPOSITORY="+filepath.Join(t.TempDir(), "repo"), "RESTIC_PASSWORD=pw")
	c, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureRepository(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env, c
}

// backupTagged writes snapshot i, a small stream, with tags.
func backupTagged(t *testing.T, c *restic.Client, i int, tags ...string) {
	t.Helper()
	ctx := context.Background()
	b, err := c.BackupStdin(ctx, restic.BackupOptions{Filename: "f", Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(b, "snapshot %d", i)
	if _, err := b.Finish(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionAndCheck(t *testing.T) {
	env, c := newRepository(t)
	ctx := context.Background()
	for i, target := range []string{"a", "a", "a", "b"} {
		backupTagged(t, c, i, "target="+target)
	}

	tests := []struct {
		name string
		args []string
		want step.Outputs
		left int
	}{
		{"dry run", []string{"--keep-last", "1", "--tags", "target=a", "--dry-run", "--stats=false"}, step.Outputs{outputs.Kept: "1", outputs.Removed: "2"}, 4},
		{"forget and prune", []string{"--keep-last", "1", "--tags", "target=a", "--prune"}, step.Outputs{outputs.Kept: "1", outputs.Removed: "2", outputs.SnapshotCount: "2"}, 2},
		{"nothing to do", []string{"--keep-last", "5"}, step.Outputs{outputs.Kept: "2", outputs.Removed: "0", outputs.SnapshotCount: "2"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, NewRetention(), env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			// The size is the repository's: compare it with restic's own.
			if size, ok := out[outputs.TotalSize]; ok {
				st, err := c.Stats(ctx, "raw-data")
				if err != nil {
					t.Fatal(err)
				}
				if want := strconv.FormatUint(st.TotalSize, 10); size != want || st.TotalSize == 0 {
					t.Errorf("totalSize = %s, want restic's %s (> 0)", size, want)
				}
				delete(out, outputs.TotalSize)
			}
			var kept []outputs.KeptSnapshot
			var forgotten []string
			if err := json.Unmarshal([]byte(out[outputs.KeptSnapshots]), &kept); err != nil {
				t.Errorf("keptSnapshots %q: %v", out[outputs.KeptSnapshots], err)
			}
			if err := json.Unmarshal([]byte(out[outputs.ForgottenSnapshots]), &forgotten); err != nil {
				t.Errorf("forgottenSnapshots %q: %v", out[outputs.ForgottenSnapshots], err)
			}
			delete(out, outputs.KeptSnapshots)
			delete(out, outputs.ForgottenSnapshots)
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			snaps, err := c.Snapshots(ctx, restic.Filter{})
			if err != nil || len(snaps) != tt.left {
				t.Errorf("%d snapshots left (%v), want %d", len(snaps), err, tt.left)
			}
			// The lists name what restic kept and removed: every kept one is
			// still there, with its host; a dry run forgets nothing.
			left := map[string]bool{}
			for _, sn := range snaps {
				left[sn.ID] = true
			}
			if strconv.Itoa(len(kept)) != tt.want[outputs.Kept] {
				t.Errorf("keptSnapshots has %d entries, want %s", len(kept), tt.want[outputs.Kept])
			}
			for _, k := range kept {
				if !left[k.ID] || k.Hostname == "" || k.Time.IsZero() || k.Size == nil {
					t.Errorf("kept snapshot %+v: not in the repository, or without host, time or size", k)
				}
			}
			wantForgotten := tt.want[outputs.Removed]
			if slices.Contains(tt.args, "--dry-run") {
				wantForgotten = "0"
			}
			if strconv.Itoa(len(forgotten)) != wantForgotten {
				t.Errorf("forgottenSnapshots %v, want %s ids", forgotten, wantForgotten)
			}
			for _, id := range forgotten {
				if left[id] {
					t.Errorf("forgotten snapshot %s is still in the repository", id)
				}
			}
		})
	}

	out, err := run(t, NewCheck(), env, "--read-data")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(step.Outputs{outputs.Integrity: "true", outputs.Errors: "0", outputs.BrokenPacks: "0"}, out); diff != "" {
		t.Errorf("check outputs (-want +got):\n%s", diff)
	}

	// Damage a pack file: check reports it.
	testrepo.TruncatePack(t, env.Getenv("RESTIC_REPOSITORY"))
	out, err = run(t, NewCheck(), env, "--read-data")
	if !restic.IsKind(err, restic.KindCheckFailed) || out[outputs.Errors] == "0" || out[outputs.Integrity] != "false" {
		t.Errorf("check of a damaged repository: outputs %v, err %v", out, err)
	}
	// As the Repository controller runs it: the step succeeds and reports.
	out, err = run(t, NewCheck(), env, "--read-data", "--create=false", "--fail-on-errors=false")
	if err != nil || out[outputs.Errors] == "0" || out[outputs.Integrity] != "false" {
		t.Errorf("check of a damaged repository with --fail-on-errors=false: outputs %v, err %v", out, err)
	}
	// --create=false never initialises a missing repository.
	missing := step.NewEnv(nil)
	missing.Environ = append(missing.Environ, "RESTIC_REPOSITORY="+filepath.Join(t.TempDir(), "none"), "RESTIC_PASSWORD=pw")
	if _, err := run(t, NewCheck(), missing, "--create=false"); !restic.IsKind(err, restic.KindNoRepository) {
		t.Errorf("check of a missing repository with --create=false: err %v, want no repository", err)
	}
	if _, err := os.Stat(missing.Getenv("RESTIC_REPOSITORY")); !os.IsNotExist(err) {
		t.Errorf("check with --create=false created %s (%v)", missing.Getenv("RESTIC_REPOSITORY"), err)
	}
}

// TestInit: repository-init with --create=false reports a missing
// repository and creates nothing; then it creates it once; a second run
// finds it and creates nothing, and reports what it holds; a wrong password
// fails naming it.
func TestInit(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "repo")
	env := step.NewEnv(nil)
	env.Environ = append(env.Environ, "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD=pw")
	out, err := run(t, NewInit(), env, "--create=false")
	if diff := cmp.Diff(step.Outputs{OutputCreated: "false", outputs.RepositoryExists: "false", outputs.ForgottenIDs: "[]"}, out); err != nil || diff != "" {
		t.Errorf("--create=false on a missing repository: err %v, outputs (-want +got):\n%s", err, diff)
	}
	if _, err := os.Stat(loc); !os.IsNotExist(err) {
		t.Errorf("--create=false created something at %s: %v", loc, err)
	}
	for i, want := range []string{"true", "false"} {
		out, err := run(t, NewInit(), env)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if i == 1 {
			cmd := exec.Command("sh", "-c", "echo data | restic backup --stdin -q --no-cache")
			cmd.Env = env.Environ
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
		}
		wantOut := step.Outputs{OutputCreated: want, outputs.RepositoryExists: "true", outputs.SnapshotCount: "0", outputs.TotalSize: "0",
			outputs.Snapshots: `{"complete":true,"items":[]}`, outputs.ForgottenIDs: "[]"}
		if diff := cmp.Diff(wantOut, out); diff != "" {
			t.Errorf("run %d outputs (-want +got):\n%s", i, diff)
		}
	}
	out, err = run(t, NewInit(), env, "--create=false")
	if err != nil || out[outputs.SnapshotCount] != "1" || out[outputs.TotalSize] == "0" || out[outputs.FirstSnapshotTime] == "" ||
		out[outputs.FirstSnapshotTime] != out[outputs.LastSnapshotTime] {
		t.Errorf("after a backup: outputs %v, err %v; want one snapshot, its size and time", out, err)
	}
	if _, err := os.Stat(filepath.Join(loc, "config")); err != nil {
		t.Errorf("no repository config: %v", err)
	}
	wrong := step.NewEnv(nil)
	wrong.Environ = append(wrong.Environ, "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD=other")
	if _, err := run(t, NewInit(), wrong); err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("with a wrong password: %v, want an error naming the wrong password", err)
	}
}

// TestForgetAndList: repository-init --forget forgets (and prunes) the
// snapshots it names that the repository holds, reports every named id the
// repository no longer holds, and lists what is left, newest first, with
// restic's record of each (host, paths, tags, tree, user, uid, gid, size).
// A list over its byte bound keeps the newest and says since when it is
// complete.
func TestForgetAndList(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "repo")
	env := step.NewEnv(nil)
	env.Environ = append(env.Environ, "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD=pw")
	var ids []string
	for i := range 3 {
		cmd := exec.Command("sh", "-c", fmt.Sprintf("[ -e %[1]s/config ] || restic init -q; echo data-%[2]d | restic backup --stdin --stdin-filename f%[2]d --host h%[2]d --tag t=%[2]d -q --no-cache --json", loc, i))
		cmd.Env = env.Environ
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		var sum struct {
			SnapshotID string `json:"snapshot_id"`
		}
		if err := json.Unmarshal(b[bytes.LastIndexByte(b[:len(b)-1], '\n')+1:], &sum); err != nil || sum.SnapshotID == "" {
			t.Fatalf("restic backup said %s: %v", b, err)
		}
		ids = append(ids, sum.SnapshotID)
	}
	const absent = "deadbeefdeadbeef"
	out, err := run(t, NewInit(), env, "--create=false", "--forget", ids[0][:12]+","+absent)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`["`+ids[0][:12]+`","`+absent+`"]`, out[outputs.ForgottenIDs]); diff != "" {
		t.Errorf("forgottenIDs (-want +got):\n%s", diff)
	}
	var list outputs.SnapshotList
	if err := json.Unmarshal([]byte(out[outputs.Snapshots]), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range list.Items {
		got = append(got, r.ID)
		if r.Hostname == "" || len(r.Paths) != 1 || len(r.Tags) != 1 || len(r.Tree) != 64 || r.Username == "" || r.UID == nil || r.GID == nil || r.Size == nil || r.Time.IsZero() {
			t.Errorf("record %+v lacks one of restic's fields", r)
		}
	}
	if diff := cmp.Diff([]string{ids[2], ids[1]}, got); diff != "" || !list.Complete || out[outputs.SnapshotCount] != "2" {
		t.Errorf("listed ids (-want +got):\n%s\ncomplete %v, snapshotCount %s", diff, list.Complete, out[outputs.SnapshotCount])
	}

	c, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := c.Snapshots(context.Background(), restic.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	one, _ := json.Marshal(SnapshotList(snaps[1:], 1<<20).Items[0])
	bounded := SnapshotList(snaps, len(one)+100)
	if bounded.Complete || len(bounded.Items) != 1 || bounded.Items[0].ID != ids[2] || bounded.Since == nil ||
		bounded.Covers(snaps[0].Time) || !bounded.Covers(snaps[1].Time.Add(time.Second)) {
		t.Errorf("bounded list %+v: want only the newest, incomplete, covering only what is newer than it", bounded)
	}
}

// TestWipe: repository-wipe removes a local repository's files and keeps
// other files beside them; it refuses a repository its password does not
// open and a backend that is not local; a missing repository is wiped.
func TestWipe(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "repo")
	env := step.NewEnv(nil)
	env.Environ = append(env.Environ, "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD=pw")
	if _, err := run(t, NewInit(), env); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(loc, "README"), []byte("not restic's"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := step.NewEnv(nil)
	wrong.Environ = append(wrong.Environ, "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD=other")
	if _, err := run(t, NewWipe(nil), wrong); err == nil {
		t.Error("wiped with a wrong password")
	}
	if _, err := run(t, NewWipe(nil), env); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(loc)
	if len(entries) != 1 || entries[0].Name() != "README" {
		t.Errorf("left %v, want only README", entries)
	}
	if _, err := run(t, NewWipe(nil), env); err != nil {
		t.Errorf("wiping a wiped repository: %v", err)
	}
	s3 := step.NewEnv(nil)
	s3.Environ = append(s3.Environ, "RESTIC_REPOSITORY=s3:http://127.0.0.1:1/b", "RESTIC_PASSWORD=pw")
	if _, err := run(t, NewWipe(nil), s3); err == nil || !strings.Contains(err.Error(), "not a local repository; this build wipes only local repositories") {
		t.Errorf("wiping an s3 repository: %v, want refused", err)
	}
}

// TestRetentionKeepTags: each --keep-tags item is one restic --keep-tag
// rule; an item quoted as CSV keeps its comma and so keeps only the
// snapshots with all of its tags (as the translators pass a keepTags entry
// "a,b", and Stash passes it to restic).
func TestRetentionKeepTags(t *testing.T) {
	env, c := newRepository(t)
	for i, tags := range [][]string{{"x"}, {"x", "y"}, {"y"}, {"z"}} {
		backupTagged(t, c, i, tags...)
	}
	for _, tt := range []struct {
		name, keepTags string
		want           step.Outputs
	}{
		{"two rules", "x,y", step.Outputs{outputs.Kept: "3", outputs.Removed: "1"}},
		{"one rule of two tags", `"x,y"`, step.Outputs{outputs.Kept: "1", outputs.Removed: "3"}},
		{"a rule of two tags and one of one", `"x,y",z`, step.Outputs{outputs.Kept: "2", outputs.Removed: "2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, NewRetention(), env, "--keep-tags="+tt.keepTags, "--dry-run", "--stats=false")
			if err != nil {
				t.Fatal(err)
			}
			got := step.Outputs{outputs.Kept: out[outputs.Kept], outputs.Removed: out[outputs.Removed]}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("--keep-tags=%s (-want +got):\n%s", tt.keepTags, diff)
			}
		})
	}
}

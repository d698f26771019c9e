package examples_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/pipeline"
)

// TestWordPress runs examples/wordpress on the local engine, as stashflow
// run does: a BackupBatch of a directory (wp-content, a claim mapped with
// --volume) and a real MariaDB, Sequential, with global hooks; then its
// RestoreBatch into a fresh directory and a second MariaDB. The hooks ran
// once each, around the members, in order; the repository holds one
// snapshot per member as plain restic lists them; the files come back byte
// for byte (the excluded cache left out) and every row comes back.
func TestWordPress(t *testing.T) {
	src, err := testservers.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)
	dst, err := testservers.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Stop)
	ctx := context.Background()
	if _, err := src.Exec(ctx, "", `CREATE DATABASE wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE wordpress;
CREATE TABLE wp_posts(ID BIGINT AUTO_INCREMENT PRIMARY KEY, post_title TEXT, post_content LONGTEXT, guid VARCHAR(255)) ENGINE=InnoDB;
INSERT INTO wp_posts(post_title, post_content, guid) SELECT CONCAT('Post ', seq, ' ✓'), REPEAT('lorem ', seq % 50), CONCAT('/wp-content/uploads/2026/12/', seq, '.jpg') FROM seq_1_to_300;
CREATE TABLE wp_options(option_name VARCHAR(191) PRIMARY KEY, option_value LONGTEXT) ENGINE=InnoDB;
INSERT INTO wp_options VALUES ('siteurl', 'https://blog.example'), ('template', 'twentytwentyfour');`); err != nil {
		t.Fatal(err)
	}
	rows := func(m *testservers.MariaDB) []string {
		out, err := m.Exec(ctx, "wordpress", "SELECT * FROM wp_posts ORDER BY ID; SELECT * FROM wp_options ORDER BY option_name")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	wantRows := rows(src)

	tmp := t.TempDir()
	site, restored, repo := filepath.Join(tmp, "wordpress"), filepath.Join(tmp, "wordpress-restored"), filepath.Join(tmp, "repo")
	wantFiles := writeWPContent(t, filepath.Join(site, "wp-content"))
	if err := os.MkdirAll(filepath.Join(restored, "wp-content"), 0o755); err != nil {
		t.Fatal(err)
	}
	load := func(file string) *localrun.Inputs {
		t.Helper()
		in, err := localrun.Load(filepath.Join("wordpress", "common.yaml"), filepath.Join("wordpress", file))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := manifest.Named[*v1alpha1.Repository](in.Set, "default", "wordpress-repo")
		r.Spec.Backend.Local.HostPath.Path = repo
		pointAt(t, in, "wordpress-db", "wordpress", src.Endpoint(), map[string]string{"username": src.User, "password": src.Password})
		if b, ok := manifest.Named[*v1alpha1.BackupBatch](in.Set, "default", "wordpress"); ok {
			rewriteHooks(b.Spec.Hooks.PreBackup, &b.Spec.Hooks.PostBackup.Hook, "/srv/wordpress", site)
		}
		if b, ok := manifest.Named[*v1alpha1.RestoreBatch](in.Set, "default", "wordpress-restore"); ok {
			rewriteHooks(b.Spec.Hooks.PreRestore, &b.Spec.Hooks.PostRestore.Hook, "/srv/wordpress-restored", restored)
			pointAt(t, in, "wordpress-db-restored", "wordpress-db-restored", dst.Endpoint(), map[string]string{"username": dst.User, "password": dst.Password})
		}
		return in
	}

	res := runBatch(t, load("backup.yaml"), tmp, map[string]string{"wp-content": filepath.Join(site, "wp-content")})
	b := res.Session.(*v1alpha1.BackupSession)
	if b.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup phase = %s: %s (logs in %s)", b.Status.Phase, b.Status.Message, res.WorkDir)
	}
	checkSequence(t, res.Nodes, "global-pre-backup", "wp-content-volume-backup", "wp-content-retention",
		"wordpress-db-mariadb-backup", "wordpress-db-retention", "global-post-backup")
	checkFile(t, filepath.Join(site, "backup-hooks.log"), "pre-backup\npost-backup\n")
	if _, err := os.Stat(filepath.Join(site, ".maintenance")); !os.IsNotExist(err) {
		t.Errorf("maintenance mode after the backup: %v", err)
	}
	// Plain restic: one snapshot per member, each of its host, both of this session.
	env := append(os.Environ(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD=change-me-repository-password")
	var snaps []struct {
		Hostname string   `json:"hostname"`
		Paths    []string `json:"paths"`
		Tags     []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(run(t, env, "restic", "snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range snaps {
		got = append(got, fmt.Sprintf("%s %v session=%s:%v", s.Hostname, s.Paths, b.Name, slices.Contains(s.Tags, "session="+b.Name)))
	}
	slices.Sort(got)
	// On this machine the volume's snapshot holds the directory's own path.
	want := []string{"wordpress-db [/dumpfile.sql] session=" + b.Name + ":true", "wp-content [" + filepath.Join(site, "wp-content") + "] session=" + b.Name + ":true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("restic snapshots (-want +got):\n%s", diff)
	}

	res = runBatch(t, load("restore.yaml"), tmp, map[string]string{"wp-content-restored": filepath.Join(restored, "wp-content")})
	r := res.Session.(*v1alpha1.RestoreBatch)
	if r.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore phase = %s: %s (logs in %s)", r.Status.Phase, r.Status.Message, res.WorkDir)
	}
	checkSequence(t, res.Nodes, "global-pre-restore", "wp-content-restored-volume-restore", "wordpress-db-restored-mariadb-restore", "global-post-restore")
	checkFile(t, filepath.Join(restored, "restore-hooks.log"), "pre-restore\npost-restore\n")
	if diff := cmp.Diff(wantFiles, treeOf(t, filepath.Join(restored, "wp-content"))); diff != "" {
		t.Errorf("restored wp-content (-backed up +restored):\n%s", diff)
	}
	if diff := cmp.Diff(wantRows, rows(dst)); diff != "" {
		t.Errorf("restored wordpress database (-backed up +restored):\n%s", diff)
	}
}

// rewriteHooks moves the hooks' files from the example's root to the test's.
func rewriteHooks(pre, post *v1alpha1.Hook, from, to string) {
	for _, h := range []*v1alpha1.Hook{pre, post} {
		for i, a := range h.Exec.Command {
			h.Exec.Command[i] = strings.ReplaceAll(a, from, to)
		}
	}
}

func runBatch(t *testing.T, in *localrun.Inputs, workDir string, volumes map[string]string) *localrun.Result {
	t.Helper()
	sessions, err := in.Sessions(time.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions = %v, %v", sessions, err)
	}
	res, err := in.Run(context.Background(), sessions[0], localrun.Options{WorkDir: workDir, Stashflow: stashflowBin, Volumes: volumes})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkSequence: the steps (the verdict aside) succeeded one after the
// other in this order, each starting after the one before it ended.
func checkSequence(t *testing.T, nodes []pipeline.NodeStatus, want ...string) {
	t.Helper()
	nodes = slices.DeleteFunc(slices.Clone(nodes), func(n pipeline.NodeStatus) bool { return n.Step == "verdict" })
	slices.SortFunc(nodes, func(a, b pipeline.NodeStatus) int { return a.StartedAt.Compare(b.StartedAt) })
	var got []string
	for i, n := range nodes {
		got = append(got, n.Step+"/"+string(n.Phase))
		if i > 0 && n.StartedAt.Before(nodes[i-1].FinishedAt) {
			t.Errorf("%s started at %s, before %s ended at %s", n.Step, n.StartedAt, nodes[i-1].Step, nodes[i-1].FinishedAt)
		}
	}
	for i := range want {
		want[i] += "/" + string(pipeline.PhaseSucceeded)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps by start time (-want +got):\n%s", diff)
	}
}

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s = %q, %v; want %q", path, got, err, want)
	}
}

// writeWPContent writes a wp-content tree (random uploads, a theme, a
// plugin, an empty file, a symlink, a cache the backup excludes) and
// returns what a restore must bring back.
func writeWPContent(t *testing.T, dir string) []string {
	t.Helper()
	photo := make([]byte, 3<<20)
	if _, err := rand.Read(photo); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		mode fs.FileMode
		data []byte
	}{
		{"uploads/2026/12/photo.jpg", 0o644, photo},
		{"uploads/2026/12/empty.txt", 0o600, nil},
		{"themes/twentytwentyfour/style.css", 0o644, []byte("/* Theme Name: Twenty Twenty-Four */\n")},
		{"plugins/akismet/akismet.php", 0o755, []byte("<?php /* Plugin Name: Akismet */\n")},
		{"cache/page-1.html", 0o644, []byte("<html>cached</html>")},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	if err := os.Symlink("2026/12", filepath.Join(dir, "uploads", "latest")); err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(treeOf(t, dir), func(e string) bool { return strings.HasPrefix(e, "cache") })
}

// treeOf lists a directory: every entry with its type and mode, a file's
// size and SHA-256, a symlink's target.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := fmt.Sprintf("%s %s", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			e += " -> " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			e += fmt.Sprintf(" %d %x", len(data), sha256.Sum256(data))
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

package volume

import (
	"context"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/outputs"
)

func TestMain(m *testing.M) {
	root, err := testenv.RepoRoot()
	if err != nil {
		panic(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "restic")); err != nil {
		println("bin/restic is missing: run make tools")
		os.Exit(1)
	}
	_ = os.Setenv("PATH", filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	os.Exit(m.Run())
}

func runFn(t *testing.T, fn step.Function, environ []string, args ...string) (step.Outputs, error) {
	t.Helper()
	fs := pflag.NewFlagSet("fn", pflag.ContinueOnError)
	fn.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := fn.Validate(); err != nil {
		return nil, err
	}
	env := step.NewEnv(io.Discard)
	env.Environ = append(env.Environ, environ...)
	return fn.Run(context.Background(), env)
}

func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return err
	})
	return out
}

func TestRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "sub/c.tmp": "scratch", "big.bin": strings.Repeat("x", 1<<20)}
	for name, body := range files {
		p := filepath.Join(data, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(tmp, "repo"), "RESTIC_PASSWORD=volume-test"}

	out, err := runFn(t, NewBackup(), repo, "--paths="+data, "--exclude=*.tmp", "--hostname=pvc-data", "--session=s1", "--target=PersistentVolumeClaim/data")
	if err != nil {
		t.Fatal(err)
	}
	if len(out[outputs.SnapshotID]) != 64 || out[outputs.Files] != "3" {
		t.Fatalf("outputs = %v, want a snapshot of 3 files (the .tmp excluded)", out)
	}

	// Restore in place after losing the data.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	rout, err := runFn(t, NewRestore(), repo, "--snapshot=latest", "--host=pvc-data", "--target-dir=/")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "big.bin": files["big.bin"]}
	if diff := cmp.Diff(want, tree(t, data)); diff != "" {
		t.Errorf("restored in place (-want +got):\n%s", diff)
	}
	// restic counts restored directories as files too.
	if rout[outputs.SnapshotID] != out[outputs.SnapshotID] || rout[outputs.Files] == "0" || rout[outputs.Files] == "" {
		t.Errorf("restore outputs = %v", rout)
	}

	// Restore one path elsewhere.
	elsewhere := filepath.Join(tmp, "elsewhere")
	if _, err := runFn(t, NewRestore(), repo, "--snapshot="+out[outputs.SnapshotID][:8], "--paths="+filepath.Join(data, "sub"), "--target-dir="+elsewhere); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{strings.TrimPrefix(filepath.Join(data, "sub/b.txt"), "/"): "bravo"}, tree(t, elsewhere)); diff != "" {
		t.Errorf("restored elsewhere (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	tmp := t.TempDir()
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(tmp, "repo"), "RESTIC_PASSWORD=volume-test"}
	tests := []struct {
		name    string
		fn      step.Function
		args    []string
		wantErr string
	}{
		{name: "no paths", fn: NewBackup(), args: []string{"--paths=", "--hostname=h"}, wantErr: "--paths: nothing to back up"},
		{name: "relative path", fn: NewBackup(), args: []string{"--paths=data", "--hostname=h"}, wantErr: `--paths: "data" is not an absolute path`},
		{name: "missing path", fn: NewBackup(), args: []string{"--paths=" + tmp + "/nope", "--hostname=h"}, wantErr: "no such file or directory"},
		{name: "no snapshot yet", fn: NewRestore(), args: []string{"--snapshot=latest", "--host=h"}, wantErr: "repository does not exist"},
		{name: "relative target", fn: NewRestore(), args: []string{"--target-dir=x"}, wantErr: `--target-dir: "x" is not an absolute path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runFn(t, tt.fn, repo, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestRestoreIntoAnotherVolume maps a snapshot of one volume onto another:
// the target gets the source's contents, the source is not touched, and
// what cannot be mapped is refused before anything is written.
func TestRestoreIntoAnotherVolume(t *testing.T) {
	tmp := t.TempDir()
	src, other := filepath.Join(tmp, "pvc-a"), filepath.Join(tmp, "pvc-other")
	files := map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo"}
	for dir, content := range map[string]map[string]string{src: files, other: {"o.txt": "other"}} {
		for name, body := range content {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(tmp, "repo"), "RESTIC_PASSWORD=volume-test"}
	if _, err := runFn(t, NewBackup(), repo, "--paths="+src, "--hostname=a"); err != nil {
		t.Fatal(err)
	}
	if _, err := runFn(t, NewBackup(), repo, "--paths="+src+","+other, "--hostname=two"); err != nil {
		t.Fatal(err)
	}
	// The source changes after the backup: a restore elsewhere must not undo it.
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantSource := map[string]string{"a.txt": "changed", "sub/b.txt": "bravo"}

	t.Run("whole volume", func(t *testing.T) {
		target := filepath.Join(tmp, "pvc-b")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := runFn(t, NewRestore(), repo, "--host=a", "--map-to="+target); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(files, tree(t, target)); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSource, tree(t, src)); diff != "" {
			t.Errorf("source touched (-want +got):\n%s", diff)
		}
	})
	t.Run("one path", func(t *testing.T) {
		target := filepath.Join(tmp, "pvc-c")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := runFn(t, NewRestore(), repo, "--host=a", "--paths="+filepath.Join(src, "sub"), "--map-to="+target); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"sub/b.txt": "bravo"}, tree(t, target)); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
	})
	refused := []struct {
		name, wantErr string
		args          []string
	}{
		{"target not mounted", "the target volume is not mounted at", []string{"--host=a", "--map-to=" + filepath.Join(tmp, "absent")}},
		{"path outside the snapshot", "not within one path of snapshot", []string{"--host=a", "--paths=/etc", "--map-to=" + filepath.Join(tmp, "empty")}},
		{"two source paths", "holds 2 paths", []string{"--host=two", "--map-to=" + filepath.Join(tmp, "empty")}},
	}
	if err := os.Mkdir(filepath.Join(tmp, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runFn(t, NewRestore(), repo, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "nothing was restored") {
				t.Fatalf("err = %v, want it to contain %q and say nothing was restored", err, tt.wantErr)
			}
			if got := tree(t, filepath.Join(tmp, "empty")); len(got) != 0 {
				t.Errorf("refused restore wrote %v", got)
			}
			if _, err := os.Stat(filepath.Join(tmp, "absent")); err == nil {
				t.Error("refused restore created the target")
			}
		})
	}
	if diff := cmp.Diff(wantSource, tree(t, src)); diff != "" {
		t.Errorf("source touched (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"o.txt": "other"}, tree(t, other)); diff != "" {
		t.Errorf("other volume touched (-want +got):\n%s", diff)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreWorkloadVolumes: a workload host's volumes, backed up from
// where one step mounted them, are restored into the volumes of the same
// names wherever the restore step mounts them (another StatefulSet's
// claims): each path into its own volume, nothing elsewhere; a path that
// maps onto no volume refuses the restore before anything is written.
func TestRestoreWorkloadVolumes(t *testing.T) {
	tmp := t.TempDir()
	data, logs := filepath.Join(tmp, "src", "data"), filepath.Join(tmp, "src", "logs")
	writeTree(t, data, map[string]string{"db/a": "alpha", "db/b": "bravo"})
	writeTree(t, logs, map[string]string{"app.log": "lines"})
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(tmp, "repo"), "RESTIC_PASSWORD=volume-test"}
	out, err := runFn(t, NewBackup(), repo, "--paths="+data+","+logs, "--hostname=host-0",
		"--volumes=data="+data+",logs="+logs)
	if err != nil {
		t.Fatal(err)
	}
	// Only data is mounted for this one: the untagged fallback is the path itself.
	if _, err := runFn(t, NewBackup(), repo, "--paths="+data, "--hostname=plain"); err != nil {
		t.Fatal(err)
	}

	newData, newLogs := filepath.Join(tmp, "dst", "data"), filepath.Join(tmp, "dst", "logs")
	for _, d := range []string{newData, newLogs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runFn(t, NewRestore(), repo, "--snapshot="+out[outputs.SnapshotID], "--volumes=logs="+newLogs+",data="+newData); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"db/a": "alpha", "db/b": "bravo"}, tree(t, newData)); diff != "" {
		t.Errorf("data volume (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"app.log": "lines"}, tree(t, newLogs)); diff != "" {
		t.Errorf("logs volume (-want +got):\n%s", diff)
	}

	t.Run("one path of one volume", func(t *testing.T) {
		only := filepath.Join(tmp, "only")
		if err := os.MkdirAll(only, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := runFn(t, NewRestore(), repo, "--host=host-0", "--paths="+filepath.Join(data, "db", "b"), "--volumes=data="+only); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"db/b": "bravo"}, tree(t, only)); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
	})

	t.Run("a path at the target volume's mount", func(t *testing.T) {
		at := filepath.Join(tmp, "at")
		if err := os.MkdirAll(at, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := runFn(t, NewRestore(), repo, "--host=host-0", "--paths="+filepath.Join(at, "db", "a"), "--volumes=data="+at); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"db/a": "alpha"}, tree(t, at)); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
	})

	refused := []struct {
		name, wantErr string
		args          []string
	}{
		{"a volume of the snapshot is not mounted", "lies in none of the target's volumes", []string{"--host=host-0", "--volumes=data=" + filepath.Join(tmp, "empty")}},
		{"volume missing on disk", `volume "data" is not mounted at`, []string{"--host=host-0", "--volumes=data=" + filepath.Join(tmp, "absent") + ",logs=" + filepath.Join(tmp, "empty")}},
		{"untagged path into another directory", "lies in none of the target's volumes", []string{"--host=plain", "--volumes=data=" + filepath.Join(tmp, "empty") + ",logs=" + newLogs}},
		{"a path outside the snapshot", "is in no path of snapshot", []string{"--host=host-0", "--paths=/etc", "--volumes=data=" + filepath.Join(tmp, "empty")}},
	}
	if err := os.Mkdir(filepath.Join(tmp, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runFn(t, NewRestore(), repo, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "nothing was restored") {
				t.Fatalf("err = %v, want it to contain %q and say nothing was restored", err, tt.wantErr)
			}
			if got := tree(t, filepath.Join(tmp, "empty")); len(got) != 0 {
				t.Errorf("refused restore wrote %v", got)
			}
		})
	}
	for _, tt := range []struct{ name, wantErr string }{
		{"data", `"data" is not NAME=PATH`},
		{"=/x", `"=/x" is not NAME=PATH`},
		{"data=rel", `is not absolute`},
		{"data=/a,data=/b", `volume "data" is given twice`},
	} {
		if _, err := runFn(t, NewRestore(), repo, "--volumes="+tt.name); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("--volumes=%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := runFn(t, NewBackup(), repo, "--paths=/etc", "--hostname=h", "--volumes=data="+data); err == nil || !strings.Contains(err.Error(), "in none of the mounted volumes") {
		t.Errorf("backup of a path outside the volumes: err = %v", err)
	}
}

// TestUnreadableFileLeavesNoSnapshot: restic exits 3 when a file cannot
// be read, after committing a snapshot without it. The backup fails, names
// the file, and the snapshot is forgotten: a failed backup leaves none.
// As root (which reads everything) restic runs as nobody through setpriv.
func TestUnreadableFileLeavesNoSnapshot(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "a.txt"), []byte("alpha"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "secret.txt"), []byte("unreadable"), 0o000); err != nil {
		t.Fatal(err)
	}
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(base, "repo"), "RESTIC_PASSWORD=volume-test",
		"RESTIC_CACHE_DIR=" + filepath.Join(base, "cache")}
	if os.Geteuid() == 0 {
		setpriv, err := osexec.LookPath("setpriv")
		if err != nil {
			t.Skip("running as root without setpriv: every file is readable")
		}
		resticBin, err := osexec.LookPath("restic")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		wrap := filepath.Join(base, "restic-as-nobody")
		script := "#!/bin/sh\nexec " + setpriv + " --reuid=65534 --regid=65534 --clear-groups -- " + resticBin + " \"$@\"\n"
		if err := os.WriteFile(wrap, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		repo = append(repo, restic.EnvBinary+"="+wrap)
	}
	_, err := runFn(t, NewBackup(), repo, "--paths="+data, "--hostname=h")
	if err == nil || !strings.Contains(err.Error(), "secret.txt") || !strings.Contains(err.Error(), "was forgotten") {
		t.Fatalf("err = %v, want the unreadable file named and the incomplete snapshot forgotten", err)
	}
	c, err := restic.NewClient(append(os.Environ(), repo[:2]...), nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := c.Snapshots(context.Background(), restic.Filter{})
	if err != nil || len(snaps) != 0 {
		t.Errorf("snapshots = %d (%v), want none", len(snaps), err)
	}
}

// TestRestoreSeveralSnapshots restores the snapshots of one rule in turn,
// as Stash does: snapshots of different paths all land, a later snapshot
// is laid over an earlier one, and every snapshot is found and mapped
// before the first is written.
func TestRestoreSeveralSnapshots(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(tmp, "repo"), "RESTIC_PASSWORD=volume-test"}
	backup := func(dir string, files map[string]string) string {
		t.Helper()
		writeTree(t, dir, files)
		out, err := runFn(t, NewBackup(), repo, "--paths="+dir, "--hostname=h")
		if err != nil {
			t.Fatal(err)
		}
		return out[outputs.SnapshotID]
	}
	snapA := backup(a, map[string]string{"a.txt": "alpha", "shared.txt": "one"})
	snapB := backup(b, map[string]string{"b.txt": "bravo"})
	snapA2 := backup(a, map[string]string{"shared.txt": "two"})
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(b); err != nil {
		t.Fatal(err)
	}

	t.Run("snapshots of different paths both land, in place", func(t *testing.T) {
		out, err := runFn(t, NewRestore(), repo, "--snapshot="+snapA[:8]+","+snapB[:8], "--target-dir=/")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]string{"a": tree(t, a), "b": tree(t, b)}
		want := map[string]map[string]string{"a": {"a.txt": "alpha", "shared.txt": "one"}, "b": {"b.txt": "bravo"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("restored (-want +got):\n%s", diff)
		}
		if out[outputs.SnapshotIDs] != snapA+","+snapB || out[outputs.SnapshotID] != snapB {
			t.Errorf("outputs %v: want snapshotIDs %s,%s and snapshotID the last, %s", out, snapA, snapB, snapB)
		}
	})

	t.Run("each over the last, in the order given", func(t *testing.T) {
		for _, order := range [][]string{{snapA, snapA2}, {snapA2, snapA}} {
			target := t.TempDir()
			if _, err := runFn(t, NewRestore(), repo, "--snapshot="+order[0]+","+order[1], "--map-to="+target); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"a.txt": "alpha", "shared.txt": "one"}
			if order[1] == snapA2 {
				want["shared.txt"] = "two"
			}
			if diff := cmp.Diff(want, tree(t, target)); diff != "" {
				t.Errorf("order %.8s,%.8s (-want +got):\n%s", order[0], order[1], diff)
			}
		}
	})

	t.Run("onto one volume: both snapshots' paths map onto it", func(t *testing.T) {
		target := t.TempDir()
		if _, err := runFn(t, NewRestore(), repo, "--snapshot="+snapA+","+snapB, "--map-to="+target); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"a.txt": "alpha", "shared.txt": "one", "b.txt": "bravo"}
		if diff := cmp.Diff(want, tree(t, target)); diff != "" {
			t.Errorf("target (-want +got):\n%s", diff)
		}
	})

	refused := []struct {
		name, wantErr string
		args          []string
	}{
		{"a missing second snapshot", "deadbeef", []string{"--snapshot=" + snapA + ",deadbeef"}},
		{"a second snapshot outside --paths", "snapshot " + snapB[:8] + ": --paths: " + filepath.Join(a, "a.txt") + " not within one path",
			[]string{"--snapshot=" + snapA + "," + snapB, "--paths=" + filepath.Join(a, "a.txt")}},
	}
	for _, tt := range refused {
		t.Run("refused before writing: "+tt.name, func(t *testing.T) {
			target := t.TempDir()
			_, err := runFn(t, NewRestore(), repo, append(tt.args, "--map-to="+target)...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if got := tree(t, target); len(got) != 0 {
				t.Errorf("a refused restore wrote %v (the first snapshot was restored before the second was checked)", got)
			}
		})
	}
}

// TestPathWithComma: a path holding a comma, quoted as one CSV item (as
// the translators pass TARGET_PATHS), is backed up as that one path; a
// workload volume mounted there is refused before restic starts, since
// restic would split its volume tag at the comma, and no snapshot is
// written.
func TestPathWithComma(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "a,b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := []string{"RESTIC_REPOSITORY=" + filepath.Join(tmp, "repo"), "RESTIC_PASSWORD=volume-test"}
	c, err := restic.NewClient(repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	_, err = runFn(t, NewBackup(), repo, `--paths="`+dir+`"`, "--hostname=vol", `--volumes="data=`+dir+`"`)
	if err == nil || !strings.Contains(err.Error(), "holds a comma, which restic would split into two tags") {
		t.Fatalf("backup of a volume mounted at %s: err = %v, want the tag refused", dir, err)
	}
	if snaps, err := c.Snapshots(ctx, restic.Filter{}); err != nil || len(snaps) != 0 {
		t.Fatalf("after the refused backup: snapshots %v, %v; want none", snaps, err)
	}

	if _, err := runFn(t, NewBackup(), repo, `--paths="`+dir+`"`, "--hostname=plain"); err != nil {
		t.Fatal(err)
	}
	snaps, err := c.Snapshots(ctx, restic.Filter{})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots %v, %v; want one", snaps, err)
	}
	if diff := cmp.Diff([]string{dir}, snaps[0].Paths); diff != "" {
		t.Errorf("the snapshot's paths (-want +got):\n%s", diff)
	}
}

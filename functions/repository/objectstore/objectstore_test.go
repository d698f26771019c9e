package objectstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"golang.org/x/crypto/bcrypt"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/repository"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/testproc"
	"github.com/stashflow/stashflow/internal/testservers"
)

func TestMain(m *testing.M) {
	if err := testservers.SetupPATH("restic", "rest-server"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const password = "restic-pw-0b5e"

// backend is one real server with its repositories under "team/".
type backend struct {
	// loc is RESTIC_REPOSITORY of the repository at prefix.
	loc func(prefix string) string
	// env has the credentials and the emulator's settings; wrong has
	// credentials the server refuses (appended to env): restic's access
	// denied (restic.KindAccessDenied) on every server.
	env, wrong []string
	// put writes an object that is not restic's at name (from the
	// bucket's root).
	put func(t *testing.T, name string)
	// names lists every object under "team/", relative to it.
	names func(t *testing.T) []string
	// noNesting: the server refuses a repository inside another
	// (rest-server v0.14.0 answers 404 to creating team/db/nested).
	noNesting bool
}

// TestWipeObjectStores runs repository-wipe against MinIO, rest-server,
// fake-gcs-server and Azurite. In each, the repository at team/db has two
// snapshots, and beside it are: a repository at team/db-other (a sibling
// whose name starts with the same letters), a repository nested inside the
// prefix at team/db/nested (not on rest-server, which refuses it), an object team/db/NOTES inside the prefix that
// is not restic's, and team/README outside it. Wrong credentials fail as
// access denied and delete nothing; the wipe deletes team/db's restic files
// only (plain `restic snapshots` then says the repository does not exist)
// and keeps everything else readable; a second wipe is a no-op.
func TestWipeObjectStores(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) backend
	}{
		{"s3 (minio)", startS3},
		{"rest-server", startRest},
		{"gcs (fake-gcs-server)", startGCS},
		{"azure (azurite)", startAzure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.start(t)
			target := b.loc("team/db")
			backup(t, b, "team/db", 2)
			others := []string{"team/db-other", "team/db/nested"}
			if b.noNesting {
				others = others[:1]
			}
			for _, o := range others {
				backup(t, b, o, 1)
			}
			b.put(t, "team/README")
			b.put(t, "team/db/NOTES")
			before := b.names(t)

			_, err := wipe(t, b, target, b.wrong)
			if !restic.IsKind(err, restic.KindAccessDenied) {
				t.Errorf("wipe with wrong credentials: %v, want access denied (restic.KindAccessDenied)", err)
			}
			if diff := cmp.Diff(before, b.names(t)); diff != "" {
				t.Errorf("wipe with wrong credentials changed the objects (-before +after):\n%s", diff)
			}
			if n := len(snapshots(t, b, "team/db")); n != 2 {
				t.Errorf("after the refused wipe team/db has %d snapshots, want 2", n)
			}

			if _, err := wipe(t, b, target, nil); err != nil {
				t.Fatalf("wipe: %v", err)
			}
			var left []string
			for _, n := range b.names(t) {
				if rest, ok := strings.CutPrefix(n, "db/"); ok && !strings.HasPrefix(rest, "nested/") {
					left = append(left, n)
				}
			}
			if diff := cmp.Diff([]string{"db/NOTES"}, left); diff != "" {
				t.Errorf("objects left under team/db/ besides the nested repository (-want +got):\n%s", diff)
			}
			if names := b.names(t); !slices.Contains(names, "README") {
				t.Errorf("team/README is gone: %v", names)
			}
			noRepository(t, b, target)
			for _, other := range others {
				if s := snapshots(t, b, other); len(s) != 1 {
					t.Errorf("%s has %d snapshots after the wipe, want 1: %+v", other, len(s), s)
				}
			}

			if _, err := wipe(t, b, target, nil); err != nil {
				t.Errorf("wiping a wiped repository: %v", err)
			}
		})
	}
}

// TestWipeFinishesStoppedWipe: a repository whose keys are gone but whose
// config is left (a wipe stopped between the two) is finished; a wrong
// password on a repository with keys deletes nothing.
func TestWipeFinishesStoppedWipe(t *testing.T) {
	b := startS3(t)
	target := b.loc("team/db")
	backup(t, b, "team/db", 1)
	before := b.names(t)
	if _, err := wipe(t, b, target, []string{"RESTIC_PASSWORD=not-the-password"}); !restic.IsKind(err, restic.KindWrongPassword) {
		t.Errorf("wipe with a wrong password: %v, want wrong password", err)
	}
	if diff := cmp.Diff(before, b.names(t)); diff != "" {
		t.Errorf("a wipe with a wrong password changed the objects (-before +after):\n%s", diff)
	}
	store, err := Open(context.Background(), target, b.env)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, n := range before {
		if strings.HasPrefix(n, "db/keys/") {
			keys = append(keys, strings.TrimPrefix(n, "db/"))
		}
	}
	if len(keys) == 0 {
		t.Fatalf("no key in %v", before)
	}
	if err := store.Delete(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	if _, err := wipe(t, b, target, nil); err != nil {
		t.Fatalf("wipe of a repository without keys: %v", err)
	}
	if names := b.names(t); len(names) != 0 {
		t.Errorf("left %v, want nothing", names)
	}
}

// TestWipeBucketRoot: a repository at the root of a bucket (prefix "") is
// wiped alone: a repository at team/db and an object beside the root
// repository's files stay.
func TestWipeBucketRoot(t *testing.T) {
	b := startS3(t)
	backup(t, b, "", 1)
	backup(t, b, "team/db", 1)
	b.put(t, "README")
	if _, err := wipe(t, b, b.loc(""), nil); err != nil {
		t.Fatalf("wipe: %v", err)
	}
	noRepository(t, b, b.loc(""))
	if n := len(snapshots(t, b, "team/db")); n != 1 {
		t.Errorf("team/db has %d snapshots after the root's wipe, want 1", n)
	}
	store, err := Open(context.Background(), b.loc(""), b.env)
	if err != nil {
		t.Fatal(err)
	}
	names, err := store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n != "README" && !strings.HasPrefix(n, "team/db/") {
			t.Errorf("%s left at the bucket's root", n)
		}
	}
	if !slices.Contains(names, "README") {
		t.Errorf("README is gone: %v", names)
	}
}

// TestResticObject: only restic's layout is restic's.
func TestResticObject(t *testing.T) {
	id := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		want bool
	}{
		{"config", true},
		{"keys/" + id, true},
		{"locks/" + id, true},
		{"snapshots/" + id, true},
		{"index/" + id, true},
		{"data/ab/" + id, true},
		{"data/cd/" + id, false},
		{"data/" + id, false},
		{"NOTES", false},
		{"nested/config", false},
		{"nested/keys/" + id, false},
		{"data/ab/config", false},
		{"keys/" + id[:63], false},
		{"keys/" + strings.ToUpper(id), false},
		{"config.bak", false},
	}
	for _, tt := range tests {
		if got := repository.ResticObject(tt.name); got != tt.want {
			t.Errorf("ResticObject(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestLocations: each location parses as restic parses it.
func TestLocations(t *testing.T) {
	type s3 struct {
		Endpoint, Bucket, Prefix string
		HTTP                     bool
	}
	s3Tests := []struct {
		loc  string
		want s3
	}{
		{"s3:http://127.0.0.1:9000/b/team/db", s3{"127.0.0.1:9000", "b", "team/db", true}},
		{"s3:https://minio.example/b", s3{"minio.example", "b", "", false}},
		{"s3:s3.amazonaws.com/b/p/", s3{"s3.amazonaws.com", "b", "p", false}},
		{"s3://s3.amazonaws.com/b//p", s3{"s3.amazonaws.com", "b", "p", false}},
	}
	for _, tt := range s3Tests {
		var got s3
		var err error
		got.Endpoint, got.Bucket, got.Prefix, got.HTTP, err = s3Location(tt.loc)
		if err != nil {
			t.Errorf("%s: %v", tt.loc, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.loc, diff)
		}
	}
	for _, loc := range []string{"s3:http://host", "s3:host", "s3:"} {
		if _, _, _, _, err := s3Location(loc); err == nil {
			t.Errorf("%s: parsed, want an error", loc)
		}
	}
	for loc, want := range map[string][2]string{"gs:b:/": {"b", ""}, "gs:b:/team/db/": {"b", "team/db"}, "azure:c:/x": {"c", "x"}} {
		parse := gcsLocation
		if strings.HasPrefix(loc, "azure:") {
			parse = azureLocation
		}
		b, p, err := parse(loc)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("%s: %q %q %v, want %q %q", loc, b, p, err, want[0], want[1])
		}
	}
	if _, err := Open(context.Background(), "b2:bucket:p", nil); err == nil || !strings.Contains(err.Error(), "b2") {
		t.Errorf("b2: %v, want refused naming b2", err)
	}
}

func wipe(t *testing.T, b backend, loc string, extra []string) (map[string]string, error) {
	t.Helper()
	env := fntest.Env(t, b.env, []string{"RESTIC_REPOSITORY=" + loc, "RESTIC_PASSWORD=" + password}, extra)
	return fntest.Run(t, repository.NewWipe(Open), env)
}

func client(t *testing.T, b backend, prefix string) *restic.Client {
	t.Helper()
	env := append(slices.Clone(os.Environ()), b.env...)
	c, err := restic.NewClient(append(env, "RESTIC_REPOSITORY="+b.loc(prefix), "RESTIC_PASSWORD="+password), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// backup makes n snapshots in the repository at prefix.
func backup(t *testing.T, b backend, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	c := client(t, b, prefix)
	if _, err := c.EnsureRepository(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		w, err := c.BackupStdin(ctx, restic.BackupOptions{Filename: "f"})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "%s snapshot %d", prefix, i)
		if _, err := w.Finish(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func snapshots(t *testing.T, b backend, prefix string) []restic.Snapshot {
	t.Helper()
	s, err := client(t, b, prefix).Snapshots(context.Background(), restic.Filter{})
	if err != nil {
		t.Fatalf("%s: %v", prefix, err)
	}
	return s
}

// noRepository runs plain `restic snapshots`: it must exit 10, "repository
// does not exist".
func noRepository(t *testing.T, b backend, loc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "restic", "snapshots", "--no-cache")
	cmd.Env = append(os.Environ(), append(b.env, "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD="+password)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 10 || !strings.Contains(string(out), "repository does not exist") {
		t.Errorf("restic snapshots after the wipe: %v, want exit 10 \"repository does not exist\"\n%s", err, out)
	}
}

// storeNames lists the objects under team/ through the package's own store.
func storeNames(t *testing.T, b backend) []string {
	t.Helper()
	s, err := Open(context.Background(), b.loc("team"), b.env)
	if err != nil {
		t.Fatal(err)
	}
	names, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func startS3(t *testing.T) backend {
	s := testservers.StartS3Server(t)
	b := backend{
		loc:   func(p string) string { return "s3:" + s.Endpoint + "/" + s.Bucket + "/" + p },
		env:   []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey},
		wrong: []string{"AWS_SECRET_ACCESS_KEY=not-" + s.SecretKey},
	}
	b.put = func(t *testing.T, name string) {
		t.Helper()
		st, err := openS3(b.loc(""), env(b.env))
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("not restic's")
		if _, err := st.client.PutObject(context.Background(), s.Bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	b.names = func(t *testing.T) []string { return storeNames(t, b) }
	return b
}

func startRest(t *testing.T) backend {
	const user = "backup"
	pass := rand.Text()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, ".htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	addr, _ := testproc.StartRestServer(t, data, "--htpasswd-file", htpasswd)
	return backend{
		loc:       func(p string) string { return "rest:http://" + addr + "/" + p },
		env:       []string{"RESTIC_REST_USERNAME=" + user, "RESTIC_REST_PASSWORD=" + pass},
		wrong:     []string{"RESTIC_REST_PASSWORD=not-" + pass},
		noNesting: true,
		put: func(t *testing.T, name string) {
			t.Helper()
			p := filepath.Join(data, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("not restic's"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		// The files on the server's disk (its empty directories are no
		// objects).
		names: func(t *testing.T) []string {
			t.Helper()
			root := filepath.Join(data, "team")
			var names []string
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, err := filepath.Rel(root, p)
				names = append(names, filepath.ToSlash(rel))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			return names
		},
	}
}

func startGCS(t *testing.T) backend {
	s := testservers.StartGCSServer(t)
	keyFile := func(content string) string {
		p := filepath.Join(t.TempDir(), "key.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	b := backend{
		loc: func(p string) string { return "gs:" + s.Bucket + ":/" + p },
		env: append(s.Env(), "GOOGLE_PROJECT_ID="+s.Project, "GOOGLE_APPLICATION_CREDENTIALS="+keyFile(s.KeyJSON)),
		// a key Google does not know
		wrong: []string{"GOOGLE_APPLICATION_CREDENTIALS=" + keyFile(s.OtherKeyJSON(t))},
	}
	b.put = func(t *testing.T, name string) {
		t.Helper()
		st, err := openGCS(context.Background(), b.loc(""), env(b.env))
		if err != nil {
			t.Fatal(err)
		}
		u := strings.Replace(st.api, "/storage/v1/", "/upload/storage/v1/", 1) + "b/" + s.Bucket + "/o?uploadType=media&name=" + url.QueryEscape(name)
		resp, err := st.client.Post(u, "application/octet-stream", strings.NewReader("not restic's"))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("uploading %s: %s", name, resp.Status)
		}
	}
	b.names = func(t *testing.T) []string { return storeNames(t, b) }
	return b
}

func startAzure(t *testing.T) backend {
	s := testservers.StartAzurite(t)
	b := backend{
		loc:   func(p string) string { return "azure:" + s.Container + ":/" + p },
		env:   append(s.Env(), "AZURE_ACCOUNT_NAME="+s.Account, "AZURE_ACCOUNT_KEY="+s.Key),
		wrong: []string{"AZURE_ACCOUNT_KEY=" + base64.StdEncoding.EncodeToString([]byte(rand.Text()+rand.Text()))},
	}
	b.put = func(t *testing.T, name string) {
		t.Helper()
		st, err := openAzure(b.loc(""), env(b.env))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.client.NewBlockBlobClient(name).UploadBuffer(context.Background(), []byte("not restic's"), nil); err != nil {
			t.Fatal(azureError(err))
		}
	}
	b.names = func(t *testing.T) []string { return storeNames(t, b) }
	return b
}

/*
Copyright 2025 The stashflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package packaging

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	imageVersion = "v0.0.0-packaging-test"
	imageTag     = "registry.example.com/stashflow:packaging-test"
)

// buildImage runs `go run ./hack/image` as `make image` does, into out.
func buildImage(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Stat(repoPath("bin", "restic")); err != nil {
		t.Fatalf("bin/restic is missing: run `make tools` (hack/build-tools.sh restic)")
	}
	cmd := exec.Command("go", "run", "./hack/image", "-out", out, "-version", imageVersion, "-tag", imageTag)
	cmd.Dir = env.RepoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, stderr.String())
	}
}

// TestImage builds the image twice, checks both builds have the same digest, then runs
// the binaries of the unpacked image and checks its config.
func TestImage(t *testing.T) {
	t.Parallel()
	dirs := []string{t.TempDir(), t.TempDir()}
	var digests []string
	for _, dir := range dirs {
		start := time.Now()
		buildImage(t, dir)
		d, err := os.ReadFile(filepath.Join(dir, "stashflow-image.digest"))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, strings.TrimSpace(string(d)))
		t.Logf("built %s in %s", digests[len(digests)-1], time.Since(start).Round(time.Millisecond))
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of the same tree differ: %s != %s", digests[0], digests[1])
	}

	tag, err := name.NewTag(imageTag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(filepath.Join(dirs[0], "stashflow-image.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := img.Digest(); err != nil || d.String() != digests[0] {
		t.Errorf("tarball image digest = %v (%v), want %s", d, err, digests[0])
	}
	checkOCILayout(t, filepath.Join(dirs[0], "oci"), digests[0])

	t.Run("config", func(t *testing.T) { checkImageConfig(t, img) })
	t.Run("files", func(t *testing.T) {
		root := t.TempDir()
		extract(t, img, root)
		checkImageFiles(t, root)
		checkOperatorFlags(t, filepath.Join(root, "usr", "local", "bin", "stashflow"))
	})
}

// checkOperatorFlags runs the image's stashflow with the operator args the chart and the
// overlay render (and --help): it fails on any flag `stashflow operator` does not know.
func checkOperatorFlags(t *testing.T, stashflow string) {
	t.Helper()
	chart, err := helmTemplate(t, "stashflow", "stashflow-system", "engine: argo\nargo: {uiBaseURL: https://argo.example.com}\nwatchNamespaces: [team-a]")
	if err != nil {
		t.Fatal(err)
	}
	renderings := map[string][]string{
		"chart":     args(t, find(t, chart, "Deployment", "stashflow-operator")),
		"kustomize": args(t, find(t, kustomizeBuild(t, kustomizeDir), "Deployment", "stashflow-operator")),
	}
	for from, a := range renderings {
		if out, err := exec.Command(stashflow, append(a, "--help")...).CombinedOutput(); err != nil {
			t.Errorf("stashflow %s --help (the %s's args): %v\n%s", strings.Join(a, " "), from, err, out)
		}
	}
}

func checkOCILayout(t *testing.T, dir, digest string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest.String() != digest {
		t.Fatalf("OCI layout index = %+v, want one manifest %s", m.Manifests, digest)
	}
	if ref := m.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != imageTag {
		t.Errorf("OCI layout ref.name = %q, want %s", ref, imageTag)
	}
}

func checkImageConfig(t *testing.T, img v1.Image) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532" {
		t.Errorf("User = %q, want 65532", cf.Config.User)
	}
	if diff := cmp.Diff([]string{"stashflow"}, cf.Config.Entrypoint); diff != "" {
		t.Errorf("Entrypoint (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(cf.Config.Env[0], "PATH=/usr/local/bin:") {
		t.Errorf("Env = %q, want PATH with /usr/local/bin first", cf.Config.Env)
	}
	if cf.OS != "linux" {
		t.Errorf("OS = %q", cf.OS)
	}

	// created is the commit time of HEAD (SOURCE_DATE_EPOCH when set).
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = git(t, "log", "-1", "--format=%ct")
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(sec, 0).UTC()
	if !cf.Created.Equal(created) {
		t.Errorf("Created = %s, want the commit time %s", cf.Created.Time, created)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  imageVersion,
		"org.opencontainers.image.source":   "https://github.com/stashflow/stashflow",
		"org.opencontainers.image.revision": git(t, "rev-parse", "HEAD"),
		"org.opencontainers.image.created":  created.Format(time.RFC3339),
	}
	for k, v := range want {
		if got := cf.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 3 {
		t.Errorf("%d layers, want 3 (base, restic, stashflow)", len(m.Layers))
	}
}

func git(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = env.RepoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// extract writes the image's flattened filesystem (mutate.Extract) under root, and
// checks every entry's owner and mtime, and a few modes, on the way.
func extract(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	modes := map[string]os.FileMode{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %s, want the epoch", h.Name, h.ModTime)
		}
		if owner := 0; h.Uid != owner || h.Gid != owner {
			if strings.TrimSuffix(h.Name, "/") != "home/stashflow" || h.Uid != 65532 || h.Gid != 65532 {
				t.Errorf("%s: owner %d:%d, want root (65532 for the user's home only)", h.Name, h.Uid, h.Gid)
			}
		}
		modes[strings.TrimSuffix(h.Name, "/")] = h.FileInfo().Mode()
		path := filepath.Join(root, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode)&0o777)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("%s: unexpected tar entry type %c", h.Name, h.Typeflag)
		}
	}
	for name, want := range map[string]os.FileMode{
		"tmp":                        os.ModeDir | os.ModeSticky | 0o777,
		"usr/local/bin/stashflow":    0o755,
		"usr/local/bin/stashflow-fn": 0o755,
		"usr/local/bin/restic":       0o755,
		"etc/passwd":                 0o644,
	} {
		if got, ok := modes[name]; !ok || got != want {
			t.Errorf("%s: mode %v, want %v", name, got, want)
		}
	}
}

func checkImageFiles(t *testing.T, root string) {
	for bin, want := range map[string]string{
		"stashflow": "stashflow " + imageVersion,
		"restic":    "restic 0.18.1",
	} {
		out, err := exec.Command(filepath.Join(root, "usr", "local", "bin", bin), "version").CombinedOutput()
		if err != nil {
			t.Errorf("%s version: %v\n%s", bin, err, out)
			continue
		}
		if !strings.HasPrefix(string(out), want) {
			t.Errorf("%s version = %q, want it to start with %q", bin, out, want)
		}
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(passwd), "\nstashflow:x:65532:65532:") {
		t.Errorf("/etc/passwd has no stashflow user 65532:\n%s", passwd)
	}
	group, err := os.ReadFile(filepath.Join(root, "etc", "group"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(group), "\nstashflow:x:65532:") {
		t.Errorf("/etc/group has no stashflow group 65532:\n%s", group)
	}
	ca, err := os.ReadFile(filepath.Join(root, "etc", "ssl", "certs", "ca-certificates.crt"))
	if err != nil || !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Errorf("no CA certificates in the image (%v)", err)
	}
}

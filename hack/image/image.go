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

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user, and where things live in it.
const (
	uid      = 65532
	userName = "stashflow"
	home     = "/home/stashflow"
	binDir   = "/usr/local/bin"
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
	envPath  = "PATH=/usr/local/bin:/usr/bin:/bin"

	// Output file names under -out.
	tarballName = "stashflow-image.tar"
	layoutDir   = "oci"
	digestName  = "stashflow-image.digest"
)

// assemble builds the image: base files, then restic, then stashflow (the layer that
// changes with every commit last), with the config and OCI labels.
func assemble(o *options) (v1.Image, error) {
	ca, err := os.ReadFile(o.caCerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	restic, err := os.ReadFile(o.restic)
	if err != nil {
		return nil, fmt.Errorf("restic: %w", err)
	}
	stashflow, err := os.ReadFile(o.stashflow)
	if err != nil {
		return nil, fmt.Errorf("stashflow: %w", err)
	}
	stashflowFn, err := os.ReadFile(fnBinaryOf(o))
	if err != nil {
		return nil, fmt.Errorf("stashflow-fn (built from ./cmd/stashflow-fn -tags stashflow_lean next to stashflow): %w", err)
	}

	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", userName, uid, uid, userName, home)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid)
	base := []entry{
		dir("etc", 0o755),
		file("etc/passwd", 0o644, []byte(passwd)),
		file("etc/group", 0o644, []byte(group)),
		dir("etc/ssl", 0o755),
		dir("etc/ssl/certs", 0o755),
		file(caBundle[1:], 0o644, ca),
		dir("home", 0o755),
		{name: home[1:], mode: 0o755, dir: true, uid: uid},
		dir("tmp", 0o1777),
		dir("usr", 0o755),
		dir("usr/local", 0o755),
		dir("usr/local/bin", 0o755),
	}
	layers := []struct {
		entries   []entry
		createdBy string
	}{
		{base, "stashflow base: /etc/passwd, /etc/group, CA certificates, /tmp"},
		{[]entry{file("usr/local/bin/restic", 0o755, restic)}, "restic " + filepath.Base(o.restic)},
		{[]entry{file("usr/local/bin/stashflow", 0o755, stashflow), file("usr/local/bin/stashflow-fn", 0o755, stashflowFn)}, "stashflow " + o.version},
	}

	// Docker media types (schema 2), not OCI's: a docker-save tarball keeps no manifest, and
	// go-containerregistry (crane push) rebuilds it from the tarball with these types, so
	// the tarball, the OCI layout and a pushed image all have the same digest.
	img := empty.Image
	for _, l := range layers {
		layer, err := tarLayer(l.entries)
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: types.DockerLayer,
			History:   v1.History{CreatedBy: l.createdBy, Created: v1.Time{Time: o.created}, Comment: "hack/image"},
		})
		if err != nil {
			return nil, err
		}
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	labels := ociLabels(o)
	cf.Architecture = o.goarch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		User:       fmt.Sprint(uid),
		Entrypoint: []string{"stashflow"},
		Env:        []string{envPath, "SSL_CERT_FILE=" + caBundle, "HOME=" + home},
		WorkingDir: "/",
		Labels:     labels,
	}
	// No manifest annotations either: the tarball could not keep them.
	return mutate.ConfigFile(img, cf)
}

// ociLabels are the org.opencontainers.image.* labels of the image config.
func ociLabels(o *options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "stashflow",
		"org.opencontainers.image.description": "Kubernetes backup and restore as DAGs on Argo Workflows or a local engine",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.source":      o.source,
		"org.opencontainers.image.revision":    o.revision,
		"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
	}
}

// write writes the docker-loadable tarball, the OCI layout and the digest file, and returns
// the manifest digest.
func write(img v1.Image, tag, out string) (v1.Hash, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("-tag %q: %w", tag, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return v1.Hash{}, err
	}
	if err := tarball.WriteToFile(filepath.Join(out, tarballName), ref, img); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the tarball: %w", err)
	}
	dir := filepath.Join(out, layoutDir)
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.String(),
	})); err != nil {
		return v1.Hash{}, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, digestName), []byte(digest.String()+"\n"), 0o644); err != nil {
		return v1.Hash{}, err
	}
	return digest, nil
}

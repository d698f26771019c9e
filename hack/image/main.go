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

// Command image builds the stashflow container image without a container engine.
//
// It builds a static stashflow binary (CGO_ENABLED=0, -trimpath), takes the pinned restic
// that hack/build-tools.sh put in bin/restic, and assembles the image with
// go-containerregistry: three layers made in memory (base files; restic; stashflow) on
// top of an empty image, run as the non-root user 65532 "stashflow". The manifest uses
// Docker schema 2 media types (see assemble) so every output has the same digest.
//
//	go run ./hack/image [-version v0.1.0] [-tag ghcr.io/stashflow/stashflow:v0.1.0] [-out dist]
//
// It writes <out>/stashflow-image.tar (a tarball `docker load` and `ctr images import`
// read, and `crane push` pushes), <out>/oci (an OCI image layout) and
// <out>/stashflow-image.digest, and prints the manifest digest.
//
// The build is reproducible: every file in a layer has the same mtime (the Unix epoch),
// owner and mode, the layers are gzipped by the same code, and the image's creation time is
// SOURCE_DATE_EPOCH or else the commit time of HEAD. The same commit and Go toolchain give
// the same digest.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// options are the command's flags.
type options struct {
	root      string // repository root: go build runs here
	out       string
	version   string
	revision  string
	source    string
	tag       string
	created   time.Time
	restic    string
	stashflow string // a prebuilt binary; empty: build it
	caCerts   string
	goarch    string
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.stashflow == "" {
		tmp, err := os.MkdirTemp("", "stashflow-image-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		o.stashflow = filepath.Join(tmp, "stashflow")
		if err := buildStashflow(o); err != nil {
			return err
		}
	}
	img, err := assemble(o)
	if err != nil {
		return err
	}
	digest, err := write(img, o.tag, o.out)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", o.tag, digest)
	return nil
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	o := &options{}
	var created string
	fs.StringVar(&o.root, "root", ".", "repository root (where go.mod is)")
	fs.StringVar(&o.out, "out", "dist", "output directory")
	fs.StringVar(&o.version, "version", "", "stashflow version (default: git describe --tags --always --dirty)")
	fs.StringVar(&o.revision, "revision", "", "source revision for the label (default: git rev-parse HEAD)")
	fs.StringVar(&o.source, "source", "https://github.com/stashflow/stashflow", "source repository URL for the label")
	fs.StringVar(&o.tag, "tag", "", "image reference written into the tarball (default: ghcr.io/stashflow/stashflow:<version>)")
	fs.StringVar(&created, "created", "", "image creation time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the commit time of HEAD)")
	fs.StringVar(&o.restic, "restic", "bin/restic", "the restic binary to ship (hack/build-tools.sh restic)")
	fs.StringVar(&o.stashflow, "stashflow-binary", "", "ship this stashflow binary, and the stashflow-fn next to it, instead of building them")
	fs.StringVar(&o.caCerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to ship")
	fs.StringVar(&o.goarch, "arch", runtime.GOARCH, "GOARCH of the image (restic must match)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return nil, err
	}
	o.root = root
	for _, p := range []*string{&o.out, &o.restic, &o.caCerts} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	if o.stashflow != "" && !filepath.IsAbs(o.stashflow) {
		o.stashflow = filepath.Join(root, o.stashflow)
	}
	if o.version == "" {
		o.version = gitOr(root, "dev", "describe", "--tags", "--always", "--dirty")
	}
	if o.revision == "" {
		o.revision = gitOr(root, "unknown", "rev-parse", "HEAD")
	}
	if o.tag == "" {
		o.tag = "ghcr.io/stashflow/stashflow:" + o.version
	}
	if o.created, err = creationTime(root, created); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.restic); err != nil {
		return nil, fmt.Errorf("restic binary: %w (run `make tools` or hack/build-tools.sh restic)", err)
	}
	return o, nil
}

// creationTime is flag, else $SOURCE_DATE_EPOCH, else HEAD's commit time, else the epoch.
func creationTime(root, flagValue string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("-created: %w", err)
		}
		return t.UTC(), nil
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = gitOr(root, "0", "log", "-1", "--format=%ct")
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func gitOr(dir, fallback string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		return fallback
	}
	return strings.TrimSpace(string(out))
}

// buildStashflow builds the static binaries the way `make build` does:
// stashflow, and stashflow-fn (the light Functions alone, which `stashflow
// fn` execs) next to it.
func buildStashflow(o *options) error {
	for _, b := range []struct{ out, pkg, tags string }{
		{o.stashflow, "./cmd/stashflow", ""},
		{fnBinaryOf(o), "./cmd/stashflow-fn", "stashflow_lean"},
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags", b.tags,
			"-ldflags", "-s -w -buildid= -X main.version="+o.version,
			"-o", b.out, b.pkg)
		cmd.Dir = o.root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.goarch)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("go build %s failed (exit %d)", b.pkg, ee.ExitCode())
			}
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	return nil
}

// fnBinaryOf is stashflow-fn, next to the stashflow binary shipped.
func fnBinaryOf(o *options) string {
	return filepath.Join(filepath.Dir(o.stashflow), "stashflow-fn")
}

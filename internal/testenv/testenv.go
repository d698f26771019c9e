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

package testenv

import (
	"errors"
	"fmt"
	"github.com/stashflow/stashflow/internal/repo"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	stashflowv1alpha1 "github.com/stashflow/stashflow/api/v1alpha1"
)

// ModulePath is the module whose go.mod marks the repository root.
const ModulePath = repo.ModulePath

// Env is a running kube-apiserver and etcd with stashflow's CRDs installed.
type Env struct {
	// Config reaches the apiserver as a cluster admin.
	Config *rest.Config
	// Client is a controller-runtime client built on Scheme().
	Client client.Client
	// Scheme knows client-go's kinds, apiextensions/v1 and stashflow.dev/v1alpha1.
	Scheme *runtime.Scheme
	// RepoRoot is the repository root (the directory of stashflow's go.mod).
	RepoRoot string
	// CRDs are the CustomResourceDefinitions installed at start.
	CRDs []*apiextensionsv1.CustomResourceDefinition

	env *envtest.Environment
}

// Option changes how Start starts the environment.
type Option func(*options)

type options struct {
	extraCRDPaths []string
	attachOutput  bool
}

// WithCRDPaths installs the CRDs in these files or directories too (e.g. Argo's), besides
// config/crd/bases.
func WithCRDPaths(paths ...string) Option {
	return func(o *options) { o.extraCRDPaths = append(o.extraCRDPaths, paths...) }
}

// WithControlPlaneOutput copies the apiserver's and etcd's output to this process's stdout
// and stderr, for debugging a failing start.
func WithControlPlaneOutput() Option {
	return func(o *options) { o.attachOutput = true }
}

// Scheme returns a new scheme with client-go's kinds, apiextensions/v1 and stashflow.dev/v1alpha1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(stashflowv1alpha1.AddToScheme(s))
	return s
}

// Start starts etcd and kube-apiserver, installs the CRDs of config/crd/bases and waits until
// they are served. Call Stop when done.
func Start(opts ...Option) (*Env, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := filepath.Join(root, "bin")
	if dir, ok := os.LookupEnv("KUBEBUILDER_ASSETS"); ok {
		assets = dir
	}
	if err := checkBinaries(assets); err != nil {
		return nil, err
	}

	scheme := Scheme()
	te := &envtest.Environment{
		BinaryAssetsDirectory:    filepath.Join(root, "bin"),
		CRDDirectoryPaths:        append([]string{filepath.Join(root, "config", "crd", "bases")}, o.extraCRDPaths...),
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		AttachControlPlaneOutput: o.attachOutput,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := te.Start()
	if err != nil {
		// Start may have started etcd before the apiserver failed.
		_ = te.Stop()
		return nil, fmt.Errorf("testenv: start kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("testenv: new client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, RepoRoot: root, CRDs: te.CRDs, env: te}, nil
}

// Stop stops the apiserver and etcd and removes their temporary directories.
func (e *Env) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	if err := e.env.Stop(); err != nil {
		return fmt.Errorf("testenv: stop: %w", err)
	}
	return nil
}

// Run starts an Env, calls setup with it, runs the tests and stops the Env. It returns the
// exit code for os.Exit: 1 when the Env cannot start or setup fails, with the reason on stderr.
func Run(m *testing.M, setup func(*Env) error, opts ...Option) int {
	e, err := Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	if setup != nil {
		err = setup(e)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: setup: %v\n", err)
	} else {
		code = m.Run()
	}
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// checkBinaries fails with a clear message if kube-apiserver or etcd is missing from dir.
// TEST_ASSET_KUBE_APISERVER and TEST_ASSET_ETCD override one binary each, as in envtest.
func checkBinaries(dir string) error {
	var errs []error
	for _, name := range []string{"kube-apiserver", "etcd"} {
		path := filepath.Join(dir, name)
		if p, ok := os.LookupEnv("TEST_ASSET_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
			path = p
		}
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("testenv: %s not found at %s: run `make tools` (hack/build-tools.sh kube-apiserver etcd) to build it, or set KUBEBUILDER_ASSETS", name, path))
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("testenv: %s at %s is not an executable file: run `make tools` to rebuild it", name, path))
		}
	}
	return errors.Join(errs...)
}

// RepoRoot returns the repository root: the nearest directory at or above the working
// directory (a test's package directory) whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	return repo.Root()
}

// WriteKubeconfig writes a kubeconfig of a cluster admin of this apiserver
// to path, for a process (an operator, kubectl) started by a test.
func (e *Env) WriteKubeconfig(path string) error {
	u, err := e.env.AddUser(envtest.User{Name: "stashflow-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("testenv: add user: %w", err)
	}
	b, err := u.KubeConfig()
	if err != nil {
		return fmt.Errorf("testenv: kubeconfig: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}

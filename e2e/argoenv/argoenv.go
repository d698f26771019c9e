package argoenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	wfclientset "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	watchtools "k8s.io/client-go/tools/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/e2e/podrunner"
	"github.com/stashflow/stashflow/internal/testenv"
)

// DefaultNamespace is where workflows run unless Options.Namespace says otherwise.
const DefaultNamespace = "stashflow-e2e"

// ArgoModule is the module whose CRDs (manifests/base/crds/minimal) are installed.
const ArgoModule = "github.com/argoproj/argo-workflows/v3"

// Options tune Start. The zero value is usable.
type Options struct {
	// Namespace the controller manages and the pods run in; default DefaultNamespace.
	Namespace string
	// Commands maps a step's command name to a host executable (podrunner.Options.Commands),
	// e.g. "stashflow" → a freshly built binary.
	Commands map[string]string
	// WorkDir holds the kubeconfig, the logs and the pods' directories; default
	// a new temporary directory, removed by Stop.
	WorkDir string
	// RequeueTime is the controller's DEFAULT_REQUEUE_TIME; default 50ms.
	RequeueTime time.Duration
	// ControllerBinary is the workflow-controller to run; default
	// <repo>/bin/workflow-controller.
	ControllerBinary string
	// ControllerArgs are added to the controller's command line.
	ControllerArgs []string
	// ControllerEnv is added to the controller's environment (e.g.
	// RECENTLY_STARTED_POD_DURATION); it wins over the defaults.
	ControllerEnv []string
	// TestEnv options are passed to testenv.Start (Argo's CRDs are added).
	TestEnv []testenv.Option
}

// Timings says how long the parts took to start.
type Timings struct {
	// ControlPlane: etcd and kube-apiserver, with the CRDs served.
	ControlPlane time.Duration
	// Controller: from starting the workflow-controller (and the pod
	// runner) until the controller logs that it starts its informers.
	Controller time.Duration
	// Probe: a one-step workflow run end to end right after, which includes
	// the controller's informers syncing.
	Probe time.Duration
	// Total: all of Start.
	Total time.Duration
}

// Env is a running apiserver, workflow-controller and pod runner.
type Env struct {
	// Env is the apiserver; its Client and Scheme know Argo's types too.
	*testenv.Env
	// Namespace is where workflows run.
	Namespace string
	// Kube and Argo are clientsets for the apiserver.
	Kube kubernetes.Interface
	Argo wfclientset.Interface
	// WorkDir holds Kubeconfig, ControllerLog, RunnerLog and the pods'
	// directories (podrunner.PodDir).
	WorkDir, Kubeconfig, ControllerLog, RunnerLog string
	Timings                                       Timings

	ownWorkDir bool
	controller *exec.Cmd
	exited     chan struct{}
	stopRunner context.CancelFunc
	runnerDone chan error
	runnerLog  *os.File
}

// Start starts the apiserver, installs Argo's CRDs and the namespace's
// objects, and starts the workflow-controller and the pod runner. Call Stop
// when done, also after an error (it stops what did start).
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	begin := time.Now()
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.RequeueTime <= 0 {
		opts.RequeueTime = 50 * time.Millisecond
	}
	if opts.ControllerBinary == "" {
		opts.ControllerBinary = filepath.Join(root, "bin", "workflow-controller")
	}
	if fi, err := os.Stat(opts.ControllerBinary); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("argoenv: no workflow-controller executable at %s: run `make tools` (hack/build-tools.sh workflow-controller) to build it", opts.ControllerBinary)
	}
	crds, err := CRDDir(root)
	if err != nil {
		return nil, err
	}

	env = &Env{Namespace: opts.Namespace, WorkDir: opts.WorkDir}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.Stop())
			env = nil
		}
	}()
	if env.WorkDir == "" {
		if env.WorkDir, err = os.MkdirTemp("", "stashflow-argoenv-"); err != nil {
			return env, fmt.Errorf("argoenv: %w", err)
		}
		env.ownWorkDir = true
	}
	if err := os.MkdirAll(env.WorkDir, 0o750); err != nil {
		return env, fmt.Errorf("argoenv: %w", err)
	}
	env.Kubeconfig = filepath.Join(env.WorkDir, "kubeconfig")
	env.ControllerLog = filepath.Join(env.WorkDir, "workflow-controller.log")
	env.RunnerLog = filepath.Join(env.WorkDir, "podrunner.log")

	t0 := time.Now()
	if env.Env, err = testenv.Start(append(opts.TestEnv, testenv.WithCRDPaths(crds))...); err != nil {
		return env, err
	}
	env.Timings.ControlPlane = time.Since(t0)
	if err := env.clients(); err != nil {
		return env, err
	}
	if err := env.namespaceObjects(ctx); err != nil {
		return env, err
	}
	if err := writeKubeconfig(env.Config, env.Namespace, env.Kubeconfig); err != nil {
		return env, err
	}

	t0 = time.Now()
	if err := env.startController(ctx, opts); err != nil {
		return env, err
	}
	if err := env.startRunner(ctx, opts); err != nil {
		return env, err
	}
	if err := env.waitController(ctx, time.Minute); err != nil {
		return env, err
	}
	env.Timings.Controller = time.Since(t0)
	t0 = time.Now()
	if err := env.probe(ctx, time.Minute); err != nil {
		return env, err
	}
	env.Timings.Probe = time.Since(t0)
	env.Timings.Total = time.Since(begin)
	return env, nil
}

// Run starts an Env with opts, calls setup with it, runs the tests and stops
// the Env: the body of a TestMain. It returns the exit code for os.Exit: 1
// when the Env cannot start or setup fails, with the reason on stderr.
func Run(m *testing.M, opts Options, setup func(*Env) error) int {
	ctx := context.Background()
	env, err := Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "argoenv: started in %s (control plane %s, workflow-controller %s, probe workflow %s), work dir %s\n",
		env.Timings.Total.Round(time.Millisecond), env.Timings.ControlPlane.Round(time.Millisecond),
		env.Timings.Controller.Round(time.Millisecond), env.Timings.Probe.Round(time.Millisecond), env.WorkDir)
	code := 1
	if setup != nil {
		err = setup(env)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "argoenv: setup: %v\n", err)
	} else {
		code = m.Run()
	}
	if code != 0 {
		// Keep the logs of a failed run.
		env.ownWorkDir = false
		fmt.Fprintf(os.Stderr, "argoenv: logs kept in %s\n", env.WorkDir)
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops the pod runner (killing its processes), the controller and the
// apiserver, and removes WorkDir if Start made it.
func (e *Env) Stop() error {
	if e == nil {
		return nil
	}
	var errs []error
	if e.stopRunner != nil {
		e.stopRunner()
		if err := <-e.runnerDone; err != nil {
			errs = append(errs, err)
		}
		e.stopRunner = nil
	}
	if e.runnerLog != nil {
		_ = e.runnerLog.Close()
		e.runnerLog = nil
	}
	if e.controller != nil {
		stopProcess(e.controller.Process.Pid, e.exited, 5*time.Second)
		e.controller = nil
	}
	if e.Env != nil {
		if err := e.Env.Stop(); err != nil {
			errs = append(errs, err)
		}
		e.Env = nil
	}
	if e.ownWorkDir && e.WorkDir != "" {
		if err := os.RemoveAll(e.WorkDir); err != nil {
			errs = append(errs, fmt.Errorf("argoenv: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CRDDir is the directory of Argo's minimal CRDs in the module cache, for
// the Argo version go.mod pins; root is the repository's root.
func CRDDir(root string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", ArgoModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("argoenv: locate module %s: %w", ArgoModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "manifests", "base", "crds", "minimal")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("argoenv: Argo's CRDs: %w (run `go mod download %s`)", err, ArgoModule)
	}
	return dir, nil
}

// clients adds Argo's types to the scheme and makes the clients.
func (e *Env) clients() error {
	if err := wfv1.AddToScheme(e.Scheme); err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	c, err := client.New(e.Config, client.Options{Scheme: e.Scheme})
	if err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	e.Client = c
	if e.Kube, err = kubernetes.NewForConfig(e.Config); err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	if e.Argo, err = wfclientset.NewForConfig(e.Config); err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	return nil
}

// namespaceObjects creates what a cluster would have: the namespace, its
// default ServiceAccount (no controller-manager makes one) and the
// controller's ConfigMap.
func (e *Env) namespaceObjects(ctx context.Context) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.Namespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: e.Namespace}},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "workflow-controller-configmap", Namespace: e.Namespace},
			// No metrics server: its fixed port would clash between environments.
			Data: map[string]string{"metricsConfig": "enabled: false\n"},
		},
	}
	for _, o := range objs {
		if err := e.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("argoenv: create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// writeKubeconfig writes cfg (envtest's admin, with client certificates)
// as a kubeconfig whose context's namespace is namespace.
func writeKubeconfig(cfg *rest.Config, namespace, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		CertificateAuthority:     cfg.CAFile,
	}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientCertificate:     cfg.CertFile,
		ClientKeyData:         cfg.KeyData,
		ClientKey:             cfg.KeyFile,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest", Namespace: namespace}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("argoenv: write kubeconfig: %w", err)
	}
	return nil
}

func (e *Env) startController(_ context.Context, opts Options) error {
	logFile, err := os.OpenFile(e.ControllerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	defer func() { _ = logFile.Close() }() // the child has its own copy
	args := append([]string{
		"--kubeconfig", e.Kubeconfig,
		"--namespaced", "--managed-namespace", e.Namespace,
		"--loglevel", "info",
	}, opts.ControllerArgs...)
	cmd := exec.Command(opts.ControllerBinary, args...)
	cmd.Env = append(os.Environ(),
		"LEADER_ELECTION_DISABLE=true",
		"DEFAULT_REQUEUE_TIME="+opts.RequeueTime.String(),
	)
	cmd.Env = append(cmd.Env, opts.ControllerEnv...)
	cmd.Dir = e.WorkDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("argoenv: start workflow-controller: %w", err)
	}
	e.controller = cmd
	e.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(e.exited)
	}()
	return nil
}

// controllerStarted is what the controller logs when it starts its informers.
const controllerStarted = "Starting Workflow Controller"

// waitController waits until the controller has logged that it starts,
// failing early if it exits.
func (e *Env) waitController(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(e.ControllerLog); err == nil && strings.Contains(string(b), controllerStarted) {
			break
		}
		select {
		case <-e.exited:
			return fmt.Errorf("argoenv: workflow-controller exited during start; its log:\n%s", tail(e.ControllerLog, 40, ""))
		case <-ctx.Done():
			return fmt.Errorf("argoenv: workflow-controller not started after %s; its log:\n%s", timeout, tail(e.ControllerLog, 40, ""))
		case <-tick.C:
		}
	}
	return nil
}

// probe runs a one-step workflow through the controller and the pod
// runner, so that Start returns a chain known to work.
func (e *Env) probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	probe := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: "argoenv-probe"},
		Spec: wfv1.WorkflowSpec{
			Entrypoint: "probe",
			PodGC:      &wfv1.PodGC{Strategy: wfv1.PodGCOnPodCompletion},
			Templates: []wfv1.Template{{
				Name:      "probe",
				Container: &corev1.Container{Name: "main", Image: "probe", Command: []string{"true"}},
			}},
		},
	}
	wf, err := e.RunWorkflow(ctx, probe)
	if err != nil {
		return fmt.Errorf("argoenv: probe workflow: %w; controller log:\n%s\npod runner log:\n%s", err, tail(e.ControllerLog, 40, ""), tail(e.RunnerLog, 20, ""))
	}
	if wf.Status.Phase != wfv1.WorkflowSucceeded {
		return fmt.Errorf("argoenv: probe workflow ended %s: %s; pod runner log:\n%s", wf.Status.Phase, wf.Status.Message, tail(e.RunnerLog, 20, ""))
	}
	return e.Argo.ArgoprojV1alpha1().Workflows(e.Namespace).Delete(ctx, wf.Name, metav1.DeleteOptions{})
}

func (e *Env) startRunner(ctx context.Context, opts Options) error {
	f, err := os.OpenFile(e.RunnerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	e.runnerLog = f
	log := funcr.New(func(prefix, args string) {
		fmt.Fprintln(f, time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{})
	r, err := podrunner.New(e.Config, e.Namespace, podrunner.Options{
		Commands: opts.Commands,
		WorkDir:  filepath.Join(e.WorkDir, "pods"),
		// PATH as the runner's default; KUBECONFIG (written before the
		// runner starts) stands in for the service-account token a real
		// pod gets, for steps that call the API (exec hooks, workload
		// quiesce and resume).
		BaseEnv: []string{"PATH=" + os.Getenv("PATH"), "KUBECONFIG=" + e.Kubeconfig},
		Log:     log,
	})
	if err != nil {
		return fmt.Errorf("argoenv: %w", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{})
	e.stopRunner, e.runnerDone = cancel, make(chan error, 1)
	go func() { e.runnerDone <- r.Run(ctx, ready) }()
	select {
	case <-ready:
		return nil
	case err := <-e.runnerDone:
		e.runnerDone <- err // for Stop
		return fmt.Errorf("argoenv: pod runner: %w", err)
	case <-time.After(time.Minute):
		return errors.New("argoenv: pod runner did not sync within a minute")
	}
}

// stopProcess sends SIGTERM to the process group of pid, and SIGKILL after
// grace; exited is closed once it has been reaped.
func stopProcess(pid int, exited <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
}

// CreateWorkflow creates wf in the namespace (wf.Namespace may be empty).
// A workflow of the same name left by an earlier run of the same test in
// this environment (`go test -count=2`) is deleted first.
func (e *Env) CreateWorkflow(ctx context.Context, wf *wfv1.Workflow) (*wfv1.Workflow, error) {
	workflows := e.Argo.ArgoprojV1alpha1().Workflows(e.Namespace)
	created, err := workflows.Create(ctx, wf, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) && wf.Name != "" {
		if err := workflows.Delete(ctx, wf.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("argoenv: delete the earlier workflow %s: %w", wf.Name, err)
		}
		// Until the deletion is through; err is the last attempt's.
		_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			created, err = workflows.Create(ctx, wf, metav1.CreateOptions{})
			return !apierrors.IsAlreadyExists(err), nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("argoenv: create workflow %s: %w", wf.Name, err)
	}
	return created, nil
}

// WaitForWorkflow watches the workflow until its phase is final (Succeeded,
// Failed or Error) and returns it.
func (e *Env) WaitForWorkflow(ctx context.Context, name string) (*wfv1.Workflow, error) {
	workflows := e.Argo.ArgoprojV1alpha1().Workflows(e.Namespace)
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListFunc: func(o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return workflows.List(ctx, o)
		},
		WatchFunc: func(o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return workflows.Watch(ctx, o)
		},
	}
	ev, err := watchtools.UntilWithSync(ctx, lw, &wfv1.Workflow{}, nil, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return false, fmt.Errorf("workflow %s was deleted", name)
		case watch.Added, watch.Modified:
			wf, ok := ev.Object.(*wfv1.Workflow)
			return ok && wf.Status.Phase.Completed(), nil
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("argoenv: wait for workflow %s: %w", name, err)
	}
	return ev.Object.(*wfv1.Workflow), nil
}

// RunWorkflow creates wf and waits until it has finished.
func (e *Env) RunWorkflow(ctx context.Context, wf *wfv1.Workflow) (*wfv1.Workflow, error) {
	created, err := e.CreateWorkflow(ctx, wf)
	if err != nil {
		return nil, err
	}
	return e.WaitForWorkflow(ctx, created.Name)
}

// DumpOnFailure makes t log, if it has failed by its end, the controller's
// log lines that mention the workflow, the pod runner's, and the log of
// every pod of the workflow.
func (e *Env) DumpOnFailure(t testing.TB, workflow string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "workflow-controller log (%s), lines about %s:\n%s\n", e.ControllerLog, workflow, tail(e.ControllerLog, 60, workflow))
		fmt.Fprintf(&b, "pod runner log (%s), lines about %s:\n%s\n", e.RunnerLog, workflow, tail(e.RunnerLog, 40, workflow))
		logs, _ := filepath.Glob(filepath.Join(e.WorkDir, "pods", workflow+"-*", podrunner.LogFile))
		for _, l := range logs {
			fmt.Fprintf(&b, "%s:\n%s\n", l, tail(l, 20, ""))
		}
		t.Log(b.String())
	})
}

// tail returns the last n lines of a file that contain match.
func tail(path string, n int, match string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(io.Reader(f))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if match == "" || strings.Contains(sc.Text(), match) {
			lines = append(lines, sc.Text())
			if len(lines) > 2*n {
				lines = lines[len(lines)-n:]
			}
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

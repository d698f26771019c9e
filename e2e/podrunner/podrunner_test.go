package podrunner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/outputs"
)

func TestUnwrapEmissary(t *testing.T) {
	tcs := []struct {
		name          string
		command, args []string
		want          []string
		wantWrapped   bool
	}{
		{
			name:        "argo main container",
			command:     []string{"/var/run/argo/argoexec", "emissary", "--loglevel", "info", "--log-format", "text", "--gloglevel", "0", "--", "stashflow", "fn", "etcd-backup"},
			args:        []string{"--repository=/repo", "--"},
			want:        []string{"stashflow", "fn", "etcd-backup", "--repository=/repo", "--"},
			wantWrapped: true,
		},
		{
			name:        "a -- in the command itself is kept",
			command:     []string{"/var/run/argo/argoexec", "emissary", "--", "sh", "-c", "echo", "--"},
			want:        []string{"sh", "-c", "echo", "--"},
			wantWrapped: true,
		},
		{
			name:        "emissary with nothing after --",
			command:     []string{"/var/run/argo/argoexec", "emissary", "--"},
			args:        []string{"a"},
			want:        []string{"a"},
			wantWrapped: true,
		},
		{
			name:    "plain container",
			command: []string{"sh", "-c", "true"},
			args:    []string{"x"},
			want:    []string{"sh", "-c", "true", "x"},
		},
		{
			name:    "argoexec wait is not emissary",
			command: []string{"argoexec", "wait", "--loglevel", "info"},
			want:    []string{"argoexec", "wait", "--loglevel", "info"},
		},
		{
			name:    "emissary without -- is left alone",
			command: []string{"/var/run/argo/argoexec", "emissary"},
			want:    []string{"/var/run/argo/argoexec", "emissary"},
		},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			got, wrapped := unwrapEmissary(tc.command, tc.args)
			if diff := cmp.Diff(tc.want, got); diff != "" || wrapped != tc.wantWrapped {
				t.Errorf("unwrapEmissary() wrapped=%v (want %v), argv (-want +got):\n%s", wrapped, tc.wantWrapped, diff)
			}
		})
	}
}

// TestExpand pins the kubelet's $(VAR) rules, which the Argo renderer's
// kubeLiteral escaping relies on.
func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": "", "B": "$(A)"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tcs := map[string]string{
		"":                     "",
		"plain":                "plain",
		"$(A)":                 "1",
		"x$(A)y$(A)":           "x1y1",
		"$(EMPTY)":             "",
		"$(MISSING)":           "$(MISSING)",
		"$$(A)":                "$(A)",
		"$$$(A)":               "$1",
		"$$$$":                 "$$",
		"$(B)":                 "$(A)", // values are not expanded again
		"n=$$((n + 1))":        "n=$((n + 1))",
		"$$(cat f || echo 0)":  "$(cat f || echo 0)",
		"${HOME} $HOME $":      "${HOME} $HOME $",
		"$(A":                  "$(A",
		"a$":                   "a$",
		"$(A)$(A":              "1$(A",
		"echo \"$1\" $$ $(A)$": "echo \"$1\" $ 1$",
	}
	for in, want := range tcs {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeObjects serves Secrets, ConfigMaps, PersistentVolumeClaims and
// PersistentVolumes from memory.
type fakeObjects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
	claims     map[string]*corev1.PersistentVolumeClaim
	volumes    map[string]*corev1.PersistentVolume
}

func (f fakeObjects) secret(_ context.Context, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

func (f fakeObjects) configMap(_ context.Context, name string) (*corev1.ConfigMap, error) {
	if c, ok := f.configMaps[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

func (f fakeObjects) claim(_ context.Context, name string) (*corev1.PersistentVolumeClaim, error) {
	if c, ok := f.claims[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("persistentvolumeclaims"), name)
}

func (f fakeObjects) persistentVolume(_ context.Context, name string) (*corev1.PersistentVolume, error) {
	if v, ok := f.volumes[name]; ok {
		return v, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("persistentvolumes"), name)
}

func mustPod(t *testing.T, file string) *corev1.Pod {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(b, &pod); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &pod
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestPlanArgoPod plans a pod exactly as workflow-controller v3.7.3 made
// it, and collects its outputs as the wait container would.
func TestPlanArgoPod(t *testing.T) {
	pod := mustPod(t, "argo-pod.yaml")
	podDir, workDir := t.TempDir(), t.TempDir()
	p, err := planPod(context.Background(), pod, fakeObjects{}, podDir, workDir, []string{"PATH=/usr/bin:/bin"})
	if err != nil {
		t.Fatalf("planPod() error = %v", err)
	}
	outDir := filepath.Join(podDir, "volumes", "stashflow-outputs")
	if p.argv[0] != "sh" || p.argv[1] != "-c" || p.argv[3] != "produce" || len(p.argv) != 4 {
		t.Errorf("argv = %q, want sh -c SCRIPT produce", p.argv)
	}
	if !strings.Contains(p.argv[2], `out="${STASHFLOW_OUTPUT_DIR:-`+outDir+`}"`) {
		t.Errorf("script does not have the output dir mapped to %s:\n%s", outDir, p.argv[2])
	}
	env := envMap(p.env)
	for k, want := range map[string]string{
		"PATH":                "/usr/bin:/bin",
		outputs.DirEnv:        outDir,
		"ARGO_CONTAINER_NAME": "main",
		"ARGO_NODE_ID":        "capture-3151704423",
	} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	if want := filepath.Join(podDir, "work"); p.dir != want {
		t.Errorf("dir = %q, want %q", p.dir, want)
	}
	if p.template == nil || len(p.template.Outputs.Parameters) != 2 {
		t.Fatalf("template outputs not read from ARGO_TEMPLATE: %+v", p.template)
	}

	if _, err := collectOutputs(p); err == nil || !strings.Contains(err.Error(), "/tmp/stashflow/outputs/id") {
		t.Errorf("collectOutputs() with no files: error = %v, want one naming the container path", err)
	}
	for name, content := range map[string]string{"id": "snap-42\n", "raw": "line1\nline2\n\n"} {
		if err := os.WriteFile(filepath.Join(outDir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := collectOutputs(p)
	if err != nil {
		t.Fatalf("collectOutputs() error = %v", err)
	}
	got := map[string]string{}
	for _, param := range out.Parameters {
		got[param.Name] = param.Value.String()
	}
	if diff := cmp.Diff(map[string]string{"id": "snap-42", "raw": "line1\nline2\n"}, got); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}

	tr := taskResult(pod, "true", out)
	if tr.Name != "capture-3151704423" || tr.Labels[LabelWorkflow] != "capture" || tr.Labels[LabelReportOutputsCompleted] != "true" {
		t.Errorf("task result = %+v", tr.ObjectMeta)
	}
	if len(tr.OwnerReferences) != 1 || tr.OwnerReferences[0].Kind != "Workflow" || tr.OwnerReferences[0].Controller != nil {
		t.Errorf("task result owner references = %+v", tr.OwnerReferences)
	}
}

// TestPlanEnvAndVolumes covers what Argo pods of stashflow carry besides
// the basics: Secret, ConfigMap and downward-API env, $(VAR) expansion, and
// hostPath, emptyDir, configMap, secret and claim volumes mapped into the
// command, args, env and working directory.
func TestPlanEnvAndVolumes(t *testing.T) {
	hostData := t.TempDir()
	optional := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostData}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", Items: []corev1.KeyToPath{{Key: "password", Path: "pw/file"}}}}},
				{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "backup-pvc"}}},
			},
			Containers: []corev1.Container{{Name: "wait"}, {
				Name:       "main",
				Command:    []string{"/var/run/argo/argoexec", "emissary", "--", "tool", "--data=/data/db", "$(MODE)"},
				Args:       []string{"--cfg=/etc/cfg/mode", "$$(MODE)", "/scratch/$(POD)"},
				WorkingDir: "/data",
				Env: []corev1.EnvVar{
					{Name: "MODE", Value: "full"},
					{Name: "TARGET", Value: "/restore/$(MODE)"},
					{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "password"}}},
					{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "level"}}},
					{Name: "GONE", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &optional}}},
					{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
					{Name: "SECRET_PATH", Value: "/data/$(PASSWORD)"},
					{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1")}}},
					{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
					{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu"}}},
				},
				Resources: corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("300000Ki")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "data", MountPath: "/data"},
					{Name: "scratch", MountPath: "/scratch"},
					{Name: "cfg", MountPath: "/etc/cfg"},
					{Name: "creds", MountPath: "/etc/creds"},
					{Name: "claim", MountPath: "/restore", SubPath: "sub"},
				},
			}},
		},
	}
	objs := fakeObjects{
		secrets:    map[string]*corev1.Secret{"s": {Data: map[string][]byte{"password": []byte("hunter2")}}},
		configMaps: map[string]*corev1.ConfigMap{"cm": {Data: map[string]string{"level": "3", "mode": "fast"}}},
		// Unbound: a directory of its own under the work dir.
		claims: map[string]*corev1.PersistentVolumeClaim{"backup-pvc": {}},
	}
	podDir, workDir := t.TempDir(), t.TempDir()
	p, err := planPod(context.Background(), pod, objs, podDir, workDir, nil)
	if err != nil {
		t.Fatalf("planPod() error = %v", err)
	}
	scratch := filepath.Join(podDir, "volumes", "scratch")
	claim := filepath.Join(workDir, "claims", "backup-pvc", "sub")
	cfg := filepath.Join(podDir, "volumes", "cfg")
	wantArgv := []string{"tool", "--data=" + hostData + "/db", "full", "--cfg=" + cfg + "/mode", "$(MODE)", scratch + "/p"}
	if diff := cmp.Diff(wantArgv, p.argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if p.dir != hostData {
		t.Errorf("dir = %q, want the hostPath %q", p.dir, hostData)
	}
	wantEnv := map[string]string{
		"MODE": "full", "TARGET": claim + "/full", "PASSWORD": "hunter2", "LEVEL": "3", "POD": "p", "APP": "x",
		// A literal's paths are mapped after expansion; secret values are not touched.
		"SECRET_PATH": hostData + "/hunter2",
		// Resources in units of the divisor, rounded up.
		"MEM": "307200000", "MEM_MI": "293", "CPU": "2",
	}
	if diff := cmp.Diff(wantEnv, envMap(p.env)); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(cfg, "mode")); err != nil || string(b) != "fast" {
		t.Errorf("configMap volume file mode = %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(podDir, "volumes", "creds", "pw", "file")); err != nil || string(b) != "hunter2" {
		t.Errorf("secret volume item pw/file = %q, %v", b, err)
	}

	// A missing Secret keeps the pod waiting, as the kubelet does.
	delete(objs.secrets, "s")
	_, err = planPod(context.Background(), pod, objs, t.TempDir(), workDir, nil)
	var cfgErr *configError
	if !errors.As(err, &cfgErr) {
		t.Errorf("planPod() without the Secret: error = %v, want a configError", err)
	}
}

func TestPlanRejects(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Command: []string{"true"}}}}}
	}
	tcs := map[string]func(*corev1.Pod){
		"two main containers": func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar"}) },
		"no command":          func(p *corev1.Pod) { p.Spec.Containers[0].Command = nil },
		"unmappable volume": func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "nfs", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{}}}}
		},
		"mount of an unknown volume": func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "x", MountPath: "/x"}}
		},
		"unsupported fieldRef": func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.phase"}}}}
		},
		"resourceFieldRef to a limit the container does not set": func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}}}
		},
	}
	for name, spoil := range tcs {
		t.Run(name, func(t *testing.T) {
			pod := base()
			spoil(pod)
			_, err := planPod(context.Background(), pod, fakeObjects{}, t.TempDir(), t.TempDir(), nil)
			var cfgErr *configError
			if err == nil || errors.As(err, &cfgErr) {
				t.Errorf("planPod() error = %v, want a permanent error", err)
			}
		})
	}
}

// TestPlanClaims: a persistentVolumeClaim volume is the host directory of
// the PersistentVolume it is bound to when that is a hostPath or local
// volume, else a directory of the claim's own; a claim (or its PV) that does
// not exist keeps the pod from starting.
func TestPlanClaims(t *testing.T) {
	base := t.TempDir()
	hostPV := filepath.Join(base, "host-pv", "data") // not there yet: created
	localPV := filepath.Join(base, "local-pv")
	volumes := map[string]*corev1.PersistentVolume{
		"pv-host": {Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: hostPV},
		}}},
		"pv-local": {Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			Local: &corev1.LocalVolumeSource{Path: localPV},
		}}},
		"pv-nfs": {Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/export"},
		}}},
	}
	boundTo := func(pv string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{VolumeName: pv}}
	}
	tcs := []struct {
		name  string
		claim *corev1.PersistentVolumeClaim // nil: the claim does not exist
		// want is the host directory of /data, under the work dir if relative.
		want string
		// wantUnschedulable is the message of the unschedulableError.
		wantUnschedulable string
	}{
		{name: "bound to a hostPath PV", claim: boundTo("pv-host"), want: hostPV},
		{name: "bound to a local PV", claim: boundTo("pv-local"), want: localPV},
		{name: "unbound", claim: &corev1.PersistentVolumeClaim{}, want: "claims/data-claim"},
		{name: "bound to a PV of another kind", claim: boundTo("pv-nfs"), want: "claims/data-claim"},
		{name: "missing claim", wantUnschedulable: `persistentvolumeclaim "data-claim" not found`},
		{name: "bound to a missing PV", claim: boundTo("pv-gone"), wantUnschedulable: `persistentvolumeclaim "data-claim" is bound to persistentvolume "pv-gone", which is not found`},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
				Spec: corev1.PodSpec{
					Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-claim", ReadOnly: true},
					}}},
					Containers: []corev1.Container{{
						Name: "main", Command: []string{"tool", "/data/db"},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
					}},
				},
			}
			objs := fakeObjects{volumes: volumes, claims: map[string]*corev1.PersistentVolumeClaim{}}
			if tc.claim != nil {
				objs.claims["data-claim"] = tc.claim
			}
			workDir := t.TempDir()
			p, err := planPod(context.Background(), pod, objs, t.TempDir(), workDir, nil)
			if tc.wantUnschedulable != "" {
				var unsched *unschedulableError
				if !errors.As(err, &unsched) {
					t.Fatalf("planPod() error = %v, want an unschedulableError", err)
				}
				if diff := cmp.Diff(tc.wantUnschedulable, unsched.Error()); diff != "" {
					t.Errorf("unschedulable message (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("planPod() error = %v", err)
			}
			want := tc.want
			if !filepath.IsAbs(want) {
				want = filepath.Join(workDir, want)
			}
			if diff := cmp.Diff([]string{"tool", want + "/db"}, p.argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
			if fi, err := os.Stat(want); err != nil || !fi.IsDir() {
				t.Errorf("the claim's directory %s was not created: %v", want, err)
			}
		})
	}
}

// The API tests below share one kube-apiserver (with Argo's CRDs, which the
// Runner watches), started by the first test that needs it and stopped by
// TestMain, so that the unit tests above need none.
var (
	apiOnce sync.Once
	api     *testenv.Env
	apiErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := api.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// apiserver is envtest's kube-apiserver with Argo's CRDs installed.
func apiserver(t *testing.T) *testenv.Env {
	t.Helper()
	apiOnce.Do(func() {
		// Argo's minimal CRDs, from the module cache (argoenv.CRDDir, which
		// this package cannot import).
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-workflows/v3").Output()
		if err != nil {
			apiErr = fmt.Errorf("locate Argo's module: %w", err)
			return
		}
		crds := filepath.Join(strings.TrimSpace(string(out)), "manifests", "base", "crds", "minimal")
		api, apiErr = testenv.Start(testenv.WithCRDPaths(crds))
	})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return api
}

// startRunner makes namespace (with its default ServiceAccount) and runs a
// Runner for it until the test ends; it returns a clientset and the runner's
// WorkDir.
func startRunner(t *testing.T, namespace string) (kubernetes.Interface, string) {
	t.Helper()
	env := apiserver(t)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: namespace}}
	if _, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	workDir := t.TempDir()
	r, err := New(env.Config, namespace, Options{WorkDir: workDir})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- r.Run(runCtx, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Runner.Run() = %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Runner.Run() = %v before it was ready", err)
	case <-time.After(time.Minute):
		t.Fatal("the runner did not sync within a minute")
	}
	return kube, workDir
}

// shPod is a pod whose main container runs script with sh, with spec.nodeName
// in $NODE and /out mapped to outDir.
func shPod(name, script, outDir string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Volumes: []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: outDir},
			}}},
			Containers: []corev1.Container{{
				Name: "main", Image: "sh", Command: []string{"sh", "-c", script},
				Env: []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
				}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "out", MountPath: "/out"}},
			}},
		},
	}
}

// waitPod polls the pod until done says so, and returns it.
func waitPod(t *testing.T, kube kubernetes.Interface, namespace, name string, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		pod, err = kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && done(pod), err
	})
	if err != nil {
		t.Fatalf("pod %s: %v; last seen: spec.nodeName=%q status=%+v", name, err, pod.Spec.NodeName, pod.Status)
	}
	return pod
}

func ended(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// TestRunnerBindsPinnedPods: a pod pinned to one node (matchFields
// metadata.name In [node], or nodeSelector kubernetes.io/hostname) is bound
// to it through pods/binding before it runs, and sees it in a fieldRef
// spec.nodeName; other pods stay unbound. No Node object exists.
func TestRunnerBindsPinnedPods(t *testing.T) {
	const ns = "podrunner-bind"
	kube, _ := startRunner(t, ns)
	// The apiserver allows one value for a matchFields In or NotIn.
	affinity := func(op corev1.NodeSelectorOperator, node string) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}},
				{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: op, Values: []string{node}}}},
			}},
		}}
	}
	type outcome struct {
		NodeName string
		Phase    corev1.PodPhase
		// Node is what the process read from $NODE.
		Node string
	}
	tcs := []struct {
		name string
		pin  func(*corev1.PodSpec)
		want outcome
	}{
		{
			name: "matchfields",
			pin:  func(s *corev1.PodSpec) { s.Affinity = affinity(corev1.NodeSelectorOpIn, "node-a") },
			want: outcome{NodeName: "node-a", Phase: corev1.PodSucceeded, Node: "node-a"},
		},
		{
			name: "hostname-selector",
			pin:  func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"kubernetes.io/hostname": "node-b"} },
			want: outcome{NodeName: "node-b", Phase: corev1.PodSucceeded, Node: "node-b"},
		},
		{
			name: "matchfields-notin",
			pin:  func(s *corev1.PodSpec) { s.Affinity = affinity(corev1.NodeSelectorOpNotIn, "node-a") },
			want: outcome{Phase: corev1.PodSucceeded},
		},
		{
			name: "unpinned",
			pin:  func(*corev1.PodSpec) {},
			want: outcome{Phase: corev1.PodSucceeded},
		},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			pod := shPod(tc.name, `printf %s "$NODE" > /out/node`, out)
			tc.pin(&pod.Spec)
			if _, err := kube.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			pod = waitPod(t, kube, ns, pod.Name, ended)
			b, err := os.ReadFile(filepath.Join(out, "node"))
			if err != nil {
				t.Errorf("the process did not write its node: %v", err)
			}
			got := outcome{NodeName: pod.Spec.NodeName, Phase: pod.Status.Phase, Node: string(b)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pod (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunnerClaims: a pod whose claim does not exist stays Pending and
// unbound, marked Unschedulable with a message naming the claim, and does
// not run; once the claim exists, bound to a hostPath PersistentVolume, the
// pod is bound to its node and runs on the PV's directory (created).
func TestRunnerClaims(t *testing.T) {
	const ns = "podrunner-claims"
	kube, workDir := startRunner(t, ns)
	ctx := context.Background()
	pvDir := filepath.Join(t.TempDir(), "pv")
	out := t.TempDir()

	pod := shPod("uses-claim", `echo written > /data/file && printf %s "$NODE" > /out/node`, out)
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-c"}}}},
		}},
	}}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "workload-data"},
	}})
	pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	unschedulable := func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true
			}
		}
		return false
	}
	pod = waitPod(t, kube, ns, pod.Name, unschedulable)
	type pending struct {
		Phase      corev1.PodPhase
		NodeName   string
		Conditions []corev1.PodCondition
		Containers int
	}
	want := pending{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: `persistentvolumeclaim "workload-data" not found`,
	}}}
	got := pending{Phase: pod.Status.Phase, NodeName: pod.Spec.NodeName, Conditions: pod.Status.Conditions, Containers: len(pod.Status.ContainerStatuses)}
	for i := range got.Conditions {
		got.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pod without its claim (-want +got):\n%s", diff)
	}
	// The runner looks again every second: give it a few looks.
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(out, "node")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pod ran without its claim (stat: %v)", err)
	}
	if p, err := kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil || p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
		t.Errorf("pod without its claim: phase %q, node %q, err %v; want Pending and unbound", p.Status.Phase, p.Spec.NodeName, err)
	}

	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "podrunner-workload-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: "workload-data"},
		},
	}
	if _, err := kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "workload-data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			VolumeName:  pv.Name,
		},
	}
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	pod = waitPod(t, kube, ns, pod.Name, ended)
	if pod.Status.Phase != corev1.PodSucceeded || pod.Spec.NodeName != "node-c" {
		t.Errorf("pod with its claim: phase %q, node %q; want Succeeded on node-c", pod.Status.Phase, pod.Spec.NodeName)
	}
	if b, err := os.ReadFile(filepath.Join(pvDir, "file")); err != nil || string(b) != "written\n" {
		t.Errorf("the PV's directory %s/file = %q, %v; want what the pod wrote to /data/file", pvDir, b, err)
	}
	if _, err := os.Stat(filepath.Join(workDir, "claims", pvc.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a directory of the claim's own was made for a claim bound to a hostPath PV (stat: %v)", err)
	}
}

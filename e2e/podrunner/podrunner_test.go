package podrunner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

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

// fakeObjects serves Secrets and ConfigMaps from memory.
type fakeObjects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
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

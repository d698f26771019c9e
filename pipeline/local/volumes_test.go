package local

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/pipeline"
)

func TestRewriterApply(t *testing.T) {
	s := &pipeline.Step{Name: "s", Process: pipeline.Process{VolumeMounts: []corev1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "nested", MountPath: "/data/nested/"},
		{Name: "sub", MountPath: "/sub", SubPath: "a/b"},
	}}}
	rw, err := stepRewrites(s, map[string]string{"data": "/host/data", "nested": "/host/n", "sub": "/host/s"}, "/work/s/outputs")
	if err != nil {
		t.Fatal(err)
	}
	tcs := []struct{ in, want string }{
		{"/data", "/host/data"},
		{"/data/", "/host/data/"},
		{"/data/file", "/host/data/file"},
		{"--dir=/data/x", "--dir=/host/data/x"},
		{"cat /data/a /data/b", "cat /host/data/a /host/data/b"},
		{"'/data/a'", "'/host/data/a'"},
		{"/data/nested/f", "/host/n/f"},
		{"/sub/f", "/host/s/a/b/f"},
		{"/tmp/stashflow/outputs/id", "/work/s/outputs/id"},
		{"${STASHFLOW_OUTPUT_DIR:-/tmp/stashflow/outputs}/id", "${STASHFLOW_OUTPUT_DIR:-/work/s/outputs}/id"},
		// Not a mount: a longer name, a deeper path, a relative path.
		{"/database", "/database"},
		{"/data.bak", "/data.bak"},
		{"/data-2", "/data-2"},
		{"/x/data/f", "/x/data/f"},
		{"data/f", "data/f"},
		{"no slash", "no slash"},
		{"", ""},
	}
	for _, tc := range tcs {
		if got := rw.Apply(tc.in); got != tc.want {
			t.Errorf("apply(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStepRewritesRejectsRoot(t *testing.T) {
	s := &pipeline.Step{Name: "s", Process: pipeline.Process{VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/"}}}}
	if _, err := stepRewrites(s, map[string]string{"root": "/x"}, "/o"); err == nil {
		t.Error("a mount at / was accepted")
	}
}

func TestResolveVolumes(t *testing.T) {
	workDir := t.TempDir()
	g := &pipeline.Graph{
		Volumes: []corev1.Volume{
			{Name: "empty", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/backups"}}},
			{Name: "unused", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}},
			{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
		},
		Steps: []pipeline.Step{{Name: "a", Process: pipeline.Process{VolumeMounts: []corev1.VolumeMount{
			{Name: "empty", MountPath: "/e"}, {Name: "host", MountPath: "/h"}, {Name: "secret", MountPath: "/s"},
		}}}},
	}
	got, _, err := resolveVolumes(g, map[string]string{"secret": "/etc/mysecret"}, workDir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"empty": workDir + "/.volumes/empty", "host": "/var/backups", "secret": "/etc/mysecret"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resolveVolumes mismatch (-want +got):\n%s", diff)
	}
	if _, _, err := resolveVolumes(g, nil, workDir); err == nil || err.Error() != `step "a": volume "secret" has no host directory: only hostPath and emptyDir volumes map by themselves, map it in the engine's volumes` {
		t.Errorf("resolveVolumes without a mapping for the secret volume: error = %v", err)
	}
	g.Steps[0].Process.VolumeMounts = []corev1.VolumeMount{{Name: "ghost", MountPath: "/g"}}
	if _, _, err := resolveVolumes(g, nil, workDir); err == nil || err.Error() != `step "a": volume "ghost" is mounted but not declared in the graph` {
		t.Errorf("resolveVolumes with an undeclared volume: error = %v", err)
	}
}

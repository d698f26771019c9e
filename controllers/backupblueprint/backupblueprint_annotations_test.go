package backupblueprint

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

func TestWorkloadFiles(t *testing.T) {
	const (
		paths       = v1alpha1.AnnotationTargetPaths
		mounts      = v1alpha1.AnnotationVolumeMounts
		stashPaths  = v1alpha1.StashAnnotationTargetPaths
		stashMounts = v1alpha1.StashAnnotationVolumeMounts
	)
	many := func(n int, f func(int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return strings.Join(s, ",")
	}
	cases := []struct {
		name        string
		annotations map[string]string
		wantPaths   []string
		wantMounts  []corev1.VolumeMount
		// wantErr is the error's message; "" means none.
		wantErr string
	}{
		{
			name:        "ours",
			annotations: map[string]string{paths: "/data , /etc/app", mounts: "data:/data, config:/etc/app:app"},
			wantPaths:   []string{"/data", "/etc/app"},
			wantMounts:  []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "config", MountPath: "/etc/app", SubPath: "app"}},
		},
		{
			name:        "Stash's",
			annotations: map[string]string{stashPaths: "/source/data", stashMounts: "source-data:/source/data"},
			wantPaths:   []string{"/source/data"},
			wantMounts:  []corev1.VolumeMount{{Name: "source-data", MountPath: "/source/data"}},
		},
		{
			name:        "ours win, key by key",
			annotations: map[string]string{paths: "/ours", stashPaths: "/stash", stashMounts: "v:/stash"},
			wantPaths:   []string{"/ours"},
			wantMounts:  []corev1.VolumeMount{{Name: "v", MountPath: "/stash"}},
		},
		{
			name:        "an empty one of ours leaves Stash's",
			annotations: map[string]string{paths: "", stashPaths: "/stash"},
			wantPaths:   []string{"/stash"},
		},
		{
			name:        "no volume mounts",
			annotations: map[string]string{paths: "/data"},
			wantPaths:   []string{"/data"},
		},
		{
			name:        "no paths",
			annotations: map[string]string{mounts: "data:/data"},
			wantErr:     "annotation stashflow.dev/target-paths (or stash.appscode.com/target-paths) is missing: a Deployment is backed up by the paths it names, comma-separated absolute paths such as /data",
		},
		{
			name:        "a relative path",
			annotations: map[string]string{paths: "/data,data"},
			wantErr:     `annotation stashflow.dev/target-paths: path "data" is not absolute`,
		},
		{
			name:        "a relative path under Stash's key",
			annotations: map[string]string{stashPaths: "./data"},
			wantErr:     `annotation stash.appscode.com/target-paths: path "./data" is not absolute`,
		},
		{
			name:        "an empty path",
			annotations: map[string]string{paths: "/data,"},
			wantErr:     `annotation stashflow.dev/target-paths: an empty entry in "/data,": want comma-separated absolute paths`,
		},
		{
			name:        "too many paths",
			annotations: map[string]string{paths: many(65, func(i int) string { return fmt.Sprintf("/p%d", i) })},
			wantErr:     "annotation stashflow.dev/target-paths: 65 paths, at most 64",
		},
		{
			name:        "a mount without a path",
			annotations: map[string]string{paths: "/data", mounts: "data:/data,scratch"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry "scratch": want volumeName:mountPath or volumeName:mountPath:subPath`,
		},
		{
			name:        "a mount of four parts under Stash's key",
			annotations: map[string]string{paths: "/data", stashMounts: "data:/data:sub:x"},
			wantErr:     `annotation stash.appscode.com/volume-mounts: entry "data:/data:sub:x": want volumeName:mountPath or volumeName:mountPath:subPath`,
		},
		{
			name:        "a relative mount path",
			annotations: map[string]string{paths: "/data", mounts: "data:data"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry "data:data": mount path "data" is not an absolute path`,
		},
		{
			name:        "a bad volume name",
			annotations: map[string]string{paths: "/data", mounts: "Data_1:/data"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry "Data_1:/data": volume name "Data_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
		},
		{
			name:        "an empty volume name",
			annotations: map[string]string{paths: "/data", mounts: ":/data"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry ":/data": volume name "": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
		},
		{
			name:        "a subPath out of the volume",
			annotations: map[string]string{paths: "/data", mounts: "data:/data:../etc"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry "data:/data:../etc": subPath "../etc" is not a relative path without '..'`,
		},
		{
			name:        "an empty subPath",
			annotations: map[string]string{paths: "/data", mounts: "data:/data:"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry "data:/data:": subPath "" is not a relative path without '..'`,
		},
		{
			name:        "one mount path twice",
			annotations: map[string]string{paths: "/data", mounts: "a:/data,b:/data"},
			wantErr:     `annotation stashflow.dev/volume-mounts: entry "b:/data": mount path /data is mounted twice`,
		},
		{
			name:        "too many mounts",
			annotations: map[string]string{paths: "/data", mounts: many(33, func(i int) string { return fmt.Sprintf("v%d:/m%d", i, i) })},
			wantErr:     "annotation stashflow.dev/volume-mounts: 33 volume mounts, at most 32",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gotPaths, gotMounts, err := workloadFiles("Deployment", tc.annotations)
			if msg := errString(err); msg != tc.wantErr {
				t.Fatalf("error = %q, want %q", msg, tc.wantErr)
			}
			if err != nil {
				if ae := (*annotationError)(nil); !errors.As(err, &ae) {
					t.Errorf("error is a %T, want an *annotationError", err)
				}
				return
			}
			if diff := cmp.Diff(tc.wantPaths, gotPaths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantMounts, gotMounts); diff != "" {
				t.Errorf("volume mounts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnnotationFallsBackToStash(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		key         string
		wantValue   string
		wantFrom    string
	}{
		{"ours", map[string]string{v1alpha1.AnnotationBackupBlueprint: "a", v1alpha1.StashAnnotationBackupBlueprint: "b"}, v1alpha1.AnnotationBackupBlueprint, "a", v1alpha1.AnnotationBackupBlueprint},
		{"Stash's", map[string]string{v1alpha1.StashAnnotationSchedule: "@daily"}, v1alpha1.AnnotationSchedule, "@daily", v1alpha1.StashAnnotationSchedule},
		{"neither", map[string]string{}, v1alpha1.AnnotationVolumeMounts, "", v1alpha1.AnnotationVolumeMounts},
		{"a blueprint's own key has no Stash twin", map[string]string{v1alpha1.StashAnnotationBackupBlueprint: "b"}, "example.com/blueprint", "", "example.com/blueprint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			value, from := annotation(tc.annotations, tc.key)
			if diff := cmp.Diff([2]string{tc.wantValue, tc.wantFrom}, [2]string{value, from}); diff != "" {
				t.Errorf("annotation(%q) (-want +got):\n%s", tc.key, diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

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

package v1alpha1_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/testenv"
)

// The admission test runs every example of examples/kinds and a table of invalid objects
// through a real kube-apiserver with the generated CRDs, so that the markers in this package
// are checked where they take effect: in the apiserver's schema and CEL validation.

const testNamespace = "admission"

var (
	env         *testenv.Env
	examplesDir string
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		env = e
		examplesDir = filepath.Join(e.RepoRoot, "examples", "kinds")
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}
		return e.Client.Create(context.Background(), ns)
	}))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestCRDsEstablished checks that every CRD in config/crd/bases was accepted and is served.
func TestCRDsEstablished(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.RepoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (err %v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var want apiextensionsv1.CustomResourceDefinition
			mustParse(t, f, &want)
			var got apiextensionsv1.CustomResourceDefinition
			if err := env.Client.Get(ctx(t), client.ObjectKey{Name: want.Name}, &got); err != nil {
				t.Fatalf("get CRD: %v", err)
			}
			for _, ct := range []apiextensionsv1.CustomResourceDefinitionConditionType{apiextensionsv1.Established, apiextensionsv1.NamesAccepted} {
				if !crdCondition(&got, ct) {
					t.Errorf("CRD %s: condition %s is not True; conditions: %+v", got.Name, ct, got.Status.Conditions)
				}
			}
			if diff := cmp.Diff(want.Spec.Names, got.Spec.Names); diff != "" {
				t.Errorf("CRD %s names (-file +server):\n%s", got.Name, diff)
			}
		})
	}
}

func crdCondition(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == t {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// TestExamplesCoverEveryKind checks that examples/kinds has <kind>.yaml for every kind.
func TestExamplesCoverEveryKind(t *testing.T) {
	var missing []string
	for kind := range env.Scheme.KnownTypes(v1alpha1.GroupVersion) {
		if strings.HasSuffix(kind, "List") || strings.HasSuffix(kind, "Options") || kind == "WatchEvent" || kind == "Status" {
			continue
		}
		if _, err := os.Stat(filepath.Join(examplesDir, strings.ToLower(kind)+".yaml")); err != nil {
			missing = append(missing, kind)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("examples/kinds has no example for %v", missing)
	}
}

// TestExamplesAccepted creates every example with strict field validation, reads it back and
// checks that the apiserver kept the spec as written (nothing pruned by the schema), and that
// the example decodes strictly into the Go type.
func TestExamplesAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s (err %v)", examplesDir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			u := &unstructured.Unstructured{}
			mustParse(t, f, &u.Object)

			typed, err := env.Scheme.New(u.GroupVersionKind())
			if err != nil {
				t.Fatalf("kind %s is not in the scheme: %v", u.GroupVersionKind(), err)
			}
			mustParse(t, f, typed)

			setNamespace(t, u)
			if err := env.Client.Create(ctx(t), u, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create: %v", err)
			}
			// Leave the apiserver as found: the test runs again with -count=2.
			t.Cleanup(func() {
				if err := env.Client.Delete(context.Background(), u); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("delete: %v", err)
				}
			})
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := env.Client.Get(ctx(t), client.ObjectKeyFromObject(u), got); err != nil {
				t.Fatalf("get: %v", err)
			}
			want := readSpec(t, f)
			if diff := cmp.Diff(want, normalize(t, got.Object["spec"])); diff != "" {
				t.Errorf("spec changed by the apiserver (-file +server):\n%s", diff)
			}
		})
	}
}

// TestExampleVariantsAccepted checks forms that the rules must let through.
func TestExampleVariantsAccepted(t *testing.T) {
	tests := []struct {
		name string
		obj  func(*testing.T) client.Object
	}{
		{"paused configuration without schedule", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Schedule = ""; o.Spec.Paused = true })},
		{"schedule descriptor", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Schedule = "@every 6h" })},
		{"schedule with seconds and time zone", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Schedule = "CRON_TZ=Europe/Paris 0 30 2 * * *" })},
		{"configuration with task and no target", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Target = nil })},
		{"configuration with target and no task", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Task = nil })},
		{"compound timeOut", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.TimeOut = "1h30m" })},
		{"local repository on a claim", from(func(o *v1alpha1.Repository) {
			o.Spec.Backend.Local.HostPath = nil
			o.Spec.Backend.Local.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "repo"}
		})},
		{"rest backend", from(func(o *v1alpha1.Repository) {
			o.Spec.Backend.Local = nil
			o.Spec.Backend.Rest = &v1alpha1.RestServerSpec{URL: "https://rest.backup:8000/etcd"}
		})},
		{"rest backend with @ in the path and query", from(func(o *v1alpha1.Repository) {
			o.Spec.Backend.Local = nil
			o.Spec.Backend.Rest = &v1alpha1.RestServerSpec{URL: "http://[fd00::1]:8000/team@example/etcd?owner=a@b"}
		})},
		{"app binding by url", from(func(o *v1alpha1.AppBinding) {
			o.Spec.ClientConfig.Service = nil
			o.Spec.ClientConfig.URL = ptr.To("https://etcd.example.com:2379")
		})},
		{"restore batch in parallel", from(func(o *v1alpha1.RestoreBatch) { o.Spec.ExecutionOrder = v1alpha1.Parallel })},
		{"driver Restic", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Driver = "Restic" })},
		{"restore rules at Stash's older place", from(func(o *v1alpha1.RestoreSession) {
			o.Spec.Rules, o.Spec.Target.Rules = o.Spec.Target.Rules, nil
		})},
		{"restore rule without snapshots", from(func(o *v1alpha1.RestoreSession) { o.Spec.Target.Rules[0].Snapshots = nil })},
		{"target alias", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Target.Alias = "app" })},
		{"interim volume template of a configuration", from(func(o *v1alpha1.BackupConfiguration) { o.Spec.InterimVolumeTemplate = interimTemplate() })},
		{"interim volume template of a restore", from(func(o *v1alpha1.RestoreSession) { o.Spec.InterimVolumeTemplate = interimTemplate() })},
		{"interim volume template of a blueprint", from(func(o *v1alpha1.BackupBlueprint) { o.Spec.InterimVolumeTemplate = interimTemplate() })},
		{"interim volume template of a backup batch member", from(func(o *v1alpha1.BackupBatch) { o.Spec.Members[0].InterimVolumeTemplate = interimTemplate() })},
		{"interim volume template of a restore batch member", from(func(o *v1alpha1.RestoreBatch) { o.Spec.Members[0].InterimVolumeTemplate = interimTemplate() })},
		{"wipeOut on s3", from(func(o *v1alpha1.Repository) {
			o.Spec.WipeOut = true
			o.Spec.Backend.Local = nil
			o.Spec.Backend.S3 = &v1alpha1.S3Spec{Endpoint: "http://minio:9000", Bucket: "b", Prefix: "team/db"}
		})},
		{"wipeOut on gcs", from(func(o *v1alpha1.Repository) {
			o.Spec.WipeOut = true
			o.Spec.Backend.Local = nil
			o.Spec.Backend.GCS = &v1alpha1.GCSSpec{Bucket: "b"}
		})},
		{"wipeOut on azure", from(func(o *v1alpha1.Repository) {
			o.Spec.WipeOut = true
			o.Spec.Backend.Local = nil
			o.Spec.Backend.Azure = &v1alpha1.AzureSpec{Container: "c", Prefix: "p"}
		})},
		{"wipeOut on rest", from(func(o *v1alpha1.Repository) {
			o.Spec.WipeOut = true
			o.Spec.Backend.Local = nil
			o.Spec.Backend.Rest = &v1alpha1.RestServerSpec{URL: "https://rest.backup:8000/etcd"}
		})},
		{"integrity check with part of the data", from(func(o *v1alpha1.Repository) {
			o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{Schedule: "CRON_TZ=UTC 0 3 * * 0", ReadDataSubset: "2/7"}
		})},
		{"integrity check with a percentage", from(func(o *v1alpha1.Repository) {
			o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{Schedule: "@weekly", ReadDataSubset: "2.5%"}
		})},
		{"integrity check with a size, on demand only", from(func(o *v1alpha1.Repository) {
			o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{ReadDataSubset: "500M"}
		})},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj(t)
			obj.SetName(obj.GetName() + "-ok-" + itoa(i))
			setNamespace(t, obj)
			if err := env.Client.Create(ctx(t), obj, client.DryRunAll); err != nil {
				t.Fatalf("want accepted, got: %v", err)
			}
		})
	}
}

// interimTemplate is an interimVolumeTemplate as Stash's docs write one.
func interimTemplate() *v1alpha1.PersistentVolumeClaimTemplate {
	return &v1alpha1.PersistentVolumeClaimTemplate{
		Metadata: &v1alpha1.TemplateMetadata{Name: "stash-tmp-storage"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To("standard"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

// TestInvalidRejected checks that each invalid object is rejected by the apiserver with an
// error that names the field and says what is wrong.
func TestInvalidRejected(t *testing.T) {
	tests := []struct {
		name  string
		obj   func(*testing.T) client.Object
		field string // the field path in the error
		msg   string // what the error says
		// secret is a value the object holds that the error must not repeat.
		secret string
	}{
		{
			name: "repository with two backends",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.Backend.S3 = &v1alpha1.S3Spec{Endpoint: "s3.amazonaws.com", Bucket: "b"}
			}),
			field: "spec.backend",
			msg:   "exactly one of backend.local, backend.s3",
		},
		{
			name:  "repository without backend",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.Backend.Local = nil }),
			field: "spec.backend",
			msg:   "exactly one of backend.local, backend.s3",
		},
		{
			name: "local backend with two volume sources",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.Backend.Local.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "repo"}
			}),
			field: "spec.backend.local",
			msg:   "exactly one of backend.local.hostPath or backend.local.persistentVolumeClaim",
		},
		{
			name:  "local backend without volume source",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.Backend.Local.HostPath = nil }),
			field: "spec.backend.local",
			msg:   "exactly one of backend.local.hostPath or backend.local.persistentVolumeClaim",
		},
		{
			name:  "local backend with relative mountPath",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.Backend.Local.MountPath = "safe/data" }),
			field: "spec.backend.local.mountPath",
			msg:   "must be an absolute path",
		},
		{
			name: "rest url with user and password",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.Backend.Local = nil
				o.Spec.Backend.Rest = &v1alpha1.RestServerSpec{URL: "https://backup:hunter2-rest@rest.backup:8000/etcd"}
			}),
			field:  "spec.backend.rest.url",
			msg:    "backend.rest.url must not hold credentials (user:password@host): put them in the storage Secret as REST_SERVER_USERNAME and REST_SERVER_PASSWORD",
			secret: "hunter2-rest",
		},
		{
			name: "rest url with a user only",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.Backend.Local = nil
				o.Spec.Backend.Rest = &v1alpha1.RestServerSpec{URL: "http://backup@127.0.0.1:8000/"}
			}),
			field: "spec.backend.rest.url",
			msg:   "must not hold credentials",
		},
		{
			name: "blueprint rest url with credentials",
			obj: from(func(o *v1alpha1.BackupBlueprint) {
				o.Spec.Backend = v1alpha1.Backend{
					StorageSecretName: o.Spec.Backend.StorageSecretName,
					Rest:              &v1alpha1.RestServerSpec{URL: "https://backup:hunter2-rest@rest.backup:8000/${TARGET_NAMESPACE}"},
				}
			}),
			field:  "spec.backend.rest.url",
			msg:    "REST_SERVER_USERNAME and REST_SERVER_PASSWORD",
			secret: "hunter2-rest",
		},
		{
			name:  "repository without storage secret",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.Backend.StorageSecretName = "" }),
			field: "spec.backend.storageSecretName",
			msg:   "Required value",
		},
		{
			name: "usage policy Selector without selector",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.UsagePolicy.AllowedNamespaces.From = v1alpha1.NamespacesFromSelector
			}),
			field: "spec.usagePolicy.allowedNamespaces",
			msg:   "selector must be set when from is Selector",
		},
		{
			name: "pre hook with two handlers",
			obj: from(func(o *v1alpha1.BackupConfiguration) {
				o.Spec.Hooks.PreBackup.HTTPGet = &v1alpha1.HTTPGetAction{Port: intstr.FromInt32(2379)}
			}),
			field: "spec.hooks.preBackup",
			msg:   "exactly one of exec, httpGet, httpPost or tcpSocket",
		},
		{
			name:  "post hook with no handler",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Hooks.PostBackup.HTTPPost = nil }),
			field: "spec.hooks.postBackup",
			msg:   "exactly one of exec, httpGet, httpPost or tcpSocket",
		},
		{
			name:  "bad executionPolicy",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Hooks.PostBackup.ExecutionPolicy = "Sometimes" }),
			field: "spec.hooks.postBackup.executionPolicy",
			msg:   `Unsupported value: "Sometimes"`,
		},
		{
			name:  "bad hook scheme",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Hooks.PostBackup.HTTPPost.Scheme = "FTP" }),
			field: "spec.hooks.postBackup.httpPost.scheme",
			msg:   `Unsupported value: "FTP"`,
		},
		{
			name:  "negative keepLast",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.RetentionPolicy.KeepLast = ptr.To[int64](-1) }),
			field: "spec.retentionPolicy.keepLast",
			msg:   "greater than or equal to 0",
		},
		{
			name: "retention policy that keeps nothing",
			obj: from(func(o *v1alpha1.BackupConfiguration) {
				o.Spec.RetentionPolicy.KeepLast, o.Spec.RetentionPolicy.KeepDaily = nil, nil
			}),
			field: "spec.retentionPolicy",
			msg:   "retentionPolicy must set at least one of keepLast",
		},
		{
			name:  "no schedule and not paused",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Schedule = "" }),
			field: "spec",
			msg:   "spec.schedule is required unless spec.paused is true",
		},
		{
			name:  "schedule with too many fields",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Schedule = "0 0 1 * * * 2025" }),
			field: "spec.schedule",
			msg:   "spec.schedule must be a cron expression of 5 or 6 fields",
		},
		{
			name:  "schedule unknown descriptor",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Schedule = "@fortnightly" }),
			field: "spec.schedule",
			msg:   "spec.schedule must be a cron expression of 5 or 6 fields",
		},
		{
			name:  "configuration without task or target",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Task, o.Spec.Target = nil, nil }),
			field: "spec",
			msg:   "spec.task or spec.target must be set",
		},
		{
			name:  "bad timeOut duration",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.TimeOut = "30 minutes" }),
			field: "spec.timeOut",
			msg:   "spec.timeOut must be a duration such as 30m",
		},
		{
			name:  "bad retry delay",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.RetryConfig.Delay = "1d" }),
			field: "spec.retryConfig.delay",
			msg:   "retryConfig.delay must be a duration",
		},
		{
			name:  "target without kind",
			obj:   from(func(o *v1alpha1.BackupConfiguration) { o.Spec.Target.Ref.Kind = "" }),
			field: "spec.target.ref.kind",
			msg:   "Required value",
		},
		{
			name:  "batch without members",
			obj:   from(func(o *v1alpha1.BackupBatch) { o.Spec.Members = nil }),
			field: "spec.members",
			msg:   "Required value",
		},
		{
			name:  "batch member without target",
			obj:   from(func(o *v1alpha1.BackupBatch) { o.Spec.Members[1].Target = nil }),
			field: "spec.members[1]",
			msg:   "every entry of spec.members must set target",
		},
		{
			name:  "batch bad executionOrder",
			obj:   from(func(o *v1alpha1.BackupBatch) { o.Spec.ExecutionOrder = "Random" }),
			field: "spec.executionOrder",
			msg:   `Unsupported value: "Random"`,
		},
		{
			name:  "batch no schedule and not paused",
			obj:   from(func(o *v1alpha1.BackupBatch) { o.Spec.Schedule = "" }),
			field: "spec",
			msg:   "spec.schedule is required unless spec.paused is true",
		},
		{
			name:  "session with unknown invoker kind",
			obj:   from(func(o *v1alpha1.BackupSession) { o.Spec.Invoker.Kind = "CronJob" }),
			field: "spec.invoker.kind",
			msg:   `Unsupported value: "CronJob"`,
		},
		{
			name:  "session with negative retryLeft",
			obj:   from(func(o *v1alpha1.BackupSession) { o.Spec.RetryLeft = ptr.To[int32](-1) }),
			field: "spec.retryLeft",
			msg:   "greater than or equal to 0",
		},
		{
			name:  "restore rule with an empty snapshot",
			obj:   from(func(o *v1alpha1.RestoreSession) { o.Spec.Target.Rules[0].Snapshots = []string{""} }),
			field: "spec.target.rules[0].snapshots[0]",
			msg:   "should be at least 1 chars long",
		},
		{
			name: "repository wipeOut on b2",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.WipeOut = true
				o.Spec.Backend.Local = nil
				o.Spec.Backend.B2 = &v1alpha1.B2Spec{Bucket: "b"}
			}),
			field: "spec.wipeOut",
			msg:   "wipeOut: true is supported for backend.local, s3, gcs, azure and rest only, not for b2 or swift",
		},
		{
			name: "repository wipeOut on swift",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.WipeOut = true
				o.Spec.Backend.Local = nil
				o.Spec.Backend.Swift = &v1alpha1.SwiftSpec{Container: "c"}
			}),
			field: "spec.wipeOut",
			msg:   "wipeOut: true is supported for backend.local, s3, gcs, azure and rest only, not for b2 or swift",
		},
		{
			name: "integrity check schedule not cron",
			obj: from(func(o *v1alpha1.Repository) {
				o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{Schedule: "every night"}
			}),
			field: "spec.integrityCheck.schedule",
			msg:   "spec.integrityCheck.schedule must be a cron expression of 5 or 6 fields",
		},
		{
			name:  "integrity check subset n above t",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{ReadDataSubset: "3/2"} }),
			field: "spec.integrityCheck.readDataSubset",
			msg:   "spec.integrityCheck.readDataSubset must be n/t (1 <= n <= t <= 256)",
		},
		{
			name:  "integrity check subset above 100%",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{ReadDataSubset: "150%"} }),
			field: "spec.integrityCheck.readDataSubset",
			msg:   "spec.integrityCheck.readDataSubset must be n/t",
		},
		{
			name:  "integrity check subset not a size",
			obj:   from(func(o *v1alpha1.Repository) { o.Spec.IntegrityCheck = &v1alpha1.IntegrityCheck{ReadDataSubset: "half"} }),
			field: "spec.integrityCheck.readDataSubset",
			msg:   "spec.integrityCheck.readDataSubset must be n/t",
		},
		{
			name:  "driver VolumeSnapshotter",
			obj:   from(func(o *v1alpha1.RestoreSession) { o.Spec.Driver = "VolumeSnapshotter" }),
			field: "spec.driver",
			msg:   "driver VolumeSnapshotter (CSI VolumeSnapshots) is not supported",
		},
		{
			name:  "backup batch driver VolumeSnapshotter",
			obj:   from(func(o *v1alpha1.BackupBatch) { o.Spec.Driver = "VolumeSnapshotter" }),
			field: "spec.driver",
			msg:   "is not supported",
		},
		{
			name: "runtimeSettings.container.livenessProbe",
			obj: from(func(o *v1alpha1.BackupConfiguration) {
				o.Spec.RuntimeSettings = &v1alpha1.RuntimeSettings{Container: &v1alpha1.ContainerRuntimeSettings{
					LivenessProbe: &runtime.RawExtension{Raw: []byte(`{"exec":{"command":["true"]}}`)},
				}}
			}),
			field: "spec.runtimeSettings.container",
			msg:   "runtimeSettings.container.livenessProbe is not supported: a step runs to completion",
		},
		{
			name: "runtimeSettings.container.readinessProbe",
			obj: from(func(o *v1alpha1.RestoreSession) {
				o.Spec.RuntimeSettings = &v1alpha1.RuntimeSettings{Container: &v1alpha1.ContainerRuntimeSettings{
					ReadinessProbe: &runtime.RawExtension{Raw: []byte(`{"tcpSocket":{"port":80}}`)},
				}}
			}),
			field: "spec.runtimeSettings.container",
			msg:   "runtimeSettings.container.readinessProbe is not supported",
		},
		{
			name: "runtimeSettings.pod.sidecars",
			obj: from(func(o *v1alpha1.BackupBatch) {
				o.Spec.RuntimeSettings = &v1alpha1.RuntimeSettings{Pod: &v1alpha1.PodRuntimeSettings{
					Sidecars: []runtime.RawExtension{{Raw: []byte(`{"name":"proxy","image":"envoy"}`)}},
				}}
			}),
			field: "spec.runtimeSettings.pod",
			msg:   "runtimeSettings.pod.sidecars is not supported: a step pod runs one container to completion",
		},
		{
			name: "runtimeSettings.pod.serviceAccountAnnotations",
			obj: from(func(o *v1alpha1.BackupConfiguration) {
				o.Spec.RuntimeSettings = &v1alpha1.RuntimeSettings{Pod: &v1alpha1.PodRuntimeSettings{
					ServiceAccountAnnotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/backup"},
				}}
			}),
			field: "spec.runtimeSettings.pod",
			msg:   "runtimeSettings.pod.serviceAccountAnnotations is not supported: stashflow creates no ServiceAccount",
		},
		{
			name:  "restore rules in both places",
			obj:   from(func(o *v1alpha1.RestoreSession) { o.Spec.Rules = o.Spec.Target.Rules }),
			field: "spec",
			msg:   "set rules in spec.target.rules or in spec.rules (Stash's older place), not both",
		},
		{
			name:  "restore rules without a target",
			obj:   from(func(o *v1alpha1.RestoreSession) { o.Spec.Rules = o.Spec.Target.Rules; o.Spec.Target = nil }),
			field: "spec",
			msg:   "spec.rules apply to spec.target, which is not set",
		},
		{
			name:  "restore without task or target",
			obj:   from(func(o *v1alpha1.RestoreSession) { o.Spec.Task, o.Spec.Target = nil, nil }),
			field: "spec",
			msg:   "spec.task or spec.target must be set",
		},
		{
			name:  "restore batch member without target",
			obj:   from(func(o *v1alpha1.RestoreBatch) { o.Spec.Members[0].Target = nil }),
			field: "spec.members[0]",
			msg:   "every entry of spec.members must set target",
		},
		{
			name:  "restore batch bad timeOut",
			obj:   from(func(o *v1alpha1.RestoreBatch) { o.Spec.TimeOut = "-5m" }),
			field: "spec.timeOut",
			msg:   "spec.timeOut must be a duration",
		},
		{
			name:  "function without image",
			obj:   from(func(o *v1alpha1.Function) { o.Spec.Image = "" }),
			field: "spec.image",
			msg:   "Required value",
		},
		{
			name:  "function output with relative path",
			obj:   from(func(o *v1alpha1.Function) { o.Spec.Outputs[0].Path = "outputs/snapshotID" }),
			field: "spec.outputs[0].path",
			msg:   "outputs[].path must be an absolute path",
		},
		{
			name:  "task without steps",
			obj:   from(func(o *v1alpha1.Task) { o.Spec.Steps = nil }),
			field: "spec.steps",
			msg:   "Required value",
		},
		{
			name:  "task with duplicate step names",
			obj:   from(func(o *v1alpha1.Task) { o.Spec.Steps[1].Name = o.Spec.Steps[0].Name }),
			field: "spec.steps[1]",
			msg:   "Duplicate value",
		},
		{
			name: "task volume with two sources",
			obj: from(func(o *v1alpha1.Task) {
				o.Spec.Volumes[2].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp"}
			}),
			field: "spec.volumes[2]",
			msg:   "exactly one of emptyDir, hostPath, persistentVolumeClaim, secret or configMap",
		},
		{
			name: "app binding with neither url nor service",
			obj: from(func(o *v1alpha1.AppBinding) {
				o.Spec.ClientConfig.URL, o.Spec.ClientConfig.Service = nil, nil
			}),
			field: "spec.clientConfig",
			msg:   "one of clientConfig.url or clientConfig.service must be set",
		},
		{
			name:  "blueprint with two backends",
			obj:   from(func(o *v1alpha1.BackupBlueprint) { o.Spec.Backend.GCS = &v1alpha1.GCSSpec{Bucket: "b"} }),
			field: "spec.backend",
			msg:   "exactly one of backend.local, backend.s3",
		},
		{
			name:  "snapshot without id",
			obj:   from(func(o *v1alpha1.Snapshot) { o.Spec.SnapshotID = "" }),
			field: "spec.snapshotID",
			msg:   "Required value",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj(t)
			obj.SetName(obj.GetName() + "-bad-" + itoa(i))
			setNamespace(t, obj)
			err := env.Client.Create(ctx(t), obj, client.DryRunAll)
			if err == nil {
				t.Fatalf("want rejected (%s: %s), got accepted", tc.field, tc.msg)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if got := err.Error(); !strings.Contains(got, tc.field+":") || !strings.Contains(got, tc.msg) {
				t.Errorf("error does not name %q with %q:\n%s", tc.field, tc.msg, got)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error repeats the secret value %q:\n%s", tc.secret, err)
			}
		})
	}
}

// from returns a table function that loads the example of T's kind from examples/kinds and
// applies mutate to it.
func from[T any, PT interface {
	*T
	client.Object
}](mutate func(PT)) func(*testing.T) client.Object {
	return func(t *testing.T) client.Object {
		t.Helper()
		obj := PT(new(T))
		gvks, _, err := env.Scheme.ObjectKinds(obj)
		if err != nil {
			t.Fatalf("kind of %T: %v", obj, err)
		}
		mustParse(t, filepath.Join(examplesDir, strings.ToLower(gvks[0].Kind)+".yaml"), obj)
		mutate(obj)
		return obj
	}
}

// mustParse decodes a YAML file strictly: an unknown field fails the test.
func mustParse(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
}

// readSpec returns the spec of a YAML file, normalised as JSON.
func readSpec(t *testing.T, file string) any {
	t.Helper()
	var obj map[string]any
	mustParse(t, file, &obj)
	return normalize(t, obj["spec"])
}

// normalize round-trips v through JSON, so that numbers compare alike whatever decoded them.
func normalize(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// setNamespace puts namespaced objects into the test namespace and clears it on cluster-scoped ones.
func setNamespace(t *testing.T, obj client.Object) {
	t.Helper()
	namespaced, err := env.Client.IsObjectNamespaced(obj)
	if err != nil {
		t.Fatalf("scope of %s: %v", obj.GetObjectKind().GroupVersionKind(), err)
	}
	if namespaced {
		obj.SetNamespace(testNamespace)
	} else {
		obj.SetNamespace("")
	}
}

func itoa(i int) string {
	return string(rune('a'+i/26)) + string(rune('a'+i%26))
}

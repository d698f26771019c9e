package manifest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
)

func mustAdmission(t *testing.T) *manifest.Admission {
	t.Helper()
	a, err := manifest.CRDAdmission()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errorLines splits a joined error into its lines, one problem each.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// TestAdmissionRefuses breaks one field of testdata/admission/backup.yaml at a
// time; every problem must come back as the apiserver words it, prefixed by the
// file, the document and its kind and name.
func TestAdmissionRefuses(t *testing.T) {
	base := mustRead(t, "testdata/admission/backup.yaml")
	const bc = "backup.yaml#2: BackupConfiguration/etcd: "
	const repo = "backup.yaml#1: Repository/repo: "
	tests := []struct {
		name      string
		old, new  string // replaced once in base
		want      []string
		wantKinds []string // the objects still decoded
	}{
		{
			name: "valid", wantKinds: []string{"Repository", "BackupConfiguration"},
		},
		{
			name: "timeOut negative (CEL rule on the field)", old: "timeOut: 30m", new: "timeOut: -5m",
			want:      []string{bc + `spec.timeOut: Invalid value: "string": spec.timeOut must be a duration such as 30m or 1h30m`},
			wantKinds: []string{"Repository"},
		},
		{
			name: "keepLast negative (schema minimum)", old: "keepLast: 5", new: "keepLast: -3",
			want:      []string{bc + `spec.retentionPolicy.keepLast: Invalid value: -3: spec.retentionPolicy.keepLast in body should be greater than or equal to 0`},
			wantKinds: []string{"Repository"},
		},
		{
			name: "unknown field (strict decoding)", old: "prune: true", new: "prun: true",
			want:      []string{bc + `strict decoding error: unknown field "spec.retentionPolicy.prun"`},
			wantKinds: []string{"Repository"},
		},
		{
			name: "unknown field and an invalid one: both said", old: "keepLast: 5\n    prune: true", new: "keepLast: -3\n    prun: true",
			want: []string{
				bc + `strict decoding error: unknown field "spec.retentionPolicy.prun"`,
				bc + `spec.retentionPolicy.keepLast: Invalid value: -3: spec.retentionPolicy.keepLast in body should be greater than or equal to 0`,
			},
			wantKinds: []string{"Repository"},
		},
		{
			name: "CEL rule across fields: two backends", old: "    local: {", new: "    s3: {bucket: b, endpoint: s3.example.com}\n    local: {",
			want:      []string{repo + `spec.backend: Invalid value: "object": exactly one of backend.local, backend.s3, backend.gcs, backend.azure, backend.b2, backend.swift or backend.rest must be set`},
			wantKinds: []string{"BackupConfiguration"},
		},
		{
			name: "CEL rule across fields: neither task nor target", old: "  task: {name: etcd-backup}\n  target:\n    ref: {apiVersion: stashflow.dev/v1alpha1, kind: AppBinding, name: etcd}\n", new: "",
			want:      []string{bc + `spec: Invalid value: "object": spec.task or spec.target must be set`},
			wantKinds: []string{"Repository"},
		},
		{
			name: "a field of the wrong type: the schema says it, not encoding/json", old: "timeOut: 30m", new: "timeOut: 30",
			want: []string{
				bc + `spec.timeOut: Invalid value: "integer": spec.timeOut in body must be of type string: "integer"`,
				bc + `<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
			},
			wantKinds: []string{"Repository"},
		},
		{
			name: "a name that is not a DNS subdomain", old: "name: etcd}", new: "name: Etcd_1}",
			want: []string{
				"backup.yaml#2: BackupConfiguration/Etcd_1: " + `metadata.name: Invalid value: "Etcd_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			},
			wantKinds: []string{"Repository"},
		},
		{
			name: "the status is not validated: a create does not write it", old: "kind: Repository\nmetadata: {name: repo}\n", new: "kind: Repository\nmetadata: {name: repo}\nstatus: {snapshotCount: -1}\n",
			wantKinds: []string{"Repository", "BackupConfiguration"},
		},
	}
	opts := manifest.Options{Admission: mustAdmission(t)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := base
			if tt.old != "" {
				if !strings.Contains(base, tt.old) {
					t.Fatalf("the fixture lacks %q", tt.old)
				}
				doc = strings.Replace(base, tt.old, tt.new, 1)
			}
			objs, err := opts.Decode("backup.yaml", []byte(doc))
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
			}
			if diff := cmp.Diff(tt.wantKinds, kinds); diff != "" {
				t.Errorf("decoded kinds (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdmissionAcceptsExamples: every example and catalog file passes, and
// admitting changes none of its objects (they set every field the CRDs
// default, or the default is the zero value).
func TestAdmissionAcceptsExamples(t *testing.T) {
	dirs := []string{"../../catalog/functions", "../../catalog/tasks", "../../cmd/stashflow/testdata/shell-backup.yaml"}
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// examples/stash holds Stash's manifests, the input of stashflow
		// convert (tested in examples/stash), not ours.
		if e.IsDir() && e.Name() != "stash" {
			dirs = append(dirs, filepath.Join("../../examples", e.Name()))
		}
	}
	opts := manifest.Options{Admission: mustAdmission(t)}
	for _, dir := range dirs {
		t.Run(strings.TrimPrefix(dir, "../../"), func(t *testing.T) {
			plain, err := manifest.LoadPaths(dir)
			if err != nil {
				t.Fatal(err)
			}
			admitted, err := opts.LoadPaths(dir)
			if err != nil {
				t.Fatalf("refused:\n%v", err)
			}
			if diff := cmp.Diff(plain, admitted); diff != "" {
				t.Errorf("admission changed the objects (-strict +admitted):\n%s", diff)
			}
		})
	}
}

// TestAdmissionDefaults: the CRDs' defaults are applied as the apiserver
// applies them, and reach the decoded objects.
func TestAdmissionDefaults(t *testing.T) {
	t.Run("the generated CRDs: secretKeyRef.name defaults to empty", func(t *testing.T) {
		j, err := yaml.YAMLToJSON([]byte(mustRead(t, "testdata/admission/function-env.yaml")))
		if err != nil {
			t.Fatal(err)
		}
		var u map[string]any
		if err := utiljson.Unmarshal(j, &u); err != nil {
			t.Fatal(err)
		}
		if errs := mustAdmission(t).Admit(u); len(errs) > 0 {
			t.Fatal(errs)
		}
		env, _, _ := unstructured.NestedSlice(u, "spec", "env")
		got, _, _ := unstructured.NestedMap(env[0].(map[string]any), "valueFrom", "secretKeyRef")
		if diff := cmp.Diff(map[string]any{"key": "word", "name": ""}, got); diff != "" {
			t.Errorf("secretKeyRef (-want +got):\n%s", diff)
		}
	})

	// A CRD of our own kind Function with defaults the generated CRDs do
	// not have: the typed objects carry them.
	crds := fstest.MapFS{"function.yaml": {Data: []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: functions.stashflow.dev}
spec:
  group: stashflow.dev
  names: {kind: Function, listKind: FunctionList, plural: functions, singular: function}
  scope: Cluster
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
            properties:
              image: {type: string, default: "busybox:1.36"}
              workingDir: {type: string, default: /tmp}
`)}}
	admission, err := manifest.NewAdmission(crds)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec string
		want v1alpha1.FunctionSpec
	}{
		{
			name: "unset fields take their defaults",
			spec: "{command: [\"true\"]}",
			want: v1alpha1.FunctionSpec{Image: "busybox:1.36", WorkingDir: "/tmp", Command: []string{"true"}},
		},
		{
			name: "set fields keep their values",
			spec: "{image: alpine, workingDir: /srv, command: [\"true\"]}",
			want: v1alpha1.FunctionSpec{Image: "alpine", WorkingDir: "/srv", Command: []string{"true"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "apiVersion: stashflow.dev/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec: " + tt.spec + "\n"
			objs, err := manifest.Options{Admission: admission}.Decode("f.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, objs[0].Object.(*v1alpha1.Function).Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

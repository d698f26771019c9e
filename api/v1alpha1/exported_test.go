package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestStashExportedObjectsApply: objects exported from a Stash cluster
// (testdata/stash-exported.yaml: BackupSessions of a BackupConfiguration and
// of a BackupBatch, a RestoreSession, a RestoreBatch, a Snapshot), with
// Stash's status shapes and only apiVersion changed, server-side apply with
// strict field validation into the real apiserver, and so does their
// status (the status subresource); every field of the status is kept.
func TestStashExportedObjectsApply(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "stash-exported.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(raw, []byte("\n---\n"))
	if len(docs) < 5 {
		t.Fatalf("%d objects in stash-exported.yaml, want at least 5", len(docs))
	}
	for _, doc := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace(testNamespace)
		t.Run(u.GetKind()+"/"+u.GetName(), func(t *testing.T) {
			status, ok := u.Object["status"]
			if !ok {
				t.Fatal("the object has no status")
			}
			obj := u.DeepCopy()
			if err := env.Client.Patch(ctx(t), obj, client.Apply, client.FieldOwner("stash-export"), client.ForceOwnership, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("apply: %v", err)
			}
			t.Cleanup(func() { _ = env.Client.Delete(ctx(t), u.DeepCopy()) })
			obj = u.DeepCopy()
			opts := &client.SubResourcePatchOptions{PatchOptions: client.PatchOptions{FieldManager: "stash-export", Force: ptr.To(true), FieldValidation: "Strict"}}
			if err := env.Client.Status().Patch(ctx(t), obj, client.Apply, opts); err != nil {
				t.Fatalf("apply status: %v", err)
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := env.Client.Get(ctx(t), client.ObjectKeyFromObject(u), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(asJSON(t, status), asJSON(t, got.Object["status"])); diff != "" {
				t.Errorf("status read back (-applied +stored):\n%s", diff)
			}
		})
	}
}

// asJSON gives a value the types encoding/json gives it (numbers as
// float64), whether it came from YAML or from the apiserver.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

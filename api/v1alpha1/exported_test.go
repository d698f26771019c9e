package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestStashExportedObjectsApply: objects exported from a Stash cluster
// (testdata/stash-exported.yaml: BackupSessions of a BackupConfiguration and
// of a BackupBatch, a RestoreSession, a RestoreBatch, a Snapshot, a
// Repository, a BackupConfiguration), with Stash's status shapes and only
// apiVersion changed, go into the real apiserver with strict field
// validation, and so does their status (the status subresource); every
// field of the status is kept. Two ways: server-side apply (object, then
// status), and create then status update, as `kubectl create` or a
// client-side `kubectl apply` sends them. Their conditions are Stash's
// (kmapi.Condition): some carry a severity, some have no reason or message.
func TestStashExportedObjectsApply(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "stash-exported.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(raw, []byte("\n---\n"))
	if len(docs) < 7 {
		t.Fatalf("%d objects in stash-exported.yaml, want at least 7", len(docs))
	}
	var severities, noReason, noMessage int
	for _, doc := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace(testNamespace)
		status, ok := u.Object["status"]
		if !ok {
			t.Fatalf("%s %s has no status", u.GetKind(), u.GetName())
		}
		countConditions(status, &severities, &noReason, &noMessage)
		readBack := func(t *testing.T) {
			t.Helper()
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := env.Client.Get(ctx(t), client.ObjectKeyFromObject(u), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(asJSON(t, status), asJSON(t, got.Object["status"])); diff != "" {
				t.Errorf("status read back (-applied +stored):\n%s", diff)
			}
		}
		t.Run(u.GetKind()+"/"+u.GetName()+"/server-side apply", func(t *testing.T) {
			obj := u.DeepCopy()
			if err := env.Client.Patch(ctx(t), obj, client.Apply, client.FieldOwner("stash-export"), client.ForceOwnership, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("apply: %v", err)
			}
			t.Cleanup(func() { remove(t, u) })
			obj = u.DeepCopy()
			opts := &client.SubResourcePatchOptions{PatchOptions: client.PatchOptions{FieldManager: "stash-export", Force: ptr.To(true), FieldValidation: "Strict"}}
			if err := env.Client.Status().Patch(ctx(t), obj, client.Apply, opts); err != nil {
				t.Fatalf("apply status: %v", err)
			}
			readBack(t)
		})
		t.Run(u.GetKind()+"/"+u.GetName()+"/create", func(t *testing.T) {
			obj := u.DeepCopy()
			if err := env.Client.Create(ctx(t), obj, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { remove(t, u) })
			withStatus := u.DeepCopy()
			withStatus.SetResourceVersion(obj.GetResourceVersion())
			opts := &client.SubResourceUpdateOptions{UpdateOptions: client.UpdateOptions{Raw: &metav1.UpdateOptions{FieldValidation: "Strict"}}}
			if err := env.Client.Status().Update(ctx(t), withStatus, opts); err != nil {
				t.Fatalf("update status: %v", err)
			}
			readBack(t)
		})
	}
	// The file holds what the test is for.
	if severities < 3 || noReason < 1 || noMessage < 2 {
		t.Errorf("conditions with a severity %d, without a reason %d, without a message %d: want at least 3, 1, 2", severities, noReason, noMessage)
	}
}

// remove deletes u, after taking off its finalizers (Stash's
// stash.appscode.com, which nothing here removes).
func remove(t *testing.T, u *unstructured.Unstructured) {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
	if err := env.Client.Patch(ctx(t), u.DeepCopy(), patch); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("removing the finalizers of %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	if err := env.Client.Delete(ctx(t), u.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// countConditions counts, in every conditions list under v, the conditions
// with a severity, without a reason and without a message.
func countConditions(v any, severities, noReason, noMessage *int) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if list, ok := c.([]any); ok && k == "conditions" {
				for _, item := range list {
					cond, _ := item.(map[string]any)
					if _, ok := cond["severity"]; ok {
						*severities++
					}
					if _, ok := cond["reason"]; !ok {
						*noReason++
					}
					if _, ok := cond["message"]; !ok {
						*noMessage++
					}
				}
				continue
			}
			countConditions(c, severities, noReason, noMessage)
		}
	case []any:
		for _, c := range x {
			countConditions(c, severities, noReason, noMessage)
		}
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

// TestStashExportedFieldsRefused: the status fields of a Stash export that
// stashflow's schema does not have are refused at decoding, naming the
// field, by server-side apply and by create (docs/migrating-from-stash.md
// lists them; when one is added, move it to stash-exported.yaml).
func TestStashExportedFieldsRefused(t *testing.T) {
	tests := []struct {
		name, doc, field string
	}{
		{"BackupSession status.targets[].ref.namespace",
			"kind: BackupSession\nmetadata: {name: refused-ref-namespace}\nspec: {invoker: {apiGroup: stash.appscode.com, kind: BackupConfiguration, name: a}}\n" +
				"status: {targets: [{ref: {apiVersion: apps/v1, kind: StatefulSet, name: db, namespace: demo}}]}",
			"status.targets[0].ref.namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte("apiVersion: stashflow.dev/v1alpha1\n"+tt.doc), &u.Object); err != nil {
				t.Fatal(err)
			}
			u.SetNamespace(testNamespace)
			err := env.Client.Patch(ctx(t), u.DeepCopy(), client.Apply, client.FieldOwner("stash-export"), client.ForceOwnership, client.FieldValidation("Strict"))
			if err == nil || !strings.Contains(err.Error(), "."+tt.field+": field not declared in schema") {
				remove(t, u)
				t.Errorf("apply: error %v, want one naming %s", err, tt.field)
			}
			err = env.Client.Create(ctx(t), u.DeepCopy(), client.FieldValidation("Strict"))
			if err == nil || !strings.Contains(err.Error(), `strict decoding error: unknown field "`+tt.field+`"`) {
				remove(t, u)
				t.Errorf("create: error %v, want one naming %s", err, tt.field)
			}
		})
	}
}

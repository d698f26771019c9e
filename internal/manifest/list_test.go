package manifest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/manifest"
)

// TestDecodeList: a v1 List (kubectl get -o yaml, stashflow's -o yaml of
// several objects) is read item by item, each item checked as a document
// of its own and named by its place in the List.
func TestDecodeList(t *testing.T) {
	data := `apiVersion: v1
kind: Secret
metadata: {name: first}
---
apiVersion: v1
kind: List
metadata: {}
items:
- apiVersion: stashflow.dev/v1alpha1
  kind: Repository
  metadata: {name: repo, namespace: team-a}
  spec: {backend: {storageSecretName: first, local: {mountPath: /r, hostPath: {path: /srv/r}}}}
- apiVersion: v1
  kind: Secret
  metadata: {name: second}
  typo: 1
`
	objs, err := manifest.Options{Admission: mustAdmission(t)}.Decode("in.yaml", []byte(data))
	var got []string
	for _, o := range objs {
		got = append(got, o.Source+" "+o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	want := []string{"in.yaml#1 Secret/first", "in.yaml#2.items[0] Repository/repo"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	wantErr := []string{`in.yaml#2.items[1]: Secret/second: strict decoding error: unknown field "typo"`}
	if diff := cmp.Diff(wantErr, errorLines(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

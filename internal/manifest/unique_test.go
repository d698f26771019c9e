package manifest_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/manifest"
)

// TestUnique: the same kind, namespace and name twice with different
// content is refused, naming both documents; with the same content it is
// kept once; the same name in another kind, group or namespace is another
// object.
func TestUnique(t *testing.T) {
	const repo = `apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: %s, namespace: %s}
spec: {backend: {storageSecretName: s, local: {mountPath: /r, hostPath: {path: /srv/r}}}}
`
	tests := []struct {
		name  string
		files map[string]string // in name order
		want  []string          // errors
		kept  int
	}{
		{
			name:  "distinct names",
			files: map[string]string{"a.yaml": fmt.Sprintf(repo, "one", "default") + "---\n" + fmt.Sprintf(repo, "two", "default")},
			kept:  2,
		},
		{
			name:  "same name in another namespace",
			files: map[string]string{"a.yaml": fmt.Sprintf(repo, "one", "default") + "---\n" + fmt.Sprintf(repo, "one", "team-a")},
			kept:  2,
		},
		{
			name: "same name in another kind or group",
			files: map[string]string{"a.yaml": fmt.Sprintf(repo, "one", "default") +
				"---\napiVersion: v1\nkind: Secret\nmetadata: {name: one, namespace: default}\n" +
				"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: one, namespace: default}\n"},
			kept: 3,
		},
		{
			name: "the same content twice, in one file and across files: kept once",
			files: map[string]string{
				"a.yaml": fmt.Sprintf(repo, "one", "default") + "---\n" + fmt.Sprintf(repo, "one", "default"),
				"b.yaml": fmt.Sprintf(repo, "one", "default"),
			},
			kept: 1,
		},
		{
			name:  "twice in one file, differently",
			files: map[string]string{"a.yaml": fmt.Sprintf(repo, "one", "default") + "---\n" + strings.Replace(fmt.Sprintf(repo, "one", "default"), "/srv/r", "/srv/other", 1)},
			want:  []string{"Repository default/one: given twice, differently, in a.yaml#1 and a.yaml#2"},
			kept:  1,
		},
		{
			name: "across files, three times, and in a List",
			files: map[string]string{
				"a.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\ndata: {k: YQ==}\n---\n" + fmt.Sprintf(repo, "one", "default"),
				"b.yaml": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s, namespace: default}, data: {k: Yg==}}\n",
				"c.yaml": fmt.Sprintf(repo, "one", "team-a") + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\ndata: {k: Yw==}\n",
			},
			want: []string{
				"Secret default/s: given twice, differently, in a.yaml#1 and b.yaml#1.items[0]",
				"Secret default/s: given twice, differently, in a.yaml#1 and c.yaml#2",
			},
			kept: 3,
		},
		{
			name: "cluster-scoped kinds have no namespace",
			files: map[string]string{"a.yaml": "apiVersion: stashflow.dev/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec: {image: busybox}\n" +
				"---\napiVersion: stashflow.dev/v1alpha1\nkind: Function\nmetadata: {name: f}\nspec: {image: alpine}\n"},
			want: []string{"Function f: given twice, differently, in a.yaml#1 and a.yaml#2"},
			kept: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []manifest.Object
			for _, name := range slices.Sorted(maps.Keys(tt.files)) {
				o, err := manifest.Decode(name, []byte(tt.files[name]))
				if err != nil {
					t.Fatal(err)
				}
				objs = append(objs, o...)
			}
			kept, err := manifest.Unique(objs)
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if len(kept) != tt.kept {
				t.Errorf("kept %d objects, want %d", len(kept), tt.kept)
			}
		})
	}
}

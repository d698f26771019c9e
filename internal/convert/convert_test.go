package convert_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/convert"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func mustConverter(t *testing.T) *convert.Converter {
	t.Helper()
	c, err := convert.New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render is what convert makes of a file: every change and problem line,
// the objects not written, then the objects written as one YAML stream.
func render(t *testing.T, c *convert.Converter, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := convert.ReadDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	var lines, out bytes.Buffer
	var notWritten []string
	for _, d := range docs {
		for _, r := range c.Convert(d) {
			for _, ch := range r.Changes {
				fmt.Fprintln(&lines, ch)
			}
			for _, p := range r.Problems {
				fmt.Fprintln(&lines, p)
			}
			if r.Object == nil {
				notWritten = append(notWritten, r.Name)
				continue
			}
			b, err := yaml.Marshal(r.Object.Object)
			if err != nil {
				t.Fatal(err)
			}
			out.WriteString("---\n")
			out.Write(b)
		}
	}
	return "# lines\n" + lines.String() + "# not written: " + strings.Join(notWritten, ", ") + "\n# output\n" + out.String()
}

// TestConvertGolden converts every Stash example (examples/stash) and the
// cases of testdata/in, and compares the lines and the output with
// testdata/golden (refresh with -update).
func TestConvertGolden(t *testing.T) {
	c := mustConverter(t)
	examples, _ := filepath.Glob("../../examples/stash/*.yaml")
	cases, _ := filepath.Glob("testdata/in/*.yaml")
	if len(examples) == 0 || len(cases) == 0 {
		t.Fatalf("no inputs: %v %v", examples, cases)
	}
	for _, in := range append(examples, cases...) {
		name := filepath.Base(filepath.Dir(in)) + "-" + strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			got := render(t, c, in)
			golden := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/convert -run TestConvertGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", golden, diff)
			}
		})
	}
}

// TestConvert pins single rules: what is changed, what is refused and with
// which message, and that the input is left as it was.
func TestConvert(t *testing.T) {
	c := mustConverter(t)
	tests := []struct {
		name         string
		in           string
		wantLines    []string
		wantWritten  bool
		wantContains []string // in the written YAML
	}{{
		name:        "pass-through object: no line, unchanged",
		in:          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, uid: u1, resourceVersion: '3'}\ndata: {a: b}\n",
		wantWritten: true, wantContains: []string{"uid: u1", "resourceVersion: \"3\""},
	}, {
		name:        "apiVersion and task name",
		in:          "apiVersion: stash.appscode.com/v1beta1\nkind: BackupConfiguration\nmetadata: {name: b}\nspec: {schedule: '@daily', repository: {name: r}, task: {name: etcd-backup-3.4.13}, target: {ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: e}}}\n",
		wantWritten: true,
		wantLines: []string{
			"BackupConfiguration/b: apiVersion: stash.appscode.com/v1beta1 → stashflow.dev/v1alpha1",
			"BackupConfiguration/b: spec.task.name: etcd-backup-3.4.13 → etcd-backup (stashflow's catalog Task, see docs/catalog.md)",
			"BackupConfiguration/b: spec.target.ref.apiVersion: appcatalog.appscode.com/v1alpha1 → stashflow.dev/v1alpha1",
		},
		wantContains: []string{"name: etcd-backup\n", "apiVersion: stashflow.dev/v1alpha1\n      kind: AppBinding"},
	}, {
		name:         "a Task name not in stashflow's catalog is kept",
		in:           "apiVersion: stash.appscode.com/v1beta1\nkind: BackupConfiguration\nmetadata: {name: b}\nspec: {schedule: '@daily', repository: {name: r}, task: {name: mongodb-backup-4.4.6}, target: {ref: {kind: AppBinding, name: p}}}\n",
		wantWritten:  true,
		wantLines:    []string{"BackupConfiguration/b: apiVersion: stash.appscode.com/v1beta1 → stashflow.dev/v1alpha1"},
		wantContains: []string{"name: mongodb-backup-4.4.6"},
	}, {
		name: "an unknown field, with the reason",
		in:   "apiVersion: stash.appscode.com/v1beta1\nkind: RestoreSession\nmetadata: {name: r}\nspec: {repository: {name: r}, target: {ref: {apiVersion: apps/v1, kind: StatefulSet, name: s}, replicas: 3, volumeClaimTemplates: []}}\n",
		wantLines: []string{
			"RestoreSession/r: apiVersion: stash.appscode.com/v1beta1 → stashflow.dev/v1alpha1",
			"RestoreSession/r: spec.target.replicas: cannot carry: Stash makes new claims from target.volumeClaimTemplates (replicas sets of them) and restores into them, with driver Restic (its clone-pvc guide) or VolumeSnapshotter; stashflow restores only into claims and workloads that exist: create the claims (or the StatefulSet, whose own volumeClaimTemplates make them) first and restore into them with target.ref",
			"RestoreSession/r: spec.target.volumeClaimTemplates: cannot carry: Stash makes new claims from target.volumeClaimTemplates (replicas sets of them) and restores into them, with driver Restic (its clone-pvc guide) or VolumeSnapshotter; stashflow restores only into claims and workloads that exist: create the claims (or the StatefulSet, whose own volumeClaimTemplates make them) first and restore into them with target.ref",
		},
	}, {
		name: "a field stashflow's type does not have",
		in:   "apiVersion: stash.appscode.com/v1beta1\nkind: Function\nmetadata: {name: f}\nspec: {image: busybox, podSecurityContext: {runAsUser: 1}}\n",
		wantLines: []string{
			"Function/f: apiVersion: stash.appscode.com/v1beta1 → stashflow.dev/v1alpha1",
			"Function/f: spec.podSecurityContext: cannot carry: stashflow's Function has no such field",
		},
	}, {
		name: "the CRD's CEL rule, in its words",
		in:   "apiVersion: stash.appscode.com/v1beta1\nkind: BackupConfiguration\nmetadata: {name: b}\nspec: {schedule: '@daily', repository: {name: r}, target: {ref: {kind: PersistentVolumeClaim, name: p}}, timeOut: soon}\n",
		wantLines: []string{
			"BackupConfiguration/b: apiVersion: stash.appscode.com/v1beta1 → stashflow.dev/v1alpha1",
			`BackupConfiguration/b: spec.timeOut: cannot carry: Invalid value: "string": spec.timeOut must be a duration such as 30m or 1h30m`,
		},
	}, {
		name: "Stash's legacy Restic",
		in:   "apiVersion: stash.appscode.com/v1alpha1\nkind: Restic\nmetadata: {name: r}\nspec: {}\n",
		wantLines: []string{
			"Restic/r: kind: cannot carry: Stash's legacy v1alpha1 Restic (a sidecar backup) has no stashflow counterpart: write a BackupConfiguration of the workload (target.ref, paths, volumeMounts) with the Restic's schedule and retentionPolicy, as Stash's own v1beta1 does, then convert that",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := convert.ReadDocuments([]byte(tt.in))
			if err != nil || len(docs) != 1 {
				t.Fatalf("docs = %v, %v", docs, err)
			}
			before, _ := yaml.Marshal(docs[0])
			rs := c.Convert(docs[0])
			if len(rs) != 1 {
				t.Fatalf("%d results", len(rs))
			}
			r := rs[0]
			var lines []string
			for _, ch := range r.Changes {
				lines = append(lines, ch.String())
			}
			for _, p := range r.Problems {
				lines = append(lines, p.String())
			}
			if diff := cmp.Diff(tt.wantLines, lines); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if (r.Object != nil) != tt.wantWritten {
				t.Fatalf("written = %v, want %v", r.Object != nil, tt.wantWritten)
			}
			if r.Object != nil {
				out, _ := yaml.Marshal(r.Object.Object)
				for _, w := range tt.wantContains {
					if !strings.Contains(string(out), w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
			}
			if after, _ := yaml.Marshal(docs[0]); !bytes.Equal(before, after) {
				t.Errorf("Convert changed its input:\n%s", after)
			}
		})
	}
}

package apifields_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/apifields"
)

var update = flag.Bool("update", false, "rewrite docs/api/fields.md from the table")

const (
	crdGlob  = "../../config/crd/bases/*.yaml"
	docsPath = "../../docs/api/fields.md"
)

// kinds are the kinds the table must cover, in the order of docs/api/fields.md.
var kinds = []string{
	"BackupConfiguration", "BackupBatch", "BackupSession", "RestoreSession", "RestoreBatch",
	"Repository", "Snapshot", "AppBinding", "BackupBlueprint", "Function", "Task",
}

func key(kind, path string) string { return kind + " " + path }

// isBoundary reports whether path ends with one of apifields.Boundaries.
func isBoundary(path string) bool {
	for _, b := range apifields.Boundaries {
		if strings.HasSuffix(path, "."+b) {
			return true
		}
	}
	return false
}

// walk appends the leaves under s: nodes without properties, and fields at a
// boundary. Lists add "[]" to the path when their items have properties.
func walk(path string, s apiextensionsv1.JSONSchemaProps, used map[string]bool, out *[]string) {
	if isBoundary(path) {
		for _, b := range apifields.Boundaries {
			if strings.HasSuffix(path, "."+b) {
				used[b] = true
			}
		}
		*out = append(*out, path)
		return
	}
	if s.Type == "array" && s.Items != nil && s.Items.Schema != nil && len(s.Items.Schema.Properties) > 0 {
		walk(path+"[]", *s.Items.Schema, used, out)
		return
	}
	if len(s.Properties) == 0 {
		*out = append(*out, strings.TrimSuffix(path, "[]"))
		return
	}
	for name, p := range s.Properties {
		walk(path+"."+name, p, used, out)
	}
}

// metav1ConditionFields are metav1.Condition's fields. Every other field of
// a status condition (Stash's severity) is accepted for objects exported
// from Stash and must be in the table, saying what happens to it.
var metav1ConditionFields = []string{"lastTransitionTime", "message", "observedGeneration", "reason", "status", "type"}

// conditionExtras appends the fields of every conditions list under s that
// metav1.Condition does not have.
func conditionExtras(path string, s apiextensionsv1.JSONSchemaProps, out *[]string) {
	if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
		if strings.HasSuffix(path, ".conditions") {
			for name := range s.Items.Schema.Properties {
				if !slices.Contains(metav1ConditionFields, name) {
					*out = append(*out, path+"[]."+name)
				}
			}
			return
		}
		conditionExtras(path+"[]", *s.Items.Schema, out)
		return
	}
	for name, p := range s.Properties {
		conditionExtras(path+"."+name, p, out)
	}
}

// schemaFields is every leaf of every CRD's spec, and every field of a
// status condition beyond metav1.Condition's, as "Kind path".
func schemaFields(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(crdGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs at %s: %v", crdGlob, err)
	}
	used := map[string]bool{}
	var all []string
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Fatalf("%s: version %s has no schema", f, v.Name)
			}
			spec, ok := v.Schema.OpenAPIV3Schema.Properties["spec"]
			if !ok {
				t.Fatalf("%s: version %s has no spec", f, v.Name)
			}
			var paths []string
			walk("spec", spec, used, &paths)
			if status, ok := v.Schema.OpenAPIV3Schema.Properties["status"]; ok {
				conditionExtras("status", status, &paths)
			}
			for _, p := range paths {
				if k := key(crd.Spec.Names.Kind, p); !seen[k] {
					seen[k] = true
					all = append(all, k)
				}
			}
		}
	}
	for _, b := range apifields.Boundaries {
		if !used[b] {
			t.Errorf("boundary %q matches no schema path: remove it", b)
		}
	}
	sort.Strings(all)
	return all
}

func TestTableMatchesSchemas(t *testing.T) {
	inSchema := schemaFields(t)
	var inTable []string
	for _, f := range apifields.Fields {
		if !slices.Contains(kinds, f.Kind) {
			t.Errorf("%s: unknown kind", key(f.Kind, f.Path))
		}
		inTable = append(inTable, key(f.Kind, f.Path))
	}
	sort.Strings(inTable)
	for i := 1; i < len(inTable); i++ {
		if inTable[i] == inTable[i-1] {
			t.Errorf("%s: twice in the table", inTable[i])
		}
	}
	for _, k := range inSchema {
		if _, found := slices.BinarySearch(inTable, k); !found {
			t.Errorf("%s: in the CRD schema, missing from apifields.Fields", k)
		}
	}
	for _, k := range inTable {
		if _, found := slices.BinarySearch(inSchema, k); !found {
			t.Errorf("%s: in apifields.Fields, no longer in the CRD schema", k)
		}
	}
	for _, kind := range kinds {
		if !slices.ContainsFunc(apifields.Fields, func(f apifields.Field) bool { return f.Kind == kind }) {
			t.Errorf("kind %s has no fields in the table", kind)
		}
	}
}

func TestNoSilentField(t *testing.T) {
	ignored, untested := map[string]bool{}, map[string]bool{}
	for _, f := range apifields.Fields {
		k := key(f.Kind, f.Path)
		if f.How == "" || f.Proof == "" {
			t.Errorf("%s: How and Proof must be set", k)
		}
		switch f.Status {
		case apifields.Ignored:
			ignored[k] = true
			if _, known := knownIgnored[k]; !known {
				t.Errorf("%s: Ignored (accepted and dropped): honour it with a test, or refuse it naming the field", k)
			}
		case apifields.Kept:
			if !strings.HasPrefix(f.Path, "status.") {
				t.Errorf("%s: Kept is for status fields from Stash's exports; a spec field is honoured or refused", k)
			}
		case apifields.Honoured, apifields.Refused:
			if f.Proof == apifields.Untested {
				untested[k] = true
				if _, known := knownUntested[k]; !known {
					t.Errorf("%s: %s but untested: name the test that proves it", k, f.Status)
				}
			}
		default:
			t.Errorf("%s: unknown status %q", k, f.Status)
		}
	}
	for k := range knownIgnored {
		if !ignored[k] {
			t.Errorf("%s: in knownIgnored but not Ignored in the table: remove it from knownIgnored", k)
		}
	}
	for k := range knownUntested {
		if !untested[k] {
			t.Errorf("%s: in knownUntested but has a proof: remove it from knownUntested", k)
		}
	}
}

// render is docs/api/fields.md.
func render() []byte {
	var b strings.Builder
	b.WriteString("# Every spec field, and what stashflow does with it\n\n")
	b.WriteString("Generated from `internal/apifields/fields.go` by `go test ./internal/apifields -update`; do not edit.\n")
	b.WriteString("The test fails when a CRD field is missing here, and for every field that is `Ignored` or\n")
	b.WriteString("`untested` outside its list of known defects. The walk stops at fields that hold an embedded\n")
	b.WriteString("Kubernetes type (`resources`, `env`, `securityContext`, `volumeMounts`, the volume sources,\n")
	b.WriteString("`selector`) and at `interimVolumeTemplate`: the row says where the whole value goes.\n")
	b.WriteString("Status fields stashflow does not write are listed too where the test finds them: a status\n")
	b.WriteString("condition's fields beyond `metav1.Condition`'s (Stash's `severity`), `Kept` as written.\n")
	counts := map[apifields.Status]int{}
	untested := map[apifields.Status]int{}
	for _, f := range apifields.Fields {
		counts[f.Status]++
		if f.Proof == apifields.Untested {
			untested[f.Status]++
		}
	}
	fmt.Fprintf(&b, "\n%d fields: %d Honoured (%d of them untested), %d Refused (%d of them untested), %d Kept, %d Ignored.\n",
		len(apifields.Fields), counts[apifields.Honoured], untested[apifields.Honoured], counts[apifields.Refused], untested[apifields.Refused], counts[apifields.Kept], counts[apifields.Ignored])
	for _, kind := range kinds {
		fmt.Fprintf(&b, "\n## %s\n\n| field | status | how | proof |\n|---|---|---|---|\n", kind)
		for _, f := range apifields.Fields {
			if f.Kind != kind {
				continue
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Path, f.Status, cell(f.How), cell(f.Proof))
		}
	}
	return []byte(b.String())
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func TestDocsUpToDate(t *testing.T) {
	want := render()
	if *update {
		if err := os.WriteFile(docsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/apifields -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("docs/api/fields.md is stale; run go test ./internal/apifields -update (-want +got):\n%s", diff)
	}
}

package catalog_test

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/translators"
)

// TestCatalogMatchesRegistry: every built-in Function's args, with its
// variables filled, parse against the flags of the Function the stashflow
// binary registers under that name. A renamed flag fails here, not in a
// user's backup.
func TestCatalogMatchesRegistry(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := functions.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cat.FunctionNames() {
		t.Run(name, func(t *testing.T) {
			if !reg.Has(name) {
				t.Fatalf("the catalog has Function %q but `stashflow fn` has no such function (registered: %s)", name, strings.Join(reg.Names(), ", "))
			}
			fn := cat.Functions[name]
			vars := sampleVariables(fn.Spec.Args)
			var args []string
			for _, a := range fn.Spec.Args[2:] { // after "fn <name>"
				v, err := vars.Substitute(a)
				if err != nil {
					t.Fatalf("arg %q: %v", a, err)
				}
				args = append(args, v)
			}
			f, err := reg.New(name)
			if err != nil {
				t.Fatal(err)
			}
			fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
			f.Flags(fs)
			if err := fs.Parse(args); err != nil {
				t.Fatalf("stashflow fn %s %s: %v", name, strings.Join(args, " "), err)
			}
		})
	}
}

// sampleVariables gives every variable the args use without a default a
// plausible value.
func sampleVariables(args []string) translators.Variables {
	v := translators.Variables{}
	for _, a := range args {
		for _, part := range strings.Split(a, "${")[1:] {
			name, _, _ := strings.Cut(part, "}")
			if strings.Contains(name, ":") {
				continue
			}
			switch {
			case strings.Contains(name, "ENDPOINT"):
				v[name] = "http://127.0.0.1:2379"
			default:
				v[name] = "sample"
			}
		}
	}
	return v
}

// TestCatalogOutputsAlwaysWritten: every output a catalog Function declares
// is one the runtime always writes (a common output, or one the Function
// declares), so that a warning that leaves a value unknown writes it empty
// instead of failing the step on Argo ("output parameter ...: no such file").
func TestCatalogOutputsAlwaysWritten(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := functions.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cat.FunctionNames() {
		fn, err := reg.New(name)
		if err != nil {
			t.Fatal(err)
		}
		written := map[string]bool{}
		for _, o := range outputs.Common() {
			written[o] = true
		}
		if d, ok := fn.(step.OutputDeclarer); ok {
			for _, o := range d.DeclaredOutputs() {
				written[o] = true
			}
		}
		for _, o := range cat.Functions[name].Spec.Outputs {
			if !written[o.Name] {
				t.Errorf("catalog Function %q declares output %q, which `stashflow fn %s` does not always write (add it to its DeclaredOutputs)", name, o.Name, name)
			}
		}
	}
}

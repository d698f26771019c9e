package translators_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

// TestListVariablesRoundTrip: a list field's items reach a Function's list
// flag (pflag's StringSlice, which reads one CSV record) as the same
// items, also when an item holds a comma or a quote: a target path
// "/www/a,b" is one path, not "/www/a" and "b".
func TestListVariablesRoundTrip(t *testing.T) {
	paths := []string{"/www/a,b", `/www/say "hi"`, "/www/plain"}
	patterns := []string{"*.tmp", "cache,old", `q"uote`}
	tests := []struct {
		name, file, function string
		set                  func(in *input)
		want                 map[string][]string // flag → items
	}{
		{
			name: "backup", file: "volume-backup-rest.yaml", function: "volume-backup",
			set: func(in *input) {
				tg := configOf(in).Spec.Target
				tg.Paths, tg.Exclude = paths, patterns
			},
			want: map[string][]string{"paths": paths, "exclude": patterns},
		},
		{
			name: "restore", file: "volume-restore-snapshots.yaml", function: "volume-restore",
			set: func(in *input) {
				rs := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
				r := &rs.Spec.Target.Rules[0]
				r.Paths, r.Include, r.Exclude = paths, patterns[:2], patterns[1:]
			},
			want: map[string][]string{"paths": paths, "include": patterns[:2], "exclude": patterns[1:]},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustLoad(t, tt.file)
			tt.set(in)
			plan, err := in.translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			found := false
			for _, s := range plan.Graph.Steps {
				if s.Labels[translators.LabelFunction] != tt.function {
					continue
				}
				found = true
				fs := pflag.NewFlagSet(tt.function, pflag.ContinueOnError)
				got := map[string]*[]string{}
				for flag := range tt.want {
					got[flag] = fs.StringSlice(flag, nil, "")
				}
				var args []string
				for _, a := range s.Process.Args {
					name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
					if _, ok := tt.want[name]; ok {
						args = append(args, a)
					}
				}
				if err := fs.Parse(args); err != nil {
					t.Fatalf("the step's flags %q do not parse: %v", args, err)
				}
				for flag, want := range tt.want {
					if diff := cmp.Diff(want, *got[flag]); diff != "" {
						t.Errorf("--%s (-want +got):\n%s", flag, diff)
					}
				}
			}
			if !found {
				t.Fatalf("no %s step", tt.function)
			}
		})
	}
}

package translators_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

// TestRestoreRuleFields: a restore rule's include and exclude reach the
// volume-restore step (restic restore's --include and --exclude), and its
// targetHosts choose the rule of the host: the rule naming the host wins
// over a rule naming another host and a rule for every host before it, and
// a host no rule names gets the first rule for every host. It
// holds for a RestoreSession's spec.target.rules and spec.rules (Stash's
// older place) and a RestoreBatch's spec.members[].target.rules and
// spec.members[].rules.
func TestRestoreRuleFields(t *testing.T) {
	rules := func(host string) []v1alpha1.RestoreRule {
		return []v1alpha1.RestoreRule{
			{TargetHosts: []string{"elsewhere"}, Include: []string{"*.elsewhere"}, Exclude: []string{"*.elsewhere-tmp"}},
			{Include: []string{"*.any"}, Exclude: []string{"*.any-tmp"}},
			{TargetHosts: []string{"other", host}, Include: []string{"*.conf", "html/"}, Exclude: []string{"*.tmp", "cache/"}},
		}
	}
	session := func(in *input) *v1alpha1.RestoreTargetSpec {
		return &manifest.Of[*v1alpha1.RestoreSession](in.set)[0].Spec.RestoreTargetSpec
	}
	member := func(in *input) *v1alpha1.RestoreTargetSpec {
		return &manifest.Of[*v1alpha1.RestoreBatch](in.set)[0].Spec.Members[1].RestoreTargetSpec
	}
	for _, tt := range []struct {
		place, file, host string
		spec              func(*input) *v1alpha1.RestoreTargetSpec
		older             bool // the rules in Stash's older place, beside target
	}{
		{"RestoreSession spec.target.rules", "volume-restore-snapshots.yaml", "data", session, false},
		{"RestoreSession spec.rules", "volume-restore-snapshots.yaml", "data", session, true},
		{"RestoreBatch spec.members[].target.rules", "restore-batch-sequential.yaml", "app-data", member, false},
		{"RestoreBatch spec.members[].rules", "restore-batch-sequential.yaml", "app-data", member, true},
	} {
		for _, named := range []bool{true, false} {
			name := tt.place + "/host named"
			want := []string{"--host=" + tt.host, "--include=*.conf,html/", "--exclude=*.tmp,cache/"}
			if !named {
				name = tt.place + "/host not named"
				want = []string{"--host=" + tt.host, "--include=*.any", "--exclude=*.any-tmp"}
			}
			t.Run(name, func(t *testing.T) {
				in := mustLoad(t, tt.file)
				spec := tt.spec(in)
				rs := rules(tt.host)
				if !named {
					rs[2].TargetHosts = []string{"other"}
				}
				if tt.older {
					spec.Target.Rules, spec.Rules = nil, rs
				} else {
					spec.Target.Rules, spec.Rules = rs, nil
				}
				plan, err := in.translate(translators.Options{Image: testImage})
				if err != nil {
					t.Fatalf("translate: %v", err)
				}
				var got [][]string
				for _, s := range plan.Graph.Steps {
					if s.Labels[translators.LabelFunction] != "volume-restore" {
						continue
					}
					got = append(got, flagsWith(s.Process.Args, "--host=", "--include=", "--exclude="))
				}
				if diff := cmp.Diff([][]string{want}, got); diff != "" {
					t.Errorf("the volume-restore step's --host, --include and --exclude (-want +got):\n%s", diff)
				}
			})
		}
	}
}

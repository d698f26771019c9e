package argo

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/pipeline"
)

// expandKube is the kubelet's expansion of command, args and env values
// (k8s.io/kubernetes third_party/forked/golang/expansion), for the test.
func expandKube(s string, env map[string]string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			out = append(out, s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			out = append(out, '$')
			i++
		case '(':
			end := -1
			for j := i + 2; j < len(s); j++ {
				if s[j] == ')' {
					end = j
					break
				}
			}
			if end < 0 {
				out = append(out, s[i:]...)
				return string(out)
			}
			if v, ok := env[s[i+2:end]]; ok {
				out = append(out, v...)
			} else {
				out = append(out, s[i:end+1]...)
			}
			i = end
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestKubeLiteral(t *testing.T) {
	env := map[string]string{"HOME": "/root", "X": "x"}
	for _, s := range []string{
		"", "plain", "$HOME", "${HOME}", "$(HOME)", "$$(HOME)", "$$$(X)", "a$", "$", "$$", "$(", "$(X",
		`sh -c 'echo $(date) > "${STASHFLOW_OUTPUT_DIR:-/tmp}/x"'`, "cost: $5 (or $$6)",
	} {
		if got := expandKube(kubeLiteral(s), env); got != s {
			t.Errorf("expand(kubeLiteral(%q)) = %q (escaped %q)", s, got, kubeLiteral(s))
		}
	}
}

func TestTemplateBaseName(t *testing.T) {
	for _, tc := range []struct {
		step pipeline.Step
		want string
	}{
		{pipeline.Step{Name: "a-backup", Template: "etcd-backup"}, "etcd-backup"},
		{pipeline.Step{Name: "a-backup", Template: "Etcd Backup!"}, "etcd-backup"},
		{pipeline.Step{Name: "pre-hook"}, "pre-hook"},
		{pipeline.Step{Name: "pre-hook", Template: "--"}, "pre-hook"},
		// Labels name nothing: they are the graph builder's, not the engine's.
		{pipeline.Step{Name: "b", Labels: map[string]string{"stashflow.dev/function": "etcd-backup"}}, "b"},
	} {
		if got := templateBaseName(&tc.step); got != tc.want {
			t.Errorf("templateBaseName(%+v) = %q, want %q", tc.step, got, tc.want)
		}
	}
}

// TestNodeAffinityKeepsTheGraphs: a step pinned to a node keeps the graph's
// affinity (a template's affinity replaces the Workflow's in Argo): the pin
// is ANDed into each required term, the rest is kept as it is.
func TestNodeAffinityKeepsTheGraphs(t *testing.T) {
	pin := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}
	zone := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	disk := corev1.NodeSelectorRequirement{Key: "disk", Operator: corev1.NodeSelectorOpExists}
	anti := &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "host"}}}}
	required := func(terms ...corev1.NodeSelectorTerm) *corev1.NodeAffinity {
		return &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}
	}
	base := &corev1.Affinity{NodeAffinity: required(
		corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{zone}},
		corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{disk}},
	), PodAntiAffinity: anti}
	for _, tt := range []struct {
		name string
		node string
		base *corev1.Affinity
		want *corev1.Affinity
	}{
		{"no node", "", base, nil},
		{"no graph affinity", "n1", nil, &corev1.Affinity{NodeAffinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{pin}})}},
		{"pod anti-affinity only", "n1", &corev1.Affinity{PodAntiAffinity: anti}, &corev1.Affinity{
			NodeAffinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{pin}}), PodAntiAffinity: anti,
		}},
		{"required terms", "n1", base, &corev1.Affinity{NodeAffinity: required(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{zone}, MatchFields: []corev1.NodeSelectorRequirement{pin}},
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{disk}, MatchFields: []corev1.NodeSelectorRequirement{pin}},
		), PodAntiAffinity: anti}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.base.DeepCopy()
			if diff := cmp.Diff(tt.want, nodeAffinity(tt.node, tt.base)); diff != "" {
				t.Errorf("nodeAffinity (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.base); diff != "" {
				t.Errorf("the graph's affinity was changed (-before +after):\n%s", diff)
			}
		})
	}
}

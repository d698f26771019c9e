package argo

import (
	"testing"

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

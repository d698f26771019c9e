package argo

import "testing"

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

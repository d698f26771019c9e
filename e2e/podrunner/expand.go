package podrunner

import (
	"path"
	"slices"
	"strings"
)

// expand replaces $(NAME) in s as the kubelet does in a container's
// command, args and env values: a defined NAME becomes its value, an
// undefined one stays as written, $$ is a literal $, and any other $ is kept.
// It follows k8s.io/kubernetes third_party/forked/golang/expansion.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	checkpoint := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		b.WriteString(s[checkpoint:i])
		read, advance := s[i:i+2], 1
		switch s[i+1] {
		case '$':
			read = "$"
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := lookup(name); ok {
					read = v
				} else {
					read = "$(" + name + ")"
				}
				advance = end + 2
			}
		}
		b.WriteString(read)
		i += advance
		checkpoint = i + 1
	}
	b.WriteString(s[checkpoint:])
	return b.String()
}

// unwrapEmissary returns the argv a container runs. Argo wraps a main
// container's command as `/var/run/argo/argoexec emissary [flags] -- CMD...`;
// the process the emissary starts is CMD... followed by the container's args.
// A command without the wrapper is returned with the args appended.
func unwrapEmissary(command, args []string) (argv []string, wrapped bool) {
	if len(command) >= 2 && path.Base(command[0]) == "argoexec" && command[1] == "emissary" {
		if i := slices.Index(command, "--"); i >= 0 {
			return append(slices.Clone(command[i+1:]), args...), true
		}
	}
	return append(slices.Clone(command), args...), false
}

// rewrite replaces a path prefix.

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
type rewrite struct{ from, to string }

// rewriter holds one container's rewrites, longest prefix first so that a
// mount nested in another wins. It is the local engine's rule
// (pipeline/local/volumes.go), kept the same on purpose so that both engines
// give a process the same paths.
type rewriter []rewrite

// sorted returns rw ordered longest prefix first.
func (rw rewriter) sorted() rewriter {
	out := slices.Clone(rw)
	slices.SortStableFunc(out, func(a, b rewrite) int { return len(b.from) - len(a.from) })
	return out
}

// apply rewrites every occurrence of a prefix in s that stands as a whole
// path or the start of one: not preceded by a path character (so /x/data is
// not a mount at /data) and followed by '/', the end, or a character that
// cannot continue a file name (so /database is not /data either).
func (rw rewriter) apply(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if s[i] != '/' || (i > 0 && continuesPath(s[i-1], true)) {
			i++
			continue
		}
		matched := false
		for _, r := range rw {
			end := i + len(r.from)
			if strings.HasPrefix(s[i:], r.from) && (end == len(s) || !continuesPath(s[end], false)) {
				b.WriteString(s[last:i])
				b.WriteString(r.to)
				i, last, matched = end, end, true
				break
			}
		}
		if !matched {
			i++
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// continuesPath reports whether c, next to a candidate prefix, makes it part
// of a longer name: before it, '/' counts too.
func continuesPath(c byte, before bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_':
		return true
	case c == '-':
		return !before
	case c == '/':
		return before
	}
	return false
}

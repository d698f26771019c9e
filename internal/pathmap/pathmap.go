// Package pathmap rewrites container paths (mount paths, the output
// directory) into host directories inside strings: a command's args, env
// values, a working dir. The local engine and the e2e pod runner both run
// a step's process on the host, and they must give it the same paths, so
// they share this one rule.
package pathmap

import (
	"slices"
	"strings"
)

// Mapping maps a container path prefix to a host directory.
type Mapping struct{ From, To string }

// Rewriter holds mappings, longest prefix first so that a mount nested in
// another wins.
type Rewriter []Mapping

// New orders the mappings for Apply.
func New(m ...Mapping) Rewriter {
	out := Rewriter(slices.Clone(m))
	slices.SortStableFunc(out, func(a, b Mapping) int { return len(b.From) - len(a.From) })
	return out
}

// Apply rewrites every occurrence of a prefix in s that stands as a whole
// path or the start of one: not preceded by a path character (so /x/data is
// not a mount at /data) and followed by '/', the end, or a character that
// cannot continue a file name (so /database is not /data either).
func (rw Rewriter) Apply(s string) string {
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
			end := i + len(r.From)
			if strings.HasPrefix(s[i:], r.From) && (end == len(s) || !continuesPath(s[end], false)) {
				b.WriteString(s[last:i])
				b.WriteString(r.To)
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

package translators

import (
	"fmt"
	"sort"
	"strings"
)

// Variables are the values ${NAME} and ${NAME:=default} resolve to.
type Variables map[string]string

// UnresolvedError is returned when a variable has no value and no default.
type UnresolvedError struct {
	Variable string
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("variable ${%s} has no value and no default", e.Variable)
}

// SyntaxError is returned for a malformed reference, such as an unclosed "${".
type SyntaxError struct {
	Offset int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("at offset %d: %s", e.Offset, e.Reason)
}

// Substitute expands variable references in s, with Stash's meaning:
//
//	${NAME}            the value of NAME; an error if NAME has none
//	${NAME:=default}   the value of NAME, or default when NAME is unset or empty
//	${NAME:-default}   the same (shell spelling)
//	$${                a literal "${"
//
// Bare $NAME and $(...) are left alone, so shell scripts in a Function's
// args and output references ($(steps.x.outputs.y)) pass through. Defaults
// are literal: they are not expanded again.
func (v Variables) Substitute(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", &SyntaxError{Offset: i, Reason: `"${" is not closed by "}"`}
			}
			val, err := v.resolve(s[i+2:i+2+end], i)
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i += end + 3
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func (v Variables) resolve(expr string, offset int) (string, error) {
	name, def, hasDefault := expr, "", false
	if j := strings.Index(expr, ":"); j >= 0 {
		rest := expr[j+1:]
		if !strings.HasPrefix(rest, "=") && !strings.HasPrefix(rest, "-") {
			return "", &SyntaxError{Offset: offset, Reason: fmt.Sprintf("${%s}: want ${NAME}, ${NAME:=default} or ${NAME:-default}", expr)}
		}
		name, def, hasDefault = expr[:j], rest[1:], true
	}
	if !validVariableName(name) {
		return "", &SyntaxError{Offset: offset, Reason: fmt.Sprintf("${%s}: %q is not a variable name (letters, digits and '_', not starting with a digit)", expr, name)}
	}
	if val, ok := v[name]; ok && (val != "" || !hasDefault) {
		return val, nil
	}
	if hasDefault {
		return def, nil
	}
	return "", &UnresolvedError{Variable: name}
}

func validVariableName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// With returns a copy of v with the given values added on top.
func (v Variables) With(more map[string]string) Variables {
	out := make(Variables, len(v)+len(more))
	for k, val := range v {
		out[k] = val
	}
	for k, val := range more {
		out[k] = val
	}
	return out
}

// Names lists the variable names, sorted.
func (v Variables) Names() []string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

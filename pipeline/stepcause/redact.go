package stepcause

import "strings"

// Redacted is what a secret value becomes in text that leaves a step.
const Redacted = "[redacted]"

// Redactor hides secret values in text that leaves an engine: step
// messages, events, the log tails and outputs kept for the UI. The zero
// value hides nothing; a nil *Redactor too.
type Redactor struct{ values []string }

// Add registers a value to hide. Longer values go first, so that a value
// containing another is hidden whole.
func (r *Redactor) Add(v string) {
	if v == "" {
		return
	}
	i := 0
	for i < len(r.values) && len(r.values[i]) >= len(v) {
		i++
	}
	r.values = append(r.values[:i], append([]string{v}, r.values[i:]...)...)
}

// Redact replaces every registered value in s with Redacted.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return s
}

// Values are the registered values, longest first. The caller must not
// change them.
func (r *Redactor) Values() []string {
	if r == nil {
		return nil
	}
	return r.values
}

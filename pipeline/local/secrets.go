package local

import (
	"context"
	"errors"
	"strings"
)

// SecretResolver returns the value of one key of a Secret. The operator reads
// a Kubernetes Secret; the CLI reads a local Secret manifest.
type SecretResolver interface {
	SecretValue(ctx context.Context, name, key string) (string, error)
}

// ErrSecretNotFound is what a SecretResolver wraps when the Secret or the key
// does not exist; an optional SecretKeyRef then leaves its variable unset.
var ErrSecretNotFound = errors.New("secret or key not found")

// StaticSecrets resolves secrets from memory: Secret name → key → value.
type StaticSecrets map[string]map[string]string

// SecretValue implements SecretResolver.
func (s StaticSecrets) SecretValue(_ context.Context, name, key string) (string, error) {
	v, ok := s[name][key]
	if !ok {
		return "", ErrSecretNotFound
	}
	return v, nil
}

// redactor hides secret values in text that leaves the engine (messages,
// events). It does not touch the step's log file: that is the process's own
// output, like a container log.
type redactor struct{ values []string }

const redacted = "[redacted]"

// add registers a value to hide; longer values go first so that a value
// containing another is hidden whole.
func (r *redactor) add(v string) {
	if v == "" {
		return
	}
	i := 0
	for i < len(r.values) && len(r.values[i]) >= len(v) {
		i++
	}
	r.values = append(r.values[:i], append([]string{v}, r.values[i:]...)...)
}

func (r *redactor) redact(s string) string {
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, redacted)
	}
	return s
}

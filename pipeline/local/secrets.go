package local

import (
	"context"
	"errors"
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

package engine

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/pipeline/local"
)

// KubeSecrets resolves the local engine's secret references from Kubernetes
// Secrets in the session's namespace, read one at a time with reader (the
// manager's API reader: the operator caches no Secret). Values go to the
// step's environment only; neither they nor the Secret are logged.
func KubeSecrets(reader client.Reader) func(namespace string) local.SecretResolver {
	return func(namespace string) local.SecretResolver {
		return &kubeSecrets{reader: reader, namespace: namespace}
	}
}

type kubeSecrets struct {
	reader    client.Reader
	namespace string
}

func (k *kubeSecrets) SecretValue(ctx context.Context, name, key string) (string, error) {
	s := &corev1.Secret{}
	if err := k.reader.Get(ctx, types.NamespacedName{Namespace: k.namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("secret %s/%s: %w", k.namespace, name, local.ErrSecretNotFound)
		}
		return "", fmt.Errorf("reading secret %s/%s: %w", k.namespace, name, err)
	}
	if v, ok := s.Data[key]; ok {
		return string(v), nil
	}
	if v, ok := s.StringData[key]; ok {
		return v, nil
	}
	return "", fmt.Errorf("secret %s/%s has no key %q: %w", k.namespace, name, key, local.ErrSecretNotFound)
}

package main

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/internal/manifest"
)

type corev1Secret = corev1.Secret

// clusterClient talks to the cluster of the current kubeconfig context
// ($KUBECONFIG, ~/.kube/config, or in-cluster), with stashflow's kinds.
func clusterClient() (client.Client, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to talk to (KUBECONFIG, ~/.kube/config or in-cluster): %w", err)
	}
	return client.New(cfg, client.Options{Scheme: manifest.Scheme()})
}

func secretData(s *corev1.Secret) map[string]string {
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

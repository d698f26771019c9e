package main

import (
	corev1 "k8s.io/api/core/v1"
)

type corev1Secret = corev1.Secret

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

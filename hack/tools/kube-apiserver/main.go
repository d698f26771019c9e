// Command kube-apiserver is the real Kubernetes API server, built from
// k8s.io/kubernetes through the Go module proxy for envtest.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

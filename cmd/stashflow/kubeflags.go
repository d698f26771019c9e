package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/internal/manifest"
)

// kubeFlags are kubectl's connection flags (k8s.io/cli-runtime), given to
// each command that talks to a cluster: --kubeconfig, --context,
// --cluster, --user, --server, --token, --request-timeout and
// -n/--namespace, whose default is the namespace of the kubeconfig's
// context, as kubectl reads it. They are not on the root command: a
// Function's own flags (stashflow fn …) may be named --namespace too.
type kubeFlags struct {
	config *genericclioptions.ConfigFlags
	cl     client.Client // made once, by client
}

// addKubeFlags registers the connection flags on the command, -n and
// --context completed from the cluster and the kubeconfig.
func addKubeFlags(cmd *cobra.Command) *kubeFlags {
	cf := genericclioptions.NewConfigFlags(true)
	// The TLS, impersonation and basic-auth flags stay in the kubeconfig.
	cf.CacheDir, cf.TLSServerName, cf.Insecure, cf.CertFile, cf.KeyFile, cf.CAFile = nil, nil, nil, nil, nil, nil
	cf.Impersonate, cf.ImpersonateUID, cf.ImpersonateGroup, cf.Username, cf.Password, cf.DisableCompression = nil, nil, nil, nil, nil, nil
	cf.AddFlags(cmd.Flags())
	f := &kubeFlags{config: cf}
	registerKubeCompletion(cmd, f)
	return f
}

// client is a client of the cluster the flags name ($KUBECONFIG,
// ~/.kube/config or in-cluster, then the flags), with stashflow's kinds.
func (f *kubeFlags) client() (client.Client, error) {
	if f.cl != nil {
		return f.cl, nil
	}
	cfg, err := f.config.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("no cluster to talk to (--kubeconfig, KUBECONFIG, ~/.kube/config or in-cluster): %w", err)
	}
	f.cl, err = client.New(cfg, client.Options{Scheme: manifest.Scheme()})
	return f.cl, err
}

// get reads the object kind/name into obj from the namespace of -n or the
// context; not found names the namespace searched. It returns the client,
// for what the command does next, and the namespace.
func (f *kubeFlags) get(ctx context.Context, kind, name string, obj client.Object) (client.Client, string, error) {
	cl, err := f.client()
	if err != nil {
		return nil, "", err
	}
	ns, explicit, err := f.namespace()
	if err != nil {
		return nil, "", err
	}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return nil, "", notFoundIn(err, kind, name, ns, explicit)
	}
	return cl, ns, nil
}

// namespace is -n, or else the namespace of the kubeconfig's context, or
// else "default"; explicit says whether -n was given.
func (f *kubeFlags) namespace() (ns string, explicit bool, err error) {
	ns, explicit, err = f.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", false, fmt.Errorf("reading the namespace of the kubeconfig's context: %w", err)
	}
	return ns, explicit, nil
}

// notFoundIn names the namespace searched when err is NotFound, which
// the API server's message does not: "BackupSession nightly-1 not found
// in namespace team-a (the context's namespace; use -n to choose another)".
func notFoundIn(err error, kind, name, ns string, explicit bool) error {
	if !apierrors.IsNotFound(err) {
		return err
	}
	from := "the context's namespace; use -n to choose another"
	if explicit {
		from = "-n"
	}
	return fmt.Errorf("%s %s not found in namespace %s (%s)", kind, name, ns, from)
}

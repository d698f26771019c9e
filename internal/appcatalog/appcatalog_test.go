package appcatalog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/appcatalog"
)

func mustParse(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const head = "apiVersion: appcatalog.appscode.com/v1alpha1\nkind: AppBinding\nmetadata: {name: pg, namespace: demo, labels: {app.kubernetes.io/instance: pg}}\n"

func TestToAppBinding(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "pg", Namespace: "demo", Labels: map[string]string{"app.kubernetes.io/instance": "pg"}}
	typeMeta := metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AppBinding"}
	tests := []struct {
		name string
		spec string
		want v1alpha1.AppBindingSpec
	}{{
		// What KubeDB writes for a Postgres: appRef, a Service, the auth
		// Secret, parameters.
		name: "kubedb postgres",
		spec: `spec:
  appRef: {apiGroup: kubedb.com, kind: Postgres, name: pg, namespace: demo}
  clientConfig:
    service: {name: pg, namespace: demo, path: /, port: 5432, query: sslmode=disable, scheme: postgresql}
  parameters: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: StashAddon, stash: {addon: {backupTask: {name: postgres-backup-14.0}}}}
  secret: {name: pg-auth}
  type: kubedb.com/postgres
  version: "14.2"
`,
		want: v1alpha1.AppBindingSpec{
			Type: "kubedb.com/postgres", Version: "14.2",
			ClientConfig: v1alpha1.ClientConfig{Service: &v1alpha1.ServiceReference{Scheme: "postgresql", Name: "pg", Port: 5432, Path: "/", Query: "sslmode=disable"}},
			Secret:       &v1alpha1.LocalObjectRef{Name: "pg-auth"},
			Parameters:   &runtime.RawExtension{Raw: []byte(`{"apiVersion":"appcatalog.appscode.com/v1alpha1","kind":"StashAddon","stash":{"addon":{"backupTask":{"name":"postgres-backup-14.0"}}}}`)},
		},
	}, {
		// What KubeDB writes for a MySQL (Stash's MySQL guides): a driver
		// string as the url beside the Service; the Service is used.
		name: "kubedb mysql: url and service",
		spec: `spec:
  clientConfig:
    service: {name: sample-mysql, path: /, port: 3306, scheme: mysql}
    url: tcp(sample-mysql:3306)/
  secret: {name: sample-mysql-auth}
  type: kubedb.com/mysql
  version: 8.0.14
`,
		want: v1alpha1.AppBindingSpec{
			Type: "kubedb.com/mysql", Version: "8.0.14",
			ClientConfig: v1alpha1.ClientConfig{URL: ptr.To("tcp(sample-mysql:3306)/"), Service: &v1alpha1.ServiceReference{Scheme: "mysql", Name: "sample-mysql", Port: 3306, Path: "/"}},
			Secret:       &v1alpha1.LocalObjectRef{Name: "sample-mysql-auth"},
		},
	}, {
		name: "url and TLS",
		spec: `spec:
  clientConfig: {url: "https://etcd-0.etcd:2379", caBundle: Q0EK, insecureSkipTLSVerify: true, serverName: etcd.local}
  type: etcd
  secretTransforms: []
`,
		want: v1alpha1.AppBindingSpec{
			Type:         "etcd",
			ClientConfig: v1alpha1.ClientConfig{URL: ptr.To("https://etcd-0.etcd:2379"), CABundle: []byte("CA\n"), InsecureSkipTLSVerify: true, ServerName: "etcd.local"},
		},
	}, {
		name: "tlsSecret alone is the secret",
		spec: "spec: {clientConfig: {url: 'https://e:2379'}, tlsSecret: {name: client-cert}}\n",
		want: v1alpha1.AppBindingSpec{ClientConfig: v1alpha1.ClientConfig{URL: ptr.To("https://e:2379")}, Secret: &v1alpha1.LocalObjectRef{Name: "client-cert"}},
	}, {
		name: "tlsSecret naming the secret",
		spec: "spec: {clientConfig: {url: 'https://e:2379'}, secret: {name: s}, tlsSecret: {name: s}}\n",
		want: v1alpha1.AppBindingSpec{ClientConfig: v1alpha1.ClientConfig{URL: ptr.To("https://e:2379")}, Secret: &v1alpha1.LocalObjectRef{Name: "s"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustParse(t, head+tt.spec)
			before := runtime.DeepCopyJSON(in)
			got, err := appcatalog.ToAppBinding(in)
			if err != nil {
				t.Fatal(err)
			}
			want := &v1alpha1.AppBinding{TypeMeta: typeMeta, ObjectMeta: meta, Spec: tt.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("AppBinding (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, in); diff != "" {
				t.Errorf("the input changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestToAppBindingRefused(t *testing.T) {
	const ab = "appcatalog.appscode.com/v1alpha1 AppBinding demo/pg"
	tests := []struct {
		name, doc, want string
	}{{
		name: "secretTransforms",
		doc:  head + "spec: {clientConfig: {url: 'u'}, secretTransforms: [{renameKey: {from: USER, to: username}}]}\n",
		want: "spec.secretTransforms of " + ab + ": stashflow applies no transform",
	}, {
		name: "tlsSecret beside another secret",
		doc:  head + "spec: {clientConfig: {url: 'u'}, secret: {name: auth}, tlsSecret: {name: client-cert}}\n",
		want: "spec.tlsSecret of " + ab + ": the client certificate Secret client-cert differs from spec.secret (auth)",
	}, {
		name: "service of another namespace",
		doc:  head + "spec: {clientConfig: {service: {name: pg, namespace: db, port: 5432, scheme: postgresql}}}\n",
		want: "spec.clientConfig.service.namespace of " + ab + ": the Service is in namespace db",
	}, {
		name: "unknown spec field",
		doc:  head + "spec: {clientConfig: {url: 'u'}, clientCertificateSecret: {name: c}}\n",
		want: "spec.clientCertificateSecret of " + ab + ": stashflow does not know this field",
	}, {
		name: "unknown clientConfig field",
		doc:  head + "spec: {clientConfig: {url: 'u', proxyURL: 'p'}}\n",
		want: "spec.clientConfig.proxyURL of " + ab + ": stashflow does not know this field",
	}, {
		name: "unknown service field",
		doc:  head + "spec: {clientConfig: {service: {name: pg, port: 1, scheme: x, tls: true}}}\n",
		want: "spec.clientConfig.service.tls of " + ab + ": stashflow does not know this field",
	}, {
		name: "neither url nor service",
		doc:  head + "spec: {clientConfig: {caBundle: Q0EK}}\n",
		want: "spec.clientConfig of " + ab + ": one of clientConfig.url or clientConfig.service must be set",
	}, {
		name: "service without a port",
		doc:  head + "spec: {clientConfig: {service: {name: pg, scheme: x}}}\n",
		want: "spec.clientConfig.service.port of " + ab + ": not set",
	}, {
		name: "no spec",
		doc:  head,
		want: "spec of " + ab + ": not set",
	}, {
		name: "a stashflow AppBinding",
		doc:  "apiVersion: stashflow.dev/v1alpha1\nkind: AppBinding\nmetadata: {name: pg, namespace: demo}\nspec: {clientConfig: {url: u}}\n",
		want: "apiVersion of " + ab + ": want appcatalog.appscode.com/v1alpha1 AppBinding, have stashflow.dev/v1alpha1 AppBinding",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := appcatalog.ToAppBinding(mustParse(t, tt.doc))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want one starting %q", err, tt.want)
			}
		})
	}
}

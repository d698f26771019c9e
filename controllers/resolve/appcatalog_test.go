package resolve_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/internal/appcatalog"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

var (
	env *testenv.Env
	c   client.Client
)

// TestMain starts one kube-apiserver for the package, with stashflow's
// CRDs only: the appcatalog CRD is installed by the test that needs it,
// after it has seen the resolver without it.
func TestMain(m *testing.M) { operatortest.Main(m, &env, &c) }

func TestAppCatalogAppBinding(t *testing.T) {
	ctx := context.Background()
	ns := operatortest.Namespace(t, c, nil)
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	r := &resolve.Resolver{Client: c, APIReader: c, Builtins: resolve.Builtins{Functions: cat.Functions, Tasks: cat.Tasks}}
	appcatalogRef := func(name string) v1alpha1.TargetRef {
		return v1alpha1.TargetRef{APIVersion: appcatalog.GroupVersion.String(), Kind: "AppBinding", Name: name}
	}

	t.Run("CRD not installed", func(t *testing.T) {
		_, err := r.AppBinding(ctx, "spec.target.ref", ns, appcatalogRef("etcd"))
		want := "spec.target.ref: AppBinding " + ns + "/etcd not found: the CRD appbindings.appcatalog.appscode.com is not installed (KubeDB and Stash install it); apiVersion appcatalog.appscode.com/v1alpha1 names it"
		if err == nil || err.Error() != want || !resolve.IsNotFound(err) {
			t.Errorf("error %v, want the NotFoundError %q", err, want)
		}
		// A stashflow (or unset) apiVersion falls back to appcatalog's
		// kind; without its CRD the AppBinding is simply not found.
		_, err = r.AppBinding(ctx, "spec.target.ref", ns, v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd"})
		want = "spec.target.ref: AppBinding " + ns + "/etcd not found"
		if err == nil || err.Error() != want || !resolve.IsNotFound(err) {
			t.Errorf("error %v, want the NotFoundError %q", err, want)
		}
	})

	env.InstallAppCatalogCRD(t, c, ns)
	repo, secret := operatortest.Repository(ns, "repo", t.TempDir())
	operatortest.Create(t, c, secret, repo,
		operatortest.AppCatalogBinding(ns, "etcd", `
  appRef: {apiGroup: kubedb.com, kind: Etcd, name: etcd, namespace: `+ns+`}
  type: kubedb.com/etcd
  version: "3.6.5"
  clientConfig:
    service: {name: etcd-client, namespace: `+ns+`, port: 2379, scheme: https}
    caBundle: Q0EK
    serverName: etcd.cluster.local
  secret: {name: etcd-auth}
  parameters: {endpoints: ["https://etcd-0:2379"]}
`),
		operatortest.AppCatalogBinding(ns, "transformed", "{clientConfig: {url: 'http://x:1'}, secretTransforms: [{renameKey: {from: USER, to: username}}]}"),
		operatortest.AppCatalogBinding(ns, "both", "{type: etcd, clientConfig: {url: 'http://appcatalog:2379'}}"),
		&v1alpha1.AppBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "both"},
			Spec:       v1alpha1.AppBindingSpec{Type: "etcd", ClientConfig: v1alpha1.ClientConfig{URL: ptr.To("http://stashflow:2379")}},
		},
	)

	t.Run("a BackupSession of an appcatalog AppBinding translates with its values", func(t *testing.T) {
		bc := &v1alpha1.BackupConfiguration{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "etcd"},
			Spec: v1alpha1.BackupConfigurationSpec{
				Schedule:   "@daily",
				Repository: v1alpha1.ObjectRef{Name: repo.Name},
				BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
					Target: &v1alpha1.BackupTarget{Ref: appcatalogRef("etcd")},
					Hooks: &v1alpha1.BackupHooks{
						PreBackup: &v1alpha1.Hook{Exec: &v1alpha1.ExecAction{Command: []string{"etcdctl", "endpoint", "health"}}},
						PostBackup: &v1alpha1.PostHook{Hook: v1alpha1.Hook{HTTPGet: &v1alpha1.HTTPGetAction{
							Path: "/health", Port: intstr.FromInt32(2379)}}},
					},
				},
			},
		}
		member := resolve.BackupMember("spec", &bc.Spec.BackupConfigurationTemplateSpec)
		if checked, err := r.Target(ctx, "spec.target.ref", ns, bc.Spec.Target.Ref); !checked || err != nil {
			t.Fatalf("Target: checked %v, error %v; want checked and found", checked, err)
		}
		objs, err := r.Objects(ctx, resolve.Backup, ns, bc.Spec.Repository, []resolve.Member{member})
		if err != nil {
			t.Fatal(err)
		}
		if got := objs.Tasks; got["etcd-backup"] == nil {
			t.Fatalf("Tasks %v: want etcd-backup, inferred from type kubedb.com/etcd", slices.Sorted(maps.Keys(got)))
		}
		s := &v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "etcd-1"},
			Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: v1alpha1.KindBackupConfiguration, Name: bc.Name}},
		}
		plan, err := translators.Backup(s, translators.BackupInvoker{Config: bc}, objs, translators.Options{Image: "stashflow:test"})
		if err != nil {
			t.Fatal(err)
		}
		step := findStep(plan.Graph, "etcd-backup")
		if step == nil {
			t.Fatalf("no etcd-backup step in %v", stepNames(plan.Graph))
		}
		if want := "--endpoints=https://etcd-client." + ns + ".svc:2379"; !slices.Contains(step.Process.Args, want) {
			t.Errorf("args %q: want %q (clientConfig.service)", step.Process.Args, want)
		}
		env := map[string]string{}
		secrets := map[string]string{}
		for _, e := range step.Process.Env {
			env[e.Name] = e.Value
			if e.SecretKeyRef != nil {
				secrets[e.Name] = e.SecretKeyRef.Name + "/" + e.SecretKeyRef.Key
			}
		}
		wantEnv := map[string]string{
			outputs.TargetCABundleEnv:   "CA\n",
			outputs.TargetServerNameEnv: "etcd.cluster.local",
			outputs.TargetParametersEnv: `{"endpoints":["https://etcd-0:2379"]}`,
		}
		gotEnv := map[string]string{}
		for k := range wantEnv {
			if v, ok := env[k]; ok {
				gotEnv[k] = v
			}
		}
		if diff := cmp.Diff(wantEnv, gotEnv); diff != "" {
			t.Errorf("the AppBinding's env of the step (-want +got):\n%s\nall env: %v", diff, env)
		}
		if got, want := secrets["ETCD_CACERT"], "etcd-auth/ca.crt"; got != want {
			t.Errorf("ETCD_CACERT from %q, want %q (spec.secret)", got, want)
		}

		// Hooks: the exec hook finds its pod from KubeDB's AppBinding (the
		// step reads it with the same rule, functions/hook
		// TestFindPodKubeDBAppBinding); an HTTP hook with no host goes to
		// the AppBinding's Service.
		hookArgs := func(phase string) []string {
			for _, st := range plan.Graph.Steps {
				if st.Labels[translators.LabelStepKind] == translators.StepKindHook && slices.Contains(st.Process.Args, "--hook="+phase) {
					return st.Process.Args
				}
			}
			t.Fatalf("no %s hook step in %v", phase, stepNames(plan.Graph))
			return nil
		}
		pre := hookArgs("preBackup")
		for _, want := range []string{"exec", "--target=AppBinding/etcd", "--target-api-version=" + appcatalog.GroupVersion.String()} {
			if !slices.Contains(pre, want) {
				t.Errorf("preBackup hook args %q: want %q", pre, want)
			}
		}
		if post, want := hookArgs("postBackup"), "--url=http://etcd-client."+ns+".svc:2379/health"; !slices.Contains(post, want) {
			t.Errorf("postBackup hook args %q: want %q (clientConfig.service)", post, want)
		}
	})

	t.Run("stashflow's AppBinding wins over appcatalog's of the same name", func(t *testing.T) {
		for _, apiVersion := range []string{"", v1alpha1.GroupVersion.String()} {
			ab, err := r.AppBinding(ctx, "spec.target.ref", ns, v1alpha1.TargetRef{APIVersion: apiVersion, Kind: "AppBinding", Name: "both"})
			if err != nil || ab.Spec.ClientConfig.URL == nil || *ab.Spec.ClientConfig.URL != "http://stashflow:2379" {
				t.Errorf("apiVersion %q: AppBinding %+v, error %v; want stashflow's", apiVersion, ab, err)
			}
		}
		ab, err := r.AppBinding(ctx, "spec.target.ref", ns, appcatalogRef("both"))
		if err != nil || ab.Spec.ClientConfig.URL == nil || *ab.Spec.ClientConfig.URL != "http://appcatalog:2379" {
			t.Errorf("apiVersion %s: AppBinding %+v, error %v; want appcatalog's", appcatalog.GroupVersion, ab, err)
		}
	})

	t.Run("an unset apiVersion reads appcatalog's when stashflow has none", func(t *testing.T) {
		ab, err := r.AppBinding(ctx, "spec.target.ref", ns, v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd"})
		if err != nil || ab.Spec.Type != "kubedb.com/etcd" {
			t.Errorf("AppBinding %+v, error %v; want appcatalog's etcd", ab, err)
		}
	})

	t.Run("errors name the field", func(t *testing.T) {
		tests := []struct {
			name     string
			ref      v1alpha1.TargetRef
			want     string
			notFound bool
		}{
			{"missing object", appcatalogRef("nope"), "spec.members[1].target.ref: AppBinding " + ns + "/nope not found: no appcatalog.appscode.com/v1alpha1 AppBinding of that name", true},
			{"missing object, no apiVersion", v1alpha1.TargetRef{Kind: "AppBinding", Name: "nope"}, "spec.members[1].target.ref: AppBinding " + ns + "/nope not found", true},
			{"refused field", appcatalogRef("transformed"), "spec.members[1].target.ref: spec.secretTransforms of appcatalog.appscode.com/v1alpha1 AppBinding " + ns + "/transformed: stashflow applies no transform", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := r.Member(ctx, resolve.Backup, ns, resolve.Member{Field: "spec.members[1]", Target: &tt.ref})
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Fatalf("error %v, want one starting %q", err, tt.want)
				}
				if resolve.IsNotFound(err) != tt.notFound || resolve.IsInvalid(err) == tt.notFound {
					t.Errorf("NotFound %v, Invalid %v; want NotFound %v", resolve.IsNotFound(err), resolve.IsInvalid(err), tt.notFound)
				}
			})
		}
	})

}

func findStep(g *pipeline.Graph, template string) *pipeline.Step {
	for i := range g.Steps {
		if g.Steps[i].Template == template || g.Steps[i].Name == template {
			return &g.Steps[i]
		}
	}
	return nil
}

func stepNames(g *pipeline.Graph) []string {
	var out []string
	for _, s := range g.Steps {
		out = append(out, s.Name+"("+s.Template+")")
	}
	return out
}

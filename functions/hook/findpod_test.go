package hook

import (
	"context"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/appcatalog"
	"github.com/stashflow/stashflow/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
}

// TestFindPod finds the pod an exec hook runs in, on the real apiserver.
// (pods/exec itself needs a kubelet, which these machines do not run.)
func TestFindPod(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "hooks-" + utilrand.String(5) // namespaces are never removed in envtest: one per run
	mustCreate(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	app := map[string]string{"app": "etcd"}
	pod := func(name string, lbl map[string]string, phase corev1.PodPhase, ready bool, claim string) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
		}
		if claim != "" {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			}}}
		}
		mustCreate(t, c, p)
		p.Status.Phase = phase
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		if err := c.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	pod("etcd-a", app, corev1.PodRunning, false, "")
	pod("etcd-b", app, corev1.PodRunning, true, "")
	pod("etcd-c", app, corev1.PodPending, true, "")
	pod("writer", map[string]string{"app": "writer"}, corev1.PodRunning, true, "uploads")
	mustCreate(t, c, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 2379}}},
	})
	url := "http://etcd." + ns + ".svc:2379"
	mustCreate(t, c, &v1alpha1.AppBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: ns},
		Spec:       v1alpha1.AppBindingSpec{Type: "etcd", ClientConfig: v1alpha1.ClientConfig{URL: &url}},
	})
	mustCreate(t, c, &v1alpha1.AppBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: ns},
		Spec:       v1alpha1.AppBindingSpec{Type: "etcd", ClientConfig: v1alpha1.ClientConfig{URL: ptr.To("http://10.0.0.1:2379")}},
	})
	mustCreate(t, c, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: app},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
			},
		},
	})

	tests := []struct {
		kind, name, want, wantErr string
	}{
		{kind: "AppBinding", name: "etcd", want: "etcd-b"}, // running and ready beats running
		{kind: "Deployment", name: "etcd", want: "etcd-b"},
		{kind: "Pod", name: "etcd-a", want: "etcd-a"},
		{kind: "PersistentVolumeClaim", name: "uploads", want: "writer"},
		{kind: "PersistentVolumeClaim", name: "unused", wantErr: "no running pod of PersistentVolumeClaim " + ns + "/unused"},
		{kind: "AppBinding", name: "external", wantErr: "AppBinding " + ns + "/external names no Service"},
		{kind: "AppBinding", name: "missing", wantErr: "exec hook: AppBinding " + ns + "/missing not found"},
		{kind: "CronJob", name: "x", wantErr: "cannot find a pod for a target of kind CronJob"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			p, err := FindPod(ctx, c, ns, Target{Kind: tt.kind, Name: tt.name})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want {
				t.Errorf("pod = %s, want %s", p.Name, tt.want)
			}
		})
	}
}

// TestFindPodKubeDBAppBinding finds the pod of an exec hook whose target is
// an appcatalog.appscode.com/v1alpha1 AppBinding (what KubeDB creates),
// read in place with the resolver's rule (internal/appcatalog.Get), on the
// real apiserver with the appcatalog CRD installed.
func TestFindPodKubeDBAppBinding(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "kubedb-" + utilrand.String(5)
	mustCreate(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	kubedb := func(name string) Target {
		return Target{APIVersion: appcatalog.GroupVersion.String(), Kind: "AppBinding", Name: name}
	}

	// Before its CRD is installed, the AppBinding cannot be there.
	_, err := FindPod(ctx, c, ns, kubedb("pg"))
	want := "exec hook: AppBinding " + ns + "/pg not found: the CRD appbindings.appcatalog.appscode.com is not installed"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("without the CRD: error %v, want one starting %q", err, want)
	}

	env.InstallAppCatalogCRD(t, c, ns)
	for _, name := range []string{"pg-0", "pg-1"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/instance": "pg"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "postgres", Image: "postgres"}}},
		}
		mustCreate(t, c, p)
		p.Status.Phase = corev1.PodRunning
		ready := corev1.ConditionFalse
		if name == "pg-1" {
			ready = corev1.ConditionTrue // running and ready beats running
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		if err := c.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, c, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app.kubernetes.io/instance": "pg"}, Ports: []corev1.ServicePort{{Port: 5432}}},
	})
	mustCreate(t, c, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: ns}, Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 5432}}}})
	for name, spec := range map[string]string{
		// What KubeDB writes for a Postgres.
		"pg": "{appRef: {apiGroup: kubedb.com, kind: Postgres, name: pg, namespace: " + ns + "}, type: kubedb.com/postgres, " +
			"clientConfig: {service: {name: pg, namespace: " + ns + ", port: 5432, scheme: postgresql}}, secret: {name: pg-auth}}",
		"external":    "{clientConfig: {url: 'postgresql://10.0.0.1:5432'}}",
		"headless":    "{clientConfig: {service: {name: headless, port: 5432}}}",
		"transformed": "{clientConfig: {service: {name: pg, port: 5432}}, secretTransforms: [{renameKey: {from: USER, to: username}}]}",
	} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte("spec: "+spec), &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetGroupVersionKind(appcatalog.GVK)
		u.SetNamespace(ns)
		u.SetName(name)
		mustCreate(t, c, u)
	}
	// A stashflow AppBinding of the same name as a KubeDB one wins unless
	// the apiVersion names KubeDB's.
	mustCreate(t, c, &v1alpha1.AppBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: ns},
		Spec:       v1alpha1.AppBindingSpec{Type: "postgres", ClientConfig: v1alpha1.ClientConfig{Service: &v1alpha1.ServiceReference{Name: "pg", Port: 5432}}},
	})

	tests := []struct {
		name    string
		target  Target
		want    string
		wantErr string
	}{
		{name: "KubeDB's, through its Service", target: kubedb("pg"), want: "pg-1"},
		{name: "no apiVersion: KubeDB's when stashflow has none", target: Target{Kind: "AppBinding", Name: "pg"}, want: "pg-1"},
		{name: "stashflow's apiVersion: KubeDB's when stashflow has none", target: Target{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AppBinding", Name: "pg"}, want: "pg-1"},
		{name: "stashflow's wins without an apiVersion", target: Target{Kind: "AppBinding", Name: "headless"}, want: "pg-1"},
		{name: "KubeDB's when the apiVersion names it", target: kubedb("headless"), wantErr: "exec hook: Service " + ns + "/headless of AppBinding headless has no selector"},
		{name: "missing", target: kubedb("nope"), wantErr: "exec hook: AppBinding " + ns + "/nope not found: no appcatalog.appscode.com/v1alpha1 AppBinding of that name"},
		{name: "missing, no apiVersion", target: Target{Kind: "AppBinding", Name: "nope"}, wantErr: "exec hook: AppBinding " + ns + "/nope not found"},
		{name: "no Service", target: kubedb("external"), wantErr: "exec hook: AppBinding " + ns + "/external names no Service (clientConfig.service or a *.svc URL), so its pod cannot be found"},
		{name: "refused field", target: kubedb("transformed"), wantErr: "exec hook: spec.secretTransforms of appcatalog.appscode.com/v1alpha1 AppBinding " + ns + "/transformed: stashflow applies no transform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := FindPod(ctx, c, ns, tt.target)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != tt.want {
				t.Errorf("pod = %s, want %s", p.Name, tt.want)
			}
		})
	}
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

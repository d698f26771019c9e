package hook

import (
	"context"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
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
		{kind: "AppBinding", name: "external", wantErr: "names no Service"},
		{kind: "AppBinding", name: "missing", wantErr: "AppBinding " + ns + `/missing: appbindings.stashflow.dev "missing" not found`},
		{kind: "CronJob", name: "x", wantErr: "cannot find a pod for a target of kind CronJob"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			p, err := FindPod(ctx, c, ns, tt.kind, tt.name)
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

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

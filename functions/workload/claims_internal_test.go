package workload

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func raceSet() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "app"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To[int32](0),
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		},
	}
}

// TestCreateClaimsRace: a claim another writer creates between quiesce's
// read and its create (AlreadyExists) counts as existing, not as an error;
// any other failure names the claim and the StatefulSet.
func TestCreateClaimsRace(t *testing.T) {
	scheme := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(scheme))
	// data-db-1 appears after the Get: the Get says NotFound, the Create
	// AlreadyExists. data-db-2 cannot be created.
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if key.Name == "data-db-1" {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumeclaims"}, key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			switch obj.GetName() {
			case "data-db-1":
				return apierrors.NewAlreadyExists(schema.GroupResource{Resource: "persistentvolumeclaims"}, obj.GetName())
			case "data-db-2":
				return apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumeclaims"}, obj.GetName(), nil)
			}
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	q := &Quiesce{target{namespace: "app", kind: kindStatefulSet, name: "db", session: "r", timeout: 10e9}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	n, err := q.createClaims(context.Background(), c, raceSet(), 2, log)
	if err != nil || n != 1 {
		t.Fatalf("createClaims = %d, %v; want 1 (data-db-0; data-db-1 already exists), no error", n, err)
	}
	n, err = q.createClaims(context.Background(), c, raceSet(), 3, log)
	want := []string{"StatefulSet/app/db: create PersistentVolumeClaim app/data-db-2 (volumeClaimTemplate data, ordinal 2)", "forbidden"}
	if err == nil || n != 0 {
		t.Fatalf("createClaims = %d, %v; want 0 and an error", n, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\nwant it to contain %q", err, w)
		}
	}
}

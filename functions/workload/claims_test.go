package workload_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/functions/workload"
	"github.com/stashflow/stashflow/outputs"
)

// newClaimTemplate returns a volumeClaimTemplate with its own label and
// annotation and the given storage class and size.
func newClaimTemplate(name, class, size string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{"volume": name},
			Annotations: map[string]string{"example.com/tier": name + "-tier"},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(class),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

// claimsOf returns the claims in ns whose names start with prefix, by name.
func claimsOf(t *testing.T, prefix string) map[string]corev1.PersistentVolumeClaim {
	t.Helper()
	var list corev1.PersistentVolumeClaimList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	got := map[string]corev1.PersistentVolumeClaim{}
	for _, c := range list.Items {
		if strings.HasPrefix(c.Name, prefix) {
			got[c.Name] = c
		}
	}
	return got
}

// TestQuiesceCreatesClaims: a restore into a StatefulSet no pod of which
// ever ran. After quiesce each host's claim of each volumeClaimTemplate
// exists, those that were missing made as the StatefulSet controller makes
// them (the template's labels plus the selector's, the template's spec, no
// owner) with the restore's annotation; a claim that was there is left
// exactly as it was. A second quiesce creates nothing.
func TestQuiesceCreatesClaims(t *testing.T) {
	const name = "db"
	set := newWorkload("StatefulSet", name, 3, nil).(*appsv1.StatefulSet)
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{
		newClaimTemplate("data", "fast", "2Gi"),
		newClaimTemplate("logs", "slow", "512Mi"),
	}
	mustCreate(t, set)
	// data-db-1 is there already, unlike the template: another class and
	// size, labels of its own, no selector labels.
	pre := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data-db-1", Namespace: ns, Labels: map[string]string{"restored": "earlier"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: ptr.To("other"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("7Gi")}},
		},
	}
	mustCreate(t, pre)
	before := claimsOf(t, "data-db-1")["data-db-1"]

	args := []string{"--namespace=" + ns, "--kind=StatefulSet", "--name=" + name, "--session=restore-7"}
	out, err := runStep(t, workload.QuiesceName, args...)
	if err != nil {
		t.Fatal(err)
	}
	if out[outputs.Replicas] != "3" || out[outputs.ClaimsCreated] != "5" {
		t.Errorf("outputs %s=%q %s=%q, want 3 and 5", outputs.Replicas, out[outputs.Replicas], outputs.ClaimsCreated, out[outputs.ClaimsCreated])
	}

	// The templates as the apiserver holds them (defaults applied).
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(set), set); err != nil {
		t.Fatal(err)
	}
	got := claimsOf(t, "")
	var want []string
	for _, tpl := range set.Spec.VolumeClaimTemplates {
		for i := range 3 {
			want = append(want, fmt.Sprintf("%s-%s-%d", tpl.Name, name, i))
		}
	}
	slices.Sort(want)
	var names []string
	for n := range got {
		if strings.HasPrefix(n, "data-"+name+"-") || strings.HasPrefix(n, "logs-"+name+"-") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("claims (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, got[pre.Name]); diff != "" {
		t.Errorf("the claim that was there changed (-before +after):\n%s", diff)
	}
	for _, tpl := range set.Spec.VolumeClaimTemplates {
		for i := range 3 {
			n := fmt.Sprintf("%s-%s-%d", tpl.Name, name, i)
			if n == pre.Name {
				continue
			}
			c := got[n]
			wantLabels := maps.Clone(tpl.Labels)
			maps.Copy(wantLabels, set.Spec.Selector.MatchLabels)
			if diff := cmp.Diff(wantLabels, c.Labels); diff != "" {
				t.Errorf("%s: labels (-want +got):\n%s", n, diff)
			}
			wantAnn := maps.Clone(tpl.Annotations)
			wantAnn[workload.AnnotationCreatedByRestore] = "restore-7"
			if diff := cmp.Diff(wantAnn, c.Annotations); diff != "" {
				t.Errorf("%s: annotations (-want +got):\n%s", n, diff)
			}
			if diff := cmp.Diff(tpl.Spec, c.Spec); diff != "" {
				t.Errorf("%s: spec (-template +got):\n%s", n, diff)
			}
			if len(c.OwnerReferences) != 0 {
				t.Errorf("%s: owner references %v, want none", n, c.OwnerReferences)
			}
		}
	}

	// Again (a retried step): everything exists, nothing is created or changed.
	out, err = runStep(t, workload.QuiesceName, args...)
	if err != nil {
		t.Fatal(err)
	}
	if out[outputs.Replicas] != "3" || out[outputs.ClaimsCreated] != "0" {
		t.Errorf("second quiesce: outputs %s=%q %s=%q, want 3 and 0", outputs.Replicas, out[outputs.Replicas], outputs.ClaimsCreated, out[outputs.ClaimsCreated])
	}
	if diff := cmp.Diff(got, claimsOf(t, "")); diff != "" {
		t.Errorf("second quiesce changed claims (-before +after):\n%s", diff)
	}
}

// TestQuiesceCreatesNoClaimWhilePodsRun: a quiesce that times out waiting
// for the pods creates no claim.
func TestQuiesceCreatesNoClaimWhilePodsRun(t *testing.T) {
	const name = "cache"
	set := newWorkload("StatefulSet", name, 2, nil).(*appsv1.StatefulSet)
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{newClaimTemplate("data", "fast", "1Gi")}
	mustCreate(t, set)
	mustCreate(t, newPod(name, "cache-0"))
	out, err := runStep(t, workload.QuiesceName, "--namespace="+ns, "--kind=StatefulSet", "--name="+name, "--timeout=1s")
	if err == nil || !strings.Contains(err.Error(), "1 pod(s) still exist after 1s: cache-0") {
		t.Fatalf("error = %v, want the pod that is left named", err)
	}
	if out[outputs.ClaimsCreated] != "0" {
		t.Errorf("output %s = %q, want 0", outputs.ClaimsCreated, out[outputs.ClaimsCreated])
	}
	if got := claimsOf(t, "data-cache-"); len(got) != 0 {
		t.Errorf("claims created while a pod runs: %v", slices.Collect(maps.Keys(got)))
	}
}

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestRuntimeSettingsReachThePod: a volume backup whose BackupConfiguration
// sets Stash's runtimeSettings runs on the real workflow-controller, and its
// step pod, as the apiserver holds it, carries them: tolerations, affinity,
// imagePullSecrets, annotations, a field Argo has no name for (through the
// Workflow's podSpecPatch), the container's env and resources.
func TestRuntimeSettingsReachThePod(t *testing.T) {
	t.Cleanup(func() {
		sel := metav1.ListOptions{LabelSelector: v1alpha1.LabelSession}
		_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{}, sel)
		deleteSnapshotObjects(nil)
	})
	startOperator(t)
	fp := newFullPath(t)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "rs-data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	create(t, claim)
	t.Cleanup(func() { // see testBackupBatch: no controller lifts pvc-protection
		got := &corev1.PersistentVolumeClaim{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(claim), got); err == nil {
			got.Finalizers = nil
			_ = env.Client.Update(context.Background(), got)
		}
	})
	data := filepath.Join(env.WorkDir, "pods", "claims", claim.Name)
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "index.html"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	tolerations := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "backup", Effect: corev1.TaintEffectNoSchedule}}
	affinity := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
			Weight:     10,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disktype", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}},
		}},
	}}
	pullSecrets := []corev1.LocalObjectReference{{Name: "registry-creds"}}
	limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
	env1 := corev1.EnvVar{Name: "GOGC", Value: "150"}
	env2 := corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}
	create(t, &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "rs-www"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: "volume-backup"},
				Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: claim.Name}},
				RuntimeSettings: &v1alpha1.RuntimeSettings{
					Pod: &v1alpha1.PodRuntimeSettings{
						Tolerations: tolerations, Affinity: affinity, ImagePullSecrets: pullSecrets,
						PodAnnotations:     map[string]string{"team.example.com/owner": "storage"},
						EnableServiceLinks: ptr.To(false),
					},
					Container: &v1alpha1.ContainerRuntimeSettings{
						Resources: &corev1.ResourceRequirements{Limits: limits},
						Env:       []corev1.EnvVar{env1, env2},
					},
				},
			},
			Repository: v1alpha1.ObjectRef{Name: fp.repo},
			Schedule:   "0 0 1 1 *",
			Paused:     true,
		},
	})

	// Pods are collected once they end (podGC): watch them from the start.
	const session = "rs-www-1"
	w, err := env.Kube.CoreV1().Pods(env.Namespace).Watch(context.Background(), metav1.ListOptions{LabelSelector: v1alpha1.LabelSession + "=" + session})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	pods := map[string]*corev1.Pod{}
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				mu.Lock()
				pods[p.Name] = p
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)

	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: session},
		Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
			APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: "rs-www",
		}},
	}
	create(t, bs)
	waitFor(t, bs, func() bool {
		return bs.Status.Phase == v1alpha1.BackupSessionSucceeded || bs.Status.Phase == v1alpha1.BackupSessionFailed
	})
	if bs.Status.Workflow != nil {
		env.DumpOnFailure(t, bs.Status.Workflow.Name)
	}
	if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("session ended %s: %s\n%s", bs.Status.Phase, bs.Status.Message, mustJSON(t, bs.Status))
	}

	mu.Lock()
	defer mu.Unlock()
	if len(pods) == 0 {
		t.Fatal("no step pod seen")
	}
	for _, p := range pods {
		// The apiserver's DefaultTolerationSeconds admission adds its own.
		if !slices.ContainsFunc(p.Spec.Tolerations, func(x corev1.Toleration) bool { return cmp.Equal(x, tolerations[0]) }) {
			t.Errorf("pod %s tolerations have no %+v:\n%s", p.Name, tolerations[0], mustJSON(t, p.Spec.Tolerations))
		}
		if diff := cmp.Diff(affinity, p.Spec.Affinity); diff != "" {
			t.Errorf("pod %s affinity (-want +got):\n%s", p.Name, diff)
		}
		if diff := cmp.Diff(pullSecrets, p.Spec.ImagePullSecrets); diff != "" {
			t.Errorf("pod %s imagePullSecrets (-want +got):\n%s", p.Name, diff)
		}
		if p.Annotations["team.example.com/owner"] != "storage" {
			t.Errorf("pod %s annotations %v, want team.example.com/owner=storage", p.Name, p.Annotations)
		}
		if p.Spec.EnableServiceLinks == nil || *p.Spec.EnableServiceLinks {
			t.Errorf("pod %s enableServiceLinks = %v, want false (the Workflow's podSpecPatch)", p.Name, p.Spec.EnableServiceLinks)
		}
		var main *corev1.Container
		for i := range p.Spec.Containers {
			if p.Spec.Containers[i].Name == "main" {
				main = &p.Spec.Containers[i]
			}
		}
		if main == nil {
			t.Fatalf("pod %s has no main container", p.Name)
		}
		if !main.Resources.Limits.Memory().Equal(limits[corev1.ResourceMemory]) {
			t.Errorf("pod %s main limits %v, want memory 512Mi", p.Name, main.Resources.Limits)
		}
		defaulted := env2.DeepCopy() // the apiserver defaults fieldRef.apiVersion
		defaulted.ValueFrom.FieldRef.APIVersion = "v1"
		for _, want := range []corev1.EnvVar{env1, *defaulted} {
			found := false
			for _, e := range main.Env {
				found = found || cmp.Equal(e, want)
			}
			if !found {
				t.Errorf("pod %s main env has no %+v:\n%s", p.Name, want, mustJSON(t, main.Env))
			}
		}
	}
	t.Logf("%d step pods carry the runtime settings", len(pods))
}

package backupblueprint_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/backupblueprint"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

func TestBlueprint(t *testing.T) {
	ns := ot.Namespace(t, c, nil)
	ctx := context.Background()
	bp := &v1alpha1.BackupBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-db"},
		Spec: v1alpha1.BackupBlueprintSpec{
			RepositorySpec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "backup-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: "/backups/${TARGET_NAMESPACE}/${TARGET_APP_TYPE}/${TARGET_NAME}"},
					MountPath: "/repo",
				},
			}},
			Schedule:           "@every 1h",
			Task:               &v1alpha1.TaskRef{Name: "etcd-backup"},
			BackupHistoryLimit: ptr.To[int32](3),
			TempDir:            &v1alpha1.EmptyDirSettings{Medium: "Memory", DisableCaching: true},
			InterimVolumeTemplate: &v1alpha1.PersistentVolumeClaimTemplate{
				Metadata: &v1alpha1.TemplateMetadata{Name: "dump", Labels: map[string]string{"app": "db"}},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
				},
			},
		},
	}
	ab := ot.AppBinding(ns, "db")
	ab.Annotations = map[string]string{v1alpha1.AnnotationBackupBlueprint: bp.Name, v1alpha1.AnnotationSchedule: "0 3 * * *"}
	ot.Create(t, c, bp, ab)
	ot.Start(t, env, ns, controllers.Config{})

	repo := &v1alpha1.Repository{}
	bc := &v1alpha1.BackupConfiguration{}
	ot.Eventually(t, 10*time.Second, func() string {
		if msg := ot.Get(c, ns, "app-db", repo); msg != "" {
			return msg
		}
		return ot.Get(c, ns, "app-db", bc)
	})
	if got := repo.Spec.Backend.Local.HostPath.Path; got != "/backups/"+ns+"/fake/db" {
		t.Errorf("repository hostPath = %q, want the variables filled in", got)
	}
	if bc.Spec.Schedule != "0 3 * * *" || bc.Spec.Repository.Name != "app-db" || bc.Spec.Target.Ref.Name != "db" ||
		bc.Spec.Task.Name != "etcd-backup" || ptr.Deref(bc.Spec.BackupHistoryLimit, 0) != 3 {
		t.Errorf("backupconfiguration spec = %+v, want the blueprint's with the annotation's schedule", bc.Spec)
	}
	if diff := cmp.Diff(bp.Spec.TempDir, bc.Spec.TempDir); diff != "" {
		t.Errorf("backupconfiguration tempDir (-blueprint +got):\n%s", diff)
	}
	if diff := cmp.Diff(bp.Spec.InterimVolumeTemplate, bc.Spec.InterimVolumeTemplate, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("backupconfiguration interimVolumeTemplate (-blueprint +got):\n%s", diff)
	}
	for _, o := range []client.Object{repo, bc} {
		if ref := metav1.GetControllerOf(o); ref == nil || ref.Kind != "AppBinding" || ref.Name != "db" {
			t.Errorf("%s: controller = %+v, want the AppBinding", o.GetName(), ref)
		}
	}

	// A made object deleted by hand is made again.
	if err := c.Delete(ctx, repo); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 10*time.Second, func() string {
		again := &v1alpha1.Repository{}
		if msg := ot.Get(c, ns, "app-db", again); msg != "" {
			return msg
		}
		if again.UID == repo.UID {
			return "the deleted Repository is still there"
		}
		return ""
	})

	// Removing the annotation removes what the blueprint made.
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha1.AnnotationBackupBlueprint))
	if err := c.Patch(ctx, ab, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 10*time.Second, func() string {
		if ot.Get(c, ns, "app-db", &v1alpha1.Repository{}) == "" || ot.Get(c, ns, "app-db", &v1alpha1.BackupConfiguration{}) == "" {
			return "the Repository or the BackupConfiguration is still there"
		}
		return ""
	})
}

// TestBlueprintWorkloads applies a blueprint to workloads (and a PVC with
// Stash's key) annotated with our keys, Stash's or both, and refuses the
// ones whose annotations are missing or malformed with an event.
func TestBlueprintWorkloads(t *testing.T) {
	ns := ot.Namespace(t, c, nil)
	ctx := context.Background()
	bp := &v1alpha1.BackupBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-files"},
		Spec: v1alpha1.BackupBlueprintSpec{
			RepositorySpec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "backup-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: "/backups/${TARGET_NAMESPACE}/${TARGET_APP_TYPE}/${TARGET_KIND}/${TARGET_RESOURCE}/${TARGET_API_VERSION}/${TARGET_NAME}"},
					MountPath: "/repo",
				},
			}},
			Schedule: "@every 1h",
		},
	}
	ours := func(kv ...string) map[string]string {
		m := map[string]string{v1alpha1.AnnotationBackupBlueprint: bp.Name}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	stash := func(kv ...string) map[string]string {
		m := ours(kv...)
		delete(m, v1alpha1.AnnotationBackupBlueprint)
		m[v1alpha1.StashAnnotationBackupBlueprint] = bp.Name
		return m
	}
	ref := func(kind, name string) v1alpha1.TargetRef {
		return v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: kind, Name: name}
	}
	ownedRS := replicaSet(ns, "web-5d8f", stash(v1alpha1.StashAnnotationTargetPaths, "/data"))
	ownedRS.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "0c4a3c0e-0000-4000-8000-000000000001", Controller: ptr.To(true),
	}}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "claim", Annotations: map[string]string{v1alpha1.StashAnnotationBackupBlueprint: bp.Name}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}

	cases := []struct {
		name string
		obj  client.Object
		// want is the BackupConfiguration's target; nil means none is made.
		want *v1alpha1.BackupTarget
		// wantSchedule is the BackupConfiguration's schedule.
		wantSchedule string
		// event is part of the AnnotationInvalid event on the workload.
		event string
		// stale: a BackupConfiguration labelled as made for the object
		// exists beforehand; its removal shows the object was reconciled.
		stale bool
	}{
		{
			name: "deployment with our keys",
			obj: deployment(ns, "web", ours(
				v1alpha1.AnnotationTargetPaths, "/data, /etc/web",
				v1alpha1.AnnotationVolumeMounts, "data:/data,config:/etc/web:web",
				v1alpha1.AnnotationSchedule, "0 3 * * *")),
			want: &v1alpha1.BackupTarget{
				Ref:   ref("Deployment", "web"),
				Paths: []string{"/data", "/etc/web"},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "data", MountPath: "/data"},
					{Name: "config", MountPath: "/etc/web", SubPath: "web"},
				},
			},
			wantSchedule: "0 3 * * *",
		},
		{
			name:         "statefulset with our keys and no volume mounts",
			obj:          statefulSet(ns, "db", ours(v1alpha1.AnnotationTargetPaths, "/var/lib/db")),
			want:         &v1alpha1.BackupTarget{Ref: ref("StatefulSet", "db"), Paths: []string{"/var/lib/db"}},
			wantSchedule: "@every 1h",
		},
		{
			name: "daemonset with Stash's keys",
			obj: daemonSet(ns, "agent", stash(
				v1alpha1.StashAnnotationTargetPaths, "/var/log/agent",
				v1alpha1.StashAnnotationVolumeMounts, "logs:/var/log/agent",
				v1alpha1.StashAnnotationSchedule, "*/30 * * * *")),
			want: &v1alpha1.BackupTarget{
				Ref: ref("DaemonSet", "agent"), Paths: []string{"/var/log/agent"},
				VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/var/log/agent"}},
			},
			wantSchedule: "*/30 * * * *",
		},
		{
			name:  "replicaset of a deployment is not a target",
			obj:   ownedRS,
			stale: true,
		},
		{
			name: "replicaset with both keys: ours win",
			obj: replicaSet(ns, "cache", map[string]string{
				v1alpha1.AnnotationBackupBlueprint:      bp.Name,
				v1alpha1.StashAnnotationBackupBlueprint: "someone-elses",
				v1alpha1.AnnotationTargetPaths:          "/cache",
				v1alpha1.StashAnnotationTargetPaths:     "/stash",
				v1alpha1.StashAnnotationVolumeMounts:    "cache:/cache",
			}),
			want: &v1alpha1.BackupTarget{
				Ref: ref("ReplicaSet", "cache"), Paths: []string{"/cache"},
				VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}},
			},
			wantSchedule: "@every 1h",
		},
		{
			name: "pvc with Stash's blueprint key",
			obj:  pvc,
			want: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: "claim"}},
			// A PVC takes no paths: they are the volume's.
			wantSchedule: "@every 1h",
		},
		{
			name:  "deployment without target-paths",
			obj:   deployment(ns, "nopaths", ours(v1alpha1.AnnotationVolumeMounts, "data:/data")),
			event: "annotation " + v1alpha1.AnnotationTargetPaths + " (or " + v1alpha1.StashAnnotationTargetPaths + ") is missing",
		},
		{
			name:  "statefulset with a malformed volume-mounts entry",
			obj:   statefulSet(ns, "badmount", ours(v1alpha1.AnnotationTargetPaths, "/data", v1alpha1.AnnotationVolumeMounts, "data:/data,scratch")),
			event: "annotation " + v1alpha1.AnnotationVolumeMounts + `: entry "scratch": want volumeName:mountPath`,
		},
		{
			name:  "daemonset with a relative path under Stash's key",
			obj:   daemonSet(ns, "relpath", stash(v1alpha1.StashAnnotationTargetPaths, "/var/log,logs")),
			event: "annotation " + v1alpha1.StashAnnotationTargetPaths + `: path "logs" is not absolute`,
		},
	}
	ot.Create(t, c, bp)
	for _, tc := range cases {
		ot.Create(t, c, tc.obj)
		if tc.stale {
			ot.Create(t, c, staleBackupConfiguration(tc.obj, kindOf(tc.obj)))
		}
	}
	ot.Start(t, env, ns, controllers.Config{})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind := kindOf(tc.obj)
			made := madeName(kind, tc.obj.GetName())
			if tc.event != "" {
				waitTargetEvent(t, ns, kind, tc.obj.GetName(), backupblueprint.ReasonAnnotationInvalid, tc.event)
			}
			bc := &v1alpha1.BackupConfiguration{}
			if tc.stale {
				ot.Eventually(t, 10*time.Second, func() string {
					if ot.Get(c, ns, made, &v1alpha1.BackupConfiguration{}) == "" {
						return "the stale BackupConfiguration " + made + " is still there"
					}
					return ""
				})
			}
			if tc.want == nil {
				if msg := ot.Get(c, ns, made, bc); msg == "" {
					t.Fatalf("BackupConfiguration %s was made: %+v", made, bc.Spec.Target)
				}
				return
			}
			ot.Eventually(t, 10*time.Second, func() string { return ot.Get(c, ns, made, bc) })
			if diff := cmp.Diff(tc.want, bc.Spec.Target); diff != "" {
				t.Errorf("spec.target (-want +got):\n%s", diff)
			}
			if bc.Spec.Schedule != tc.wantSchedule {
				t.Errorf("spec.schedule = %q, want %q", bc.Spec.Schedule, tc.wantSchedule)
			}
			repo := &v1alpha1.Repository{}
			if msg := ot.Get(c, ns, made, repo); msg != "" {
				t.Fatal(msg)
			}
			appType := "workload"
			if kind == "PersistentVolumeClaim" {
				appType = "volume"
			}
			// Stash's values: the kind in lower case, the resource, the apiVersion.
			apiVersion := "apps/v1"
			if kind == "PersistentVolumeClaim" {
				apiVersion = "v1"
			}
			wantPath := fmt.Sprintf("/backups/%s/%s/%s/%ss/%s/%s", ns, appType, strings.ToLower(kind), strings.ToLower(kind), apiVersion, tc.obj.GetName())
			if got := repo.Spec.Backend.Local.HostPath.Path; got != wantPath {
				t.Errorf("repository hostPath = %q, want %q", got, wantPath)
			}
			for _, o := range []client.Object{repo, bc} {
				if owner := metav1.GetControllerOf(o); owner == nil || owner.Kind != kind || owner.Name != tc.obj.GetName() || owner.UID != tc.obj.GetUID() {
					t.Errorf("%s: controller = %+v, want the %s", o.GetName(), owner, kind)
				}
			}
		})
	}

	web := cases[0].obj
	t.Run("annotations changed", func(t *testing.T) {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"/srv",%q:null}}}`, v1alpha1.AnnotationTargetPaths, v1alpha1.AnnotationVolumeMounts)
		if err := c.Patch(ctx, web, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
		want := &v1alpha1.BackupTarget{Ref: ref("Deployment", "web"), Paths: []string{"/srv"}}
		ot.Eventually(t, 10*time.Second, func() string {
			bc := &v1alpha1.BackupConfiguration{}
			if msg := ot.Get(c, ns, "deploy-web", bc); msg != "" {
				return msg
			}
			return cmp.Diff(want, bc.Spec.Target)
		})
	})
	t.Run("blueprint annotation removed", func(t *testing.T) {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, v1alpha1.AnnotationBackupBlueprint)
		if err := c.Patch(ctx, web, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatal(err)
		}
		ot.Eventually(t, 10*time.Second, func() string {
			if ot.Get(c, ns, "deploy-web", &v1alpha1.BackupConfiguration{}) == "" || ot.Get(c, ns, "deploy-web", &v1alpha1.Repository{}) == "" {
				return "the BackupConfiguration or the Repository of the Deployment is still there"
			}
			return ""
		})
		// The other targets keep theirs.
		if msg := ot.Get(c, ns, "sts-db", &v1alpha1.BackupConfiguration{}); msg != "" {
			t.Error(msg)
		}
	})
}

// madeName is Stash's name of what a blueprint makes for a target of kind.
func madeName(kind, name string) string {
	short := map[string]string{"Deployment": "deploy", "StatefulSet": "sts", "DaemonSet": "ds", "PersistentVolumeClaim": "pvc", "AppBinding": "app"}[kind]
	if short == "" {
		short = strings.ToLower(kind)
	}
	return short + "-" + name
}

// staleBackupConfiguration is a BackupConfiguration labelled as a
// blueprint's for target, as if made before the target stopped being one.
func staleBackupConfiguration(target client.Object, kind string) *v1alpha1.BackupConfiguration {
	return &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: target.GetNamespace(), Name: madeName(kind, target.GetName()),
			Labels: map[string]string{
				backupblueprint.LabelBlueprintTargetKind:   kind,
				backupblueprint.LabelBlueprintTarget:       target.GetName(),
				"stashflow.dev/blueprint-target-namespace": target.GetNamespace(),
			},
		},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: kind, Name: target.GetName()}},
			},
			Repository: v1alpha1.ObjectRef{Name: "gone"},
			Schedule:   "@daily",
			Paused:     true,
		},
	}
}

// waitTargetEvent waits for an event of reason on the object kind/name whose
// message contains text.
func waitTargetEvent(t *testing.T, ns, kind, name, reason, text string) {
	t.Helper()
	var seen []string
	ot.Eventually(t, 10*time.Second, func() string {
		events := &corev1.EventList{}
		if err := c.List(context.Background(), events, client.InNamespace(ns)); err != nil {
			return err.Error()
		}
		seen = seen[:0]
		for _, e := range events.Items {
			if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name {
				continue
			}
			if e.Reason == reason && strings.Contains(e.Message, text) {
				return ""
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return fmt.Sprintf("no %s event on %s %s with %q; its events: %q", reason, kind, name, text, seen)
	})
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	case *corev1.PersistentVolumeClaim:
		return "PersistentVolumeClaim"
	}
	panic(fmt.Sprintf("kindOf(%T)", o))
}

func podTemplate(app string) (*metav1.LabelSelector, corev1.PodTemplateSpec) {
	labels := map[string]string{"app": app}
	return &metav1.LabelSelector{MatchLabels: labels}, corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}
}

func deployment(ns, name string, annotations map[string]string) *appsv1.Deployment {
	sel, tmpl := podTemplate(name)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       appsv1.DeploymentSpec{Selector: sel, Template: tmpl},
	}
}

func statefulSet(ns, name string, annotations map[string]string) *appsv1.StatefulSet {
	sel, tmpl := podTemplate(name)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       appsv1.StatefulSetSpec{Selector: sel, Template: tmpl, ServiceName: name},
	}
}

func daemonSet(ns, name string, annotations map[string]string) *appsv1.DaemonSet {
	sel, tmpl := podTemplate(name)
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       appsv1.DaemonSetSpec{Selector: sel, Template: tmpl},
	}
}

func replicaSet(ns, name string, annotations map[string]string) *appsv1.ReplicaSet {
	sel, tmpl := podTemplate(name)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec:       appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl},
	}
}

// TestBlueprintRepoNamespace: spec.repoNamespace puts the made Repository
// in another namespace (with the blueprint's labels, not owned by the
// target, which cannot own across namespaces), and the made
// BackupConfiguration names that namespace.
func TestBlueprintRepoNamespace(t *testing.T) {
	ns := ot.Namespace(t, c, nil)
	repoNS := ot.Namespace(t, c, nil)
	bp := &v1alpha1.BackupBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-shared"},
		Spec: v1alpha1.BackupBlueprintSpec{
			RepositorySpec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "backup-secret",
				Local:             &v1alpha1.LocalSpec{HostPath: &corev1.HostPathVolumeSource{Path: "/backups/${TARGET_NAME}"}, MountPath: "/repo"},
			}},
			RepoNamespace: repoNS,
			RepoName:      "${TARGET_NAMESPACE}-${TARGET_NAME}",
			Schedule:      "@every 1h",
			Task:          &v1alpha1.TaskRef{Name: "etcd-backup"},
		},
	}
	ab := ot.AppBinding(ns, "db")
	ab.Annotations = map[string]string{v1alpha1.AnnotationBackupBlueprint: bp.Name}
	ot.Create(t, c, bp, ab)
	ot.Start(t, env, ns, controllers.Config{})

	repo := &v1alpha1.Repository{}
	bc := &v1alpha1.BackupConfiguration{}
	ot.Eventually(t, 10*time.Second, func() string {
		if msg := ot.Get(c, repoNS, ns+"-db", repo); msg != "" {
			return msg
		}
		return ot.Get(c, ns, "app-db", bc)
	})
	if bc.Spec.Repository.Name != ns+"-db" || bc.Spec.Repository.Namespace != repoNS {
		t.Errorf("backupconfiguration spec.repository = %+v, want %s/%s-db", bc.Spec.Repository, repoNS, ns)
	}
	if ref := metav1.GetControllerOf(repo); ref != nil {
		t.Errorf("the Repository in %s has controller %+v, want none (no owner across namespaces)", repoNS, ref)
	}
	if repo.Labels[backupblueprint.LabelBlueprint] != bp.Name || repo.Labels[backupblueprint.LabelBlueprintTarget] != "db" {
		t.Errorf("the Repository's labels = %v, want the blueprint's and the target's", repo.Labels)
	}
	if ot.Get(c, ns, ns+"-db", &v1alpha1.Repository{}) == "" {
		t.Errorf("a Repository %s-db was also made in the target's namespace", ns)
	}
}

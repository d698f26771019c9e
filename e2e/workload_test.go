package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/e2e/podrunner"
)

// labelPlayed marks the workloads playWorkloads keeps pods for.
const labelPlayed = "e2e.stashflow.dev/played"

// playWorkloads stands in for the Deployment and StatefulSet controllers and
// the scheduler, which envtest does not run, for the test's workloads (those
// labelled labelPlayed): it keeps pods <name>-<i> for i < spec.replicas,
// Running on node-<i>, and deletes the others. The pod runner leaves these
// pods alone (podrunner.AnnotationIgnore): the application is not what is
// tested, its volumes are.
func playWorkloads(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := reconcileWorkloads(ctx); err != nil && ctx.Err() == nil {
				t.Logf("playing workloads: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func reconcileWorkloads(ctx context.Context) error {
	sel := client.HasLabels{labelPlayed}
	var deps appsv1.DeploymentList
	var sets appsv1.StatefulSetList
	if err := env.Client.List(ctx, &deps, client.InNamespace(env.Namespace), sel); err != nil {
		return err
	}
	if err := env.Client.List(ctx, &sets, client.InNamespace(env.Namespace), sel); err != nil {
		return err
	}
	for _, d := range deps.Items {
		if err := keepPods(ctx, d.Name, ptr.Deref(d.Spec.Replicas, 1), d.Spec.Selector, d.Spec.Template, nil); err != nil {
			return err
		}
	}
	for _, s := range sets.Items {
		var claims []string
		for _, c := range s.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		if err := keepPods(ctx, s.Name, ptr.Deref(s.Spec.Replicas, 1), s.Spec.Selector, s.Spec.Template, claims); err != nil {
			return err
		}
	}
	return nil
}

func keepPods(ctx context.Context, name string, replicas int32, selector *metav1.LabelSelector, tpl corev1.PodTemplateSpec, claimTemplates []string) error {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return err
	}
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(env.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return err
	}
	have := map[string]*corev1.Pod{}
	for i := range pods.Items {
		have[pods.Items[i].Name] = &pods.Items[i]
	}
	for i := range replicas {
		podName := fmt.Sprintf("%s-%d", name, i)
		p := have[podName]
		delete(have, podName)
		if p == nil {
			p = &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: env.Namespace, Labels: tpl.Labels,
					Annotations: map[string]string{podrunner.AnnotationIgnore: "true"}},
				Spec: *tpl.Spec.DeepCopy(),
			}
			p.Spec.NodeName = fmt.Sprintf("node-%d", i)
			for _, c := range claimTemplates {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: c, VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: fmt.Sprintf("%s-%s-%d", c, name, i)},
				}})
			}
			if err := env.Client.Create(ctx, p); err != nil {
				return err
			}
		}
		if p.Status.Phase != corev1.PodRunning {
			// The test's servers listen on loopback: the pod's IP is there.
			p.Status.Phase, p.Status.PodIP = corev1.PodRunning, "127.0.0.1"
			if err := env.Client.Status().Update(ctx, p); err != nil && !apierrors.IsConflict(err) {
				return err
			}
		}
	}
	for _, p := range have {
		if err := env.Client.Delete(ctx, p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// boundClaim makes a PersistentVolume on a host directory and a claim bound
// to it (the pod runner mounts the PV's directory for the claim).
func boundClaim(t *testing.T, claim, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: env.Namespace + "-" + claim},
		Spec: corev1.PersistentVolumeSpec{
			Capacity: size, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
			ClaimRef:               &corev1.ObjectReference{Namespace: env.Namespace, Name: claim},
		},
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: size}, VolumeName: pv.Name,
		},
	}
	create(t, pv, pvc)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return err
	})
	return out
}

func playedTemplate(app, mountPath string, volumes ...corev1.Volume) corev1.PodTemplateSpec {
	var mounts []corev1.VolumeMount
	for _, v := range volumes {
		mounts = append(mounts, corev1.VolumeMount{Name: v.Name, MountPath: mountPath})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "app:e2e", VolumeMounts: mounts}},
			Volumes:    volumes,
		},
	}
}

// waitPods waits until exactly n pods of app exist.
func waitPods(t *testing.T, app string, n int) {
	t.Helper()
	deadline := time.Now().Add(fullPathTimeout)
	for {
		var pods corev1.PodList
		if err := env.Client.List(context.Background(), &pods, client.InNamespace(env.Namespace), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(labels.Set{"app": app})}); err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == n && len(pods.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods of %s (%d running), want %d", len(pods.Items), app, running, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// backupNodes are the nodes the workflow's volume-backup steps ran on, by
// step (Argo records each pod's node; the pods themselves are collected
// as they complete).
func backupNodes(wf *wfv1.Workflow) map[string]string {
	out := map[string]string{}
	for _, n := range wf.Status.Nodes {
		if n.Type == wfv1.NodeTypePod && strings.HasSuffix(n.DisplayName, "volume-backup") {
			out[n.DisplayName] = n.HostNodeName
		}
	}
	return out
}

// backupTemplates are the workflow's templates that run volume-backup.
func backupTemplates(wf *wfv1.Workflow) []wfv1.Template {
	var out []wfv1.Template
	for _, tpl := range wf.Spec.Templates {
		if tpl.Container != nil && slices.Contains(tpl.Container.Args, "volume-backup") {
			out = append(out, tpl)
		}
	}
	return out
}

func (fp *fullPath) snapshots() []resticSnapshot {
	fp.t.Helper()
	var out []resticSnapshot
	if err := json.Unmarshal(fp.restic("snapshots", "--json"), &out); err != nil {
		fp.t.Fatal(err)
	}
	return out
}

// backupOnce makes a paused BackupConfiguration of ref into the test's
// Repository and runs one BackupSession of it to its end.
func (fp *fullPath) backupOnce(t *testing.T, config string, ref v1alpha1.TargetRef, hooks ...*v1alpha1.BackupHooks) *v1alpha1.BackupSession {
	t.Helper()
	var h *v1alpha1.BackupHooks
	if len(hooks) > 0 {
		h = hooks[0]
	}
	create(t, &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: config},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{Target: &v1alpha1.BackupTarget{Ref: ref}, Hooks: h},
			Repository:                      v1alpha1.ObjectRef{Name: fp.repo},
			Schedule:                        "0 0 1 1 *",
			Paused:                          true,
		},
	})
	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: config + "-1"},
		Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
			APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: config,
		}},
	}
	create(t, bs)
	waitFor(t, bs, func() bool { return bs.Status.Phase.IsFinal() })
	return bs
}

func restoreInto(t *testing.T, name, repo string, ref v1alpha1.TargetRef, rules ...v1alpha1.RestoreRule) *v1alpha1.RestoreSession {
	t.Helper()
	rs := &v1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.RestoreSessionSpec{
			RestoreTargetSpec: v1alpha1.RestoreTargetSpec{Target: &v1alpha1.RestoreTarget{Ref: ref, Rules: rules}},
			Repository:        v1alpha1.ObjectRef{Name: repo},
		},
	}
	create(t, rs)
	waitFor(t, rs, func() bool { return rs.Status.Phase.IsFinal() })
	return rs
}

// TestDeploymentBackupRestore backs up a Deployment's claim on the Argo
// engine (the step pinned to the node of the Deployment's pod, the claim
// mounted read-only where the Deployment mounts it, Stash's host-0), then
// restores it into the same Deployment (quiesced to 0, restored, scaled
// back to its 2 replicas), and shows a restore that fails leaving the
// Deployment at 0 with its count recorded and the way back in the message.
func TestDeploymentBackupRestore(t *testing.T) {
	fp := newFullPath(t)
	startOperator(t)
	playWorkloads(t)
	dir := filepath.Join(t.TempDir(), "pv-www")
	files := map[string]string{"index.html": "<h1>hello</h1>", "img/logo.svg": "<svg/>", "big.bin": strings.Repeat("0123456789", 100_000)}
	writeFiles(t, dir, files)
	boundClaim(t, "www-html", dir)
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "www", Labels: map[string]string{labelPlayed: "true"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "www"}},
			Template: playedTemplate("www", "/usr/share/www", corev1.Volume{Name: "html", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "www-html"},
			}}),
		},
	}
	hooks := newHookServer(t)
	deploy.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "hooks", ContainerPort: int32(hooks.port)}}
	create(t, deploy)
	waitPods(t, "www", 2)
	ref := v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "www"}
	// Hooks with no host go to the Deployment's pod (its IP; here the
	// loopback the test's server listens on); the post hook names its port.
	named := hooks.postHook("/post-backup", v1alpha1.HookExecuteOnSuccess)
	named.HTTPGet.Host, named.HTTPGet.Port = "", intstr.FromString("hooks")
	pre := hooks.hook("/pre-backup")
	pre.HTTPGet.Host = ""
	bs := fp.backupOnce(t, "www", ref, &v1alpha1.BackupHooks{PreBackup: pre, PostBackup: named})
	if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup: %s\n%s", bs.Status.Phase, mustJSON(t, bs.Status))
	}
	if calls := hooks.take(); !cmp.Equal(calls, []string{"/pre-backup", "/post-backup"}) {
		t.Errorf("hooks called %v, want the pre and post hook at the Deployment's pod", calls)
	}
	if st := bs.Status.Targets[0].Stats; len(st) != 1 || st[0].Hostname != "host-0" || st[0].SnapshotID == "" {
		t.Errorf("backup stats = %+v, want one host-0 with a snapshot", st)
	}
	wf := workflowOf(t, bs.Status.Workflow)
	if nodes := backupNodes(wf); !cmp.Equal(nodes, map[string]string{"host-0-volume-backup": "node-0"}) {
		t.Errorf("volume-backup ran on %v, want once on node-0 (the node of www-0)", nodes)
	}
	for _, tpl := range backupTemplates(wf) {
		if m := tpl.Container.VolumeMounts; !slices.ContainsFunc(m, func(vm corev1.VolumeMount) bool {
			return vm.MountPath == "/usr/share/www" && vm.ReadOnly
		}) {
			t.Errorf("backup template %s mounts %+v, want the claim read-only at /usr/share/www", tpl.Name, m)
		}
	}
	snaps := fp.snapshots()
	if len(snaps) != 1 || snaps[0].Hostname != "host-0" || !slices.Contains(snaps[0].Tags, "volume:html="+dir) {
		t.Fatalf("restic snapshots = %+v, want one of host-0 tagged with its volume", snaps)
	}
	checkSnapshotObject(t, snaps[0].ID)

	// The data is lost; a restore into the same Deployment brings it back.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"index.html": "broken"})
	rs := restoreInto(t, "www-restore", fp.repo, ref)
	if rs.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore: %s\n%s", rs.Status.Phase, mustJSON(t, rs.Status))
	}
	if diff := cmp.Diff(files, readFiles(t, dir)); diff != "" {
		t.Errorf("restored volume (-want +got):\n%s", diff)
	}
	var steps []string
	for _, s := range rs.Status.Targets[0].Steps {
		steps = append(steps, s.Name+"="+string(s.Phase))
	}
	if want := []string{"workload-quiesce=Succeeded", "host-0-volume-restore=Succeeded", "workload-resume=Succeeded"}; !cmp.Equal(want, steps) {
		t.Errorf("restore steps = %v, want %v", steps, want)
	}
	got := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "www"}}
	waitFor(t, got, func() bool { return got.UID != "" })
	if _, ok := got.Annotations[v1alpha1.AnnotationRestoreReplicas]; ok || ptr.Deref(got.Spec.Replicas, 0) != 2 {
		t.Errorf("after the restore: replicas %d, annotations %v; want 2 and no record left", ptr.Deref(got.Spec.Replicas, 0), got.Annotations)
	}
	waitPods(t, "www", 2)

	// A restore from a Repository that cannot be opened (a wrong
	// password) fails before any step: the Deployment is not touched.
	create(t,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong-secret"}, Data: map[string][]byte{"RESTIC_PASSWORD": []byte("not-the-password")}},
		&v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "wrong-repo"}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
			StorageSecretName: "wrong-secret",
			Local:             &v1alpha1.LocalSpec{HostPath: &corev1.HostPathVolumeSource{Path: fp.repoDir}, MountPath: "/stashflow/repository"},
		}}})
	before := readFiles(t, dir)
	early := restoreInto(t, "www-wrong-password", "wrong-repo", ref)
	if early.Status.Phase != v1alpha1.RestoreFailed || !strings.Contains(early.Status.Message, "wrong password") || early.Status.Workflow != nil {
		t.Fatalf("restore with a wrong password: %s %q (workflow %v), want Failed naming the wrong password, never submitted", early.Status.Phase, early.Status.Message, early.Status.Workflow)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(got), got); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(got.Spec.Replicas, -1) != 2 {
		t.Errorf("after the refused restore: replicas %d, want 2 (untouched)", ptr.Deref(got.Spec.Replicas, -1))
	}

	// A restore whose step fails (a snapshot that is not there) leaves
	// the Deployment at 0, its count recorded, and says how to bring it back.
	bad := restoreInto(t, "www-bad", fp.repo, ref, v1alpha1.RestoreRule{Snapshots: []string{"00000000deadbeef"}})
	if bad.Status.Phase != v1alpha1.RestoreFailed {
		t.Fatalf("restore of a missing snapshot: %s, want Failed", bad.Status.Phase)
	}
	msg := bad.Status.Targets[0].Conditions
	text := mustJSON(t, bad.Status)
	for _, want := range []string{"Deployment/www is left scaled to 0", "its 2 replica(s) recorded in annotation " + v1alpha1.AnnotationRestoreReplicas, "scale deployment/www --replicas=2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the failed restore's status does not say %q: %v", want, msg)
		}
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(got), got); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(got.Spec.Replicas, -1) != 0 || got.Annotations[v1alpha1.AnnotationRestoreReplicas] != "2" {
		t.Errorf("after the failed restore: replicas %d, annotations %v; want 0 and the count 2 recorded", ptr.Deref(got.Spec.Replicas, -1), got.Annotations)
	}
	if diff := cmp.Diff(before, readFiles(t, dir)); diff != "" {
		t.Errorf("the failed restore changed the volume (-before +after):\n%s", diff)
	}
	waitPods(t, "www", 0)
}

// TestStatefulSetIntoNewStatefulSet backs up a StatefulSet of 3 replicas
// (one host per replica, each step on its pod's node with its own claim)
// and restores it into a new StatefulSet whose claims do not exist yet:
// quiesce creates them from its volumeClaimTemplates, and each host's data
// lands in its own claim.
func TestStatefulSetIntoNewStatefulSet(t *testing.T) {
	fp := newFullPath(t)
	startOperator(t)
	playWorkloads(t)
	root := t.TempDir()
	want := make([]map[string]string, 3)
	for i := range 3 {
		want[i] = map[string]string{"rows": fmt.Sprintf("replica %d", i), fmt.Sprintf("only-%d/file", i): strings.Repeat(fmt.Sprint(i), 1000)}
		dir := filepath.Join(root, fmt.Sprintf("pv-db-%d", i))
		writeFiles(t, dir, want[i])
		boundClaim(t, fmt.Sprintf("data-db-%d", i), dir)
	}
	sts := func(name string) *appsv1.StatefulSet {
		size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{labelPlayed: "true"}},
			Spec: appsv1.StatefulSetSpec{
				Replicas:    ptr.To[int32](3),
				ServiceName: name,
				Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: func() corev1.PodTemplateSpec {
					tpl := playedTemplate(name, "")
					tpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/db"}}
					return tpl
				}(),
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: size},
					},
				}},
			},
		}
	}
	create(t, sts("db"))
	waitPods(t, "db", 3)
	bs := fp.backupOnce(t, "db", v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"})
	if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup: %s\n%s", bs.Status.Phase, mustJSON(t, bs.Status))
	}
	var hosts []string
	for _, s := range bs.Status.Targets[0].Stats {
		hosts = append(hosts, s.Hostname)
	}
	if diff := cmp.Diff([]string{"host-0", "host-1", "host-2"}, hosts); diff != "" || ptr.Deref(bs.Status.Targets[0].TotalHosts, 0) != 3 {
		t.Errorf("backup hosts (-want +got):\n%s", diff)
	}
	wf := workflowOf(t, bs.Status.Workflow)
	if nodes := backupNodes(wf); !cmp.Equal(nodes, map[string]string{"host-0-volume-backup": "node-0", "host-1-volume-backup": "node-1", "host-2-volume-backup": "node-2"}) {
		t.Errorf("backup steps ran on %v, want each on its replica's node", nodes)
	}
	if n := len(fp.snapshots()); n != 3 {
		t.Errorf("%d restic snapshots, want 3", n)
	}

	// A new StatefulSet of the same shape; its claims do not exist.
	create(t, sts("db2"))
	waitPods(t, "db2", 3)
	rs := restoreInto(t, "db2-restore", fp.repo, v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db2"})
	if rs.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore: %s\n%s", rs.Status.Phase, mustJSON(t, rs.Status))
	}
	for i := range 3 {
		claim := fmt.Sprintf("data-db2-%d", i)
		pvc := &corev1.PersistentVolumeClaim{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: env.Namespace, Name: claim}, pvc); err != nil {
			t.Fatalf("claim %s: %v", claim, err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), pvc) })
		// Unbound (no provisioner here): the pod runner's directory of the claim.
		dir := filepath.Join(env.WorkDir, "pods", "claims", claim)
		if diff := cmp.Diff(want[i], readFiles(t, dir)); diff != "" {
			t.Errorf("claim %s (-want +got):\n%s", claim, diff)
		}
	}
	got := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db2"}}
	waitFor(t, got, func() bool { return ptr.Deref(got.Spec.Replicas, 0) == 3 })
	if _, ok := got.Annotations[v1alpha1.AnnotationRestoreReplicas]; ok {
		t.Errorf("db2 still has the restore annotation: %v", got.Annotations)
	}
}

// TestWorkloadAndDatabaseBatch is Stash's batch backup shape (WordPress):
// a Deployment's volume and its database (an etcd here) in one
// Sequential BackupBatch with global hooks, then a RestoreBatch of both,
// also Sequential with global hooks: the Deployment quiesced, restored and
// resumed, the database restored live into a fresh etcd.
func TestWorkloadAndDatabaseBatch(t *testing.T) {
	fp := newFullPath(t)
	startOperator(t)
	playWorkloads(t)
	hooks := newHookServer(t)
	dir := filepath.Join(t.TempDir(), "pv-wp")
	files := map[string]string{"wp-config.php": "<?php define('DB', 'etcd');", "uploads/2026/cat.jpg": strings.Repeat("\xff\xd8", 5000)}
	writeFiles(t, dir, files)
	boundClaim(t, "wp-content", dir)
	create(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "wp", Labels: map[string]string{labelPlayed: "true"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wp"}},
			Template: playedTemplate("wp", "/var/www/html", corev1.Volume{Name: "content", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "wp-content"},
			}}),
		},
	})
	waitPods(t, "wp", 1)
	src, dst := startEtcd(t), startEtcd(t)
	keys := map[string]string{}
	for i := range 50 {
		k, v := fmt.Sprintf("/wp/options/%02d", i), strings.Repeat(fmt.Sprint(i), 100)
		keys[k] = v
		if _, err := src.Client.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	create(t, appBinding("wp-db", src.URL), appBinding("wp-db-fresh", dst.URL))
	wpRef := v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "wp"}
	create(t, &v1alpha1.BackupBatch{
		ObjectMeta: metav1.ObjectMeta{Name: "wordpress"},
		Spec: v1alpha1.BackupBatchSpec{
			Repository:     v1alpha1.ObjectRef{Name: fp.repo},
			Schedule:       "0 0 1 1 *",
			Paused:         true,
			ExecutionOrder: v1alpha1.Sequential,
			Hooks: &v1alpha1.BackupHooks{
				PreBackup:  hooks.hook("/global-pre-backup"),
				PostBackup: hooks.postHook("/global-post-backup", v1alpha1.HookExecuteAlways),
			},
			Members: []v1alpha1.BackupBatchMember{
				{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{Target: &v1alpha1.BackupTarget{Ref: wpRef}}},
				{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
					Task: &v1alpha1.TaskRef{Name: "etcd-backup"}, Target: &v1alpha1.BackupTarget{Ref: appBindingRef("wp-db")},
				}},
			},
		},
	})
	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: "wordpress-1"},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupBatch", Name: "wordpress"}},
	}
	create(t, bs)
	waitFor(t, bs, func() bool { return bs.Status.Phase.IsFinal() })
	if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("batch backup: %s\n%s", bs.Status.Phase, mustJSON(t, bs.Status))
	}
	if calls := hooks.take(); !cmp.Equal(calls, []string{"/global-pre-backup", "/global-post-backup"}) {
		t.Errorf("backup hooks called %v, want the global pre then post", calls)
	}
	var hosts []string
	for _, tg := range bs.Status.Targets {
		for _, s := range tg.Stats {
			hosts = append(hosts, tg.Ref.Kind+"/"+s.Hostname)
		}
	}
	if want := []string{"Deployment/host-0", "AppBinding/wp-db"}; !cmp.Equal(want, hosts) {
		t.Errorf("backed up hosts %v, want %v", hosts, want)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"wp-config.php": "damaged"})
	rb := &v1alpha1.RestoreBatch{
		ObjectMeta: metav1.ObjectMeta{Name: "wordpress-restore"},
		Spec: v1alpha1.RestoreBatchSpec{
			Repository:     v1alpha1.ObjectRef{Name: fp.repo},
			ExecutionOrder: v1alpha1.Sequential,
			Hooks: &v1alpha1.RestoreHooks{
				PreRestore:  hooks.hook("/global-pre-restore"),
				PostRestore: hooks.postHook("/global-post-restore", v1alpha1.HookExecuteAlways),
			},
			Members: []v1alpha1.RestoreBatchMember{
				{RestoreTargetSpec: v1alpha1.RestoreTargetSpec{Target: &v1alpha1.RestoreTarget{Ref: wpRef}}},
				{RestoreTargetSpec: liveEtcdRestore("", "wp-db-fresh", fp.repo, "wp-db", "latest").Spec.RestoreTargetSpec},
			},
		},
	}
	create(t, rb)
	waitFor(t, rb, func() bool { return rb.Status.Phase.IsFinal() })
	if rb.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("batch restore: %s\n%s", rb.Status.Phase, mustJSON(t, rb.Status))
	}
	if calls := hooks.take(); !cmp.Equal(calls, []string{"/global-pre-restore", "/global-post-restore"}) {
		t.Errorf("restore hooks called %v, want the global pre then post", calls)
	}
	if diff := cmp.Diff(files, readFiles(t, dir)); diff != "" {
		t.Errorf("restored wp-content (-want +got):\n%s", diff)
	}
	resp, err := dst.Client.Get(context.Background(), "/wp/", clientv3WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Errorf("restored etcd (-want +got):\n%s", diff)
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "wp"}}
	waitFor(t, d, func() bool { return ptr.Deref(d.Spec.Replicas, 0) == 1 })
}

// TestClaimIntoAnotherClaim restores a PersistentVolumeClaim's snapshot into
// another claim on the Argo engine: the target gets every file, the source
// (changed since the backup) is not touched.
func TestClaimIntoAnotherClaim(t *testing.T) {
	fp := newFullPath(t)
	startOperator(t)
	root := t.TempDir()
	src, dst := filepath.Join(root, "pv-src"), filepath.Join(root, "pv-dst")
	files := map[string]string{"a.txt": "alpha", "deep/er/b.txt": "bravo", "big": strings.Repeat("x", 300_000)}
	writeFiles(t, src, files)
	boundClaim(t, "claim-src", src)
	boundClaim(t, "claim-dst", dst)
	if bs := fp.backupOnce(t, "claim-src", v1alpha1.TargetRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: "claim-src"}); bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup: %s\n%s", bs.Status.Phase, mustJSON(t, bs.Status))
	}
	writeFiles(t, src, map[string]string{"a.txt": "changed since"})
	wantSrc := readFiles(t, src)
	rs := restoreInto(t, "into-dst", fp.repo, v1alpha1.TargetRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: "claim-dst"},
		v1alpha1.RestoreRule{SourceHost: "claim-src", Snapshots: []string{"latest"}})
	if rs.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore: %s\n%s", rs.Status.Phase, mustJSON(t, rs.Status))
	}
	if diff := cmp.Diff(files, readFiles(t, dst)); diff != "" {
		t.Errorf("target claim (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSrc, readFiles(t, src)); diff != "" {
		t.Errorf("source claim touched (-want +got):\n%s", diff)
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/internal/testenv"
)

// fullPathTimeout bounds one session, from its creation to its end.
const fullPathTimeout = 45 * time.Second

// argoUI is the operator's ArgoUIBaseURL in these tests.
const argoUI = "https://argo.e2e.example/"

// fullPath is what the full-path tests share: the operator running
// in-process on the Argo engine, a restic Repository on a host directory
// and its password.
type fullPath struct {
	t        *testing.T
	repoDir  string
	password string
	repo     string
}

// startOperator runs stashflow's controllers (engine argo, the built-in
// catalog) against the env's apiserver until the end of the test, or until
// the returned stop is called.
func startOperator(t *testing.T) (stop func()) {
	t.Helper()
	return runOperator(t, env.Namespace, "operator", controllers.Config{
		Engine:        v1alpha1.EngineArgo,
		ArgoUIBaseURL: argoUI,
	})
}

// runOperator runs stashflow's controllers with cfg, the built-in catalog
// and the tests' short intervals, their cache scoped to namespace, until
// the end of the test or until the returned stop is called. The log goes
// to <work dir>/<logName>-<test>.log.
func runOperator(t *testing.T, namespace, logName string, cfg controllers.Config) (stop func()) {
	t.Helper()
	logf, err := os.Create(filepath.Join(env.WorkDir, logName+"-"+strings.ReplaceAll(t.Name(), "/", "-")+".log"))
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  controllers.NewScheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		Logger:  zap.New(zap.WriteTo(logf)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Image = "stashflow:e2e"
	cfg.Builtins = resolve.Builtins{Functions: cat.Functions, Tasks: cat.Tasks}
	cfg.PollInterval = 500 * time.Millisecond
	cfg.ReferenceGrace = time.Second
	cfg.SkipNameValidation = true
	if err := controllers.Setup(mgr, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("operator: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		_ = logf.Close()
		if t.Failed() {
			t.Logf("operator log: %s", logf.Name())
		}
	})
	return stop
}

// create creates objects in the env's namespace and deletes them at the
// end of the test.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace(env.Namespace)
		}
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
		obj := o
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	}
}

// newFullPath makes the Repository (a restic repository on a host
// directory) and its Secret with a random password. Each test's Repository
// has its own name: the one a previous test deleted may still be finishing
// its finalizer.
func newFullPath(t *testing.T) *fullPath {
	t.Helper()
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	fp := &fullPath{t: t, repoDir: filepath.Join(t.TempDir(), "repo"), password: "pw-" + hex.EncodeToString(raw), repo: "fullpath-" + hex.EncodeToString(raw[:4])}
	create(t,
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: fp.repo + "-secret"},
			Data:       map[string][]byte{"RESTIC_PASSWORD": []byte(fp.password)},
		},
		&v1alpha1.Repository{
			ObjectMeta: metav1.ObjectMeta{Name: fp.repo},
			Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: fp.repo + "-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: fp.repoDir},
					MountPath: "/stashflow/repository",
				},
			}},
		})
	return fp
}

func appBinding(name, url string) *v1alpha1.AppBinding {
	return &v1alpha1.AppBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.AppBindingSpec{Type: "etcd", ClientConfig: v1alpha1.ClientConfig{URL: &url}},
	}
}

func appBindingRef(name string) v1alpha1.TargetRef {
	return v1alpha1.TargetRef{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AppBinding", Name: name}
}

// restic runs bin/restic on the repository.
func (fp *fullPath) restic(args ...string) []byte {
	fp.t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		fp.t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "bin", "restic"), append([]string{"--no-cache"}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+fp.repoDir, "RESTIC_PASSWORD="+fp.password)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		fp.t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// waitFor polls obj until done says it is finished, or fails the test.
func waitFor(t *testing.T, obj client.Object, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(fullPathTimeout)
	for {
		err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: env.Namespace, Name: obj.GetName()}, obj)
		if err == nil && done() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%T %s did not finish in %s (err %v):\n%s", obj, obj.GetName(), fullPathTimeout, err, mustJSON(t, obj))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// workflowOf returns the session's Workflow, named by its status.
func workflowOf(t *testing.T, ref *v1alpha1.WorkflowRef) *wfv1.Workflow {
	t.Helper()
	if ref == nil || ref.Name == "" {
		t.Fatal("status.workflow is empty")
	}
	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).Get(context.Background(), ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

func checkWorkflowRef(t *testing.T, ref *v1alpha1.WorkflowRef, session, kind string) *wfv1.Workflow {
	t.Helper()
	wf := workflowOf(t, ref)
	if ref.Engine != v1alpha1.EngineArgo || ref.UIURL != argoUI+"workflows/"+env.Namespace+"/"+wf.Name {
		t.Errorf("status.workflow = %+v, want engine argo and the UI link of %s", ref, wf.Name)
	}
	if wf.Labels[v1alpha1.LabelSession] != session || wf.Labels[v1alpha1.LabelSessionKind] != kind {
		t.Errorf("workflow labels = %v, want %s=%s and %s=%s", wf.Labels, v1alpha1.LabelSession, session, v1alpha1.LabelSessionKind, kind)
	}
	list, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).List(context.Background(), metav1.ListOptions{
		LabelSelector: v1alpha1.LabelSession + "=" + session,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != wf.Name {
		t.Errorf("workflows labelled %s=%s: %d, want only %s", v1alpha1.LabelSession, session, len(list.Items), wf.Name)
	}
	return wf
}

// podNodes are the Workflow's nodes that ran a pod, by display name.
func podNodes(wf *wfv1.Workflow) map[string]wfv1.NodeStatus {
	nodes := map[string]wfv1.NodeStatus{}
	for _, n := range wf.Status.Nodes {
		if n.Type == wfv1.NodeTypePod {
			nodes[n.DisplayName] = n
		}
	}
	return nodes
}

// describeLine finds the line of `stashflow describe` for a Workflow node:
// steps print "step <name>", hooks "... hook <name>".
func describeLine(lines []string, node string) string {
	for _, l := range lines {
		if strings.Contains(l, "step "+node+" ") || strings.Contains(l, "hook "+node+" ") {
			return l
		}
	}
	return ""
}

// describeMatches runs `stashflow describe` on a session and checks that
// every pod node of its Workflow appears, as a line, with its phase.
func describeMatches(t *testing.T, ref string, wf *wfv1.Workflow) {
	t.Helper()
	cmd := exec.Command(stashflowBin, "describe", ref, "-n", env.Namespace)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stashflow describe %s: %v\n%s", ref, err, out)
	}
	lines := strings.Split(string(out), "\n")
	nodes := podNodes(wf)
	if len(nodes) == 0 {
		t.Fatalf("workflow %s has no pod nodes", wf.Name)
	}
	if !strings.Contains(string(out), "workflow: argo "+env.Namespace+"/"+wf.Name) {
		t.Errorf("describe does not name workflow %s:\n%s", wf.Name, out)
	}
	for name, n := range nodes {
		if name == "verdict" || name == "repository-init" {
			// Steps the session's status does not list (Layout.Unlisted):
			// the verdict restates its phase, which describe prints.
			continue
		}
		l := describeLine(lines, name)
		if l == "" || !strings.Contains(l, " "+string(n.Phase)) {
			t.Errorf("describe has no line for node %s with phase %s (found %q):\n%s", name, n.Phase, l, out)
		}
	}
	t.Logf("stashflow describe %s (%d workflow nodes matched):\n%s", ref, len(nodes), out)
}

// liveEtcdRestore is a RestoreSession of the catalog's etcd-restore Task in
// live mode: host's snapshot id of repo into the etcd of AppBinding target.
func liveEtcdRestore(name, target, repo, host, id string) *v1alpha1.RestoreSession {
	return &v1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.RestoreSessionSpec{
			RestoreTargetSpec: v1alpha1.RestoreTargetSpec{
				Task: &v1alpha1.TaskRef{Name: "etcd-restore", Params: []v1alpha1.Param{{Name: "MODE", Value: "live"}}},
				Target: &v1alpha1.RestoreTarget{
					Ref:   appBindingRef(target),
					Rules: []v1alpha1.RestoreRule{{SourceHost: host, Snapshots: []string{id}}},
				},
			},
			Repository: v1alpha1.ObjectRef{Name: repo},
		},
	}
}

// checkSnapshotObject waits for the Snapshot object of a restic snapshot.
func checkSnapshotObject(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := &v1alpha1.SnapshotList{}
		if err := env.Client.List(context.Background(), list, client.InNamespace(env.Namespace)); err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			if s.Spec.SnapshotID != "" && (strings.HasPrefix(id, s.Spec.SnapshotID) || strings.HasPrefix(s.Spec.SnapshotID, id)) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Snapshot object for %s among %d:\n%s", id, len(list.Items), mustJSON(t, list.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFullPath runs sessions end to end on the real workflow-controller:
// the operator renders Workflows, the pod runner runs `stashflow fn ...` for
// real against real etcd servers and a real restic repository.
func TestFullPath(t *testing.T) {
	start := time.Now()
	top := t
	// What the operator made outlives its owners (envtest has no garbage
	// collector): remove it so that the test can run again (-count).
	t.Cleanup(func() {
		ctx := context.Background()
		sel := metav1.ListOptions{LabelSelector: v1alpha1.LabelSession}
		_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
		deleteSnapshotObjects(nil)
	})
	startOperator(t)
	fp := newFullPath(t)
	ctx := context.Background()

	src := startEtcd(t)
	want := map[string]string{}
	for i := range 500 {
		k, v := fmt.Sprintf("/fullpath/key-%03d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%37))
		if _, err := src.Client.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	keepLast := int64(3)
	create(t, appBinding("etcd", src.URL), &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-nightly"},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: "etcd-backup"},
				Target: &v1alpha1.BackupTarget{Ref: appBindingRef("etcd")},
			},
			Repository:      v1alpha1.ObjectRef{Name: fp.repo},
			Schedule:        "0 0 1 1 *",
			Paused:          true,
			RetentionPolicy: &v1alpha1.RetentionPolicy{Name: "keep-3", KeepLast: &keepLast},
		},
	})

	var backupWF *wfv1.Workflow
	var snapshotID string
	t.Run("etcd backup", func(t *testing.T) {
		begin := time.Now()
		bs := &v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Name: "etcd-nightly-1"},
			Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
				APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: "etcd-nightly",
			}},
		}
		create(top, bs) // describe reads it later
		waitFor(t, bs, func() bool {
			return bs.Status.Phase == v1alpha1.BackupSessionSucceeded || bs.Status.Phase == v1alpha1.BackupSessionFailed
		})
		if bs.Status.Workflow != nil {
			env.DumpOnFailure(t, bs.Status.Workflow.Name)
		}
		if bs.Status.Phase != v1alpha1.BackupSessionSucceeded {
			t.Fatalf("session ended %s: %s\n%s", bs.Status.Phase, bs.Status.Message, mustJSON(t, bs.Status))
		}
		backupWF = checkWorkflowRef(t, bs.Status.Workflow, bs.Name, "BackupSession")
		if backupWF.Status.Phase != wfv1.WorkflowSucceeded {
			t.Errorf("workflow %s is %s", backupWF.Name, backupWF.Status.Phase)
		}
		if len(bs.Status.Targets) != 1 {
			t.Fatalf("targets = %s, want one", mustJSON(t, bs.Status.Targets))
		}
		tg := bs.Status.Targets[0]
		var steps []string
		for _, s := range tg.Steps {
			steps = append(steps, s.Name+"="+string(s.Phase))
			if s.StartedAt == nil || s.FinishedAt == nil {
				t.Errorf("step %s has no times: %+v", s.Name, s)
			}
		}
		if got := strings.Join(steps, ","); got != "etcd-backup=Succeeded,retention=Succeeded" || tg.Phase != v1alpha1.TargetSucceeded {
			t.Errorf("target %s, steps %s; want Succeeded with etcd-backup and retention Succeeded", tg.Phase, got)
		}
		if len(tg.Stats) != 1 || tg.Stats[0].SnapshotID == "" {
			t.Fatalf("stats = %s, want one snapshot id", mustJSON(t, tg.Stats))
		}
		snapshotID = tg.Stats[0].SnapshotID

		var found bool
		var snaps []struct {
			ID       string   `json:"id"`
			Hostname string   `json:"hostname"`
			Tags     []string `json:"tags"`
		}
		if err := json.Unmarshal(fp.restic("snapshots", "--json"), &snaps); err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			if s.ID == snapshotID || strings.HasPrefix(s.ID, snapshotID) {
				found = true
				if s.Hostname != "etcd" {
					t.Errorf("restic snapshot %s has hostname %q, want etcd", s.ID, s.Hostname)
				}
			}
		}
		if !found {
			t.Errorf("restic snapshots has no %s: %+v", snapshotID, snaps)
		}
		checkSnapshotObject(t, snapshotID)
		// The retention step's stats fill the Repository's status.
		repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: fp.repo}}
		waitFor(t, repo, func() bool {
			return repo.Status.TotalSize != "" && repo.Status.SnapshotCount >= 1
		})
		t.Logf("backup session on Argo in %s: snapshot %s", time.Since(begin).Round(time.Millisecond), snapshotID)
	})
	if t.Failed() {
		return
	}

	t.Run("describe matches the workflow", func(t *testing.T) {
		describeMatches(t, "backupsession/etcd-nightly-1", backupWF)
	})

	t.Run("restore into a fresh etcd", func(t *testing.T) {
		begin := time.Now()
		dst := startEtcd(t)
		create(t, appBinding("etcd-fresh", dst.URL))
		rs := liveEtcdRestore("etcd-restore-1", "etcd-fresh", fp.repo, "etcd", snapshotID)
		create(t, rs)
		waitFor(t, rs, func() bool {
			return rs.Status.Phase == v1alpha1.RestoreSucceeded || rs.Status.Phase == v1alpha1.RestoreFailed
		})
		if rs.Status.Workflow != nil {
			env.DumpOnFailure(t, rs.Status.Workflow.Name)
		}
		if rs.Status.Phase != v1alpha1.RestoreSucceeded {
			t.Fatalf("restore ended %s: %s\n%s", rs.Status.Phase, rs.Status.Message, mustJSON(t, rs.Status))
		}
		wf := checkWorkflowRef(t, rs.Status.Workflow, rs.Name, "RestoreSession")
		resp, err := dst.Client.Get(ctx, "/fullpath/", clientv3WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range resp.Kvs {
			got[string(kv.Key)] = string(kv.Value)
		}
		if len(got) != len(want) {
			t.Errorf("restored %d keys, want %d", len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("key %s = %q, want %q", k, got[k], v)
			}
		}
		describeMatches(t, "restoresession/etcd-restore-1", wf)
		t.Logf("restore session on Argo in %s: %d keys verified", time.Since(begin).Round(time.Millisecond), len(got))
	})

	t.Run("BackupBatch with hooks and a failing member", func(t *testing.T) {
		testBackupBatch(t, fp)
	})

	t.Run("no secrets in any workflow", func(t *testing.T) {
		list, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 0 {
			t.Fatal("no workflows")
		}
		noSecretInWorkflows(t, list.Items, fp.password)
	})
	t.Logf("whole file: %s", time.Since(start).Round(time.Millisecond))
}

// noSecretInWorkflows fails t if a Workflow (spec, status, metadata) holds
// password, as it is or base64-encoded as in a Secret's data.
func noSecretInWorkflows(t *testing.T, wfs []wfv1.Workflow, password string) {
	t.Helper()
	for _, wf := range wfs {
		b := mustJSON(t, wf)
		for _, form := range []string{password, base64.StdEncoding.EncodeToString([]byte(password))} {
			if strings.Contains(b, form) {
				t.Errorf("workflow %s holds the repository password (%q)", wf.Name, form)
			}
		}
	}
	t.Logf("%d workflows checked for the password", len(wfs))
}

// deleteSnapshotObjects deletes the namespace's Snapshot objects (with
// labels, those only) without forgetting their snapshots: their finalizer
// (deleting a Snapshot forgets it in restic) is removed first, since the
// operator that would act on it is stopped, and the next test's must not.
func deleteSnapshotObjects(labels map[string]string) {
	ctx := context.Background()
	list := &v1alpha1.SnapshotList{}
	if env.Client.List(ctx, list, client.InNamespace(env.Namespace), client.MatchingLabels(labels)) != nil {
		return
	}
	for i := range list.Items {
		s := &list.Items[i]
		base := s.DeepCopy()
		s.Finalizers = nil
		_ = env.Client.Patch(ctx, s, client.MergeFrom(base))
		_ = env.Client.Delete(ctx, s)
	}
}

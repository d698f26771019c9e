package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// checkNodeCause checks that the Workflow node of a failed step carries the
// step's own cause, not only Argo's exit code, and that the session's status
// has the same message for the step; and that the verdict node says the
// session failed.
func checkNodeCause(t *testing.T, wf *wfv1.Workflow, bs *v1alpha1.BackupSession, stepName string) {
	t.Helper()
	var sessionMsg string
	for _, tg := range bs.Status.Targets {
		for _, s := range tg.Steps {
			if s.Name == stepName {
				sessionMsg = s.Message
			}
		}
	}
	var nodeMsg, verdictMsg string
	var verdictPhase wfv1.NodePhase
	for _, n := range wf.Status.Nodes {
		switch {
		case n.Type == wfv1.NodeTypePod && strings.HasSuffix(n.Name, "."+stepName):
			nodeMsg = n.Message
		case n.Type == wfv1.NodeTypePod && strings.HasSuffix(n.Name, ".verdict"):
			verdictMsg, verdictPhase = n.Message, n.Phase
		}
	}
	// Argo puts "main: Error (exit code N): " before the container's
	// termination message.
	cause := nodeMsg
	if _, after, ok := strings.Cut(nodeMsg, "): "); ok && strings.HasPrefix(nodeMsg, "main: ") {
		cause = after
	}
	if cause == "" || !strings.Contains(cause, "etcd") {
		t.Errorf("node %s says %q, want the step's cause", stepName, nodeMsg)
	}
	// The session says "exit code N: <cause>" (argo.StepMessage).
	if sessionMsg == "" || !strings.Contains(sessionMsg, firstLine(cause)) {
		t.Errorf("the session's step %s says %q, the node %q: want the same cause", stepName, sessionMsg, nodeMsg)
	}
	if verdictPhase != wfv1.NodeFailed || !strings.Contains(verdictMsg, bs.Name+" failed") {
		t.Errorf("verdict node: %s %q, want Failed naming the session", verdictPhase, verdictMsg)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// hookServer records the paths of the HTTP hook calls it gets.
type hookServer struct {
	srv   *httptest.Server
	port  int
	mu    sync.Mutex
	calls []string
}

func newHookServer(t *testing.T) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.calls = append(h.calls, r.URL.Path)
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.srv.Close)
	u, err := url.Parse(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if h.port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	return h
}

// hook is an httpGet hook to the server's path.
func (h *hookServer) hook(path string) *v1alpha1.Hook {
	return &v1alpha1.Hook{HTTPGet: &v1alpha1.HTTPGetAction{
		Host: "127.0.0.1", Port: intstr.FromInt32(int32(h.port)), Path: path, Scheme: v1alpha1.URISchemeHTTP,
	}}
}

func (h *hookServer) postHook(path string, policy v1alpha1.HookExecutionPolicy) *v1alpha1.PostHook {
	return &v1alpha1.PostHook{Hook: *h.hook(path), ExecutionPolicy: policy}
}

// take returns the calls so far and forgets them.
func (h *hookServer) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

// testBackupBatch runs a BackupBatch of a volume and an etcd whose
// AppBinding points at a dead port, with global and per-member HTTP hooks,
// Sequential then Parallel.
func testBackupBatch(t *testing.T, fp *fullPath) {
	hooks := newHookServer(t)
	// A claim: the pod runner maps it to <pods dir>/claims/<name>.
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "fullpath-data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	create(t, claim)
	// The apiserver's admission gives the claim kubernetes.io/pvc-protection,
	// which only a controller-manager would lift: drop it before the delete
	// (cleanups run last first), so that the test can run again.
	t.Cleanup(func() {
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
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("file-%02d", i)), []byte(strings.Repeat("data", i+1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	create(t, appBinding("etcd-dead", fmt.Sprintf("http://127.0.0.1:%d", freePort(t))))
	keepLast := int64(3)

	for _, order := range []v1alpha1.ExecutionOrder{v1alpha1.Sequential, v1alpha1.Parallel} {
		t.Run(string(order), func(t *testing.T) {
			begin := time.Now()
			name := "batch-" + strings.ToLower(string(order))
			create(t, &v1alpha1.BackupBatch{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: v1alpha1.BackupBatchSpec{
					Repository:      v1alpha1.ObjectRef{Name: fp.repo},
					Schedule:        "0 0 1 1 *",
					Paused:          true,
					ExecutionOrder:  order,
					RetentionPolicy: &v1alpha1.RetentionPolicy{Name: "keep-3", KeepLast: &keepLast},
					Hooks: &v1alpha1.BackupHooks{
						PreBackup:  hooks.hook("/global-pre"),
						PostBackup: hooks.postHook("/global-post", v1alpha1.HookExecuteAlways),
					},
					Members: []v1alpha1.BackupBatchMember{
						{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
							Task:   &v1alpha1.TaskRef{Name: "volume-backup"},
							Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: "v1", Kind: "PersistentVolumeClaim", Name: claim.Name}},
							Hooks: &v1alpha1.BackupHooks{
								PreBackup:  hooks.hook("/volume-pre"),
								PostBackup: hooks.postHook("/volume-post", v1alpha1.HookExecuteOnSuccess),
							},
						}},
						{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
							Task:   &v1alpha1.TaskRef{Name: "etcd-backup"},
							Target: &v1alpha1.BackupTarget{Ref: appBindingRef("etcd-dead")},
							Hooks: &v1alpha1.BackupHooks{
								PreBackup:  hooks.hook("/etcd-pre"),
								PostBackup: hooks.postHook("/etcd-post-failed", v1alpha1.HookExecuteOnFailure),
							},
						}},
					},
				},
			})
			bs := &v1alpha1.BackupSession{
				ObjectMeta: metav1.ObjectMeta{Name: name + "-1"},
				Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
					APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupBatch", Name: name,
				}},
			}
			create(t, bs)
			waitFor(t, bs, func() bool {
				return bs.Status.Phase == v1alpha1.BackupSessionSucceeded || bs.Status.Phase == v1alpha1.BackupSessionFailed
			})
			if bs.Status.Workflow != nil {
				env.DumpOnFailure(t, bs.Status.Workflow.Name)
			}
			wf := checkWorkflowRef(t, bs.Status.Workflow, bs.Name, "BackupSession")
			if bs.Status.Phase != v1alpha1.BackupSessionFailed {
				t.Errorf("session = %s, want Failed (one member fails)", bs.Status.Phase)
			}
			// The Workflow tells the same story: Failed, though the failed
			// member's post hook and the global post hook handled the failure;
			// the failed step's node says why, as the session's step does.
			if wf.Status.Phase != wfv1.WorkflowFailed {
				t.Errorf("workflow %s is %s, want Failed like its session", wf.Name, wf.Status.Phase)
			}
			checkNodeCause(t, wf, bs, "etcd-dead-etcd-backup")
			phases := map[string]string{}
			for _, tg := range bs.Status.Targets {
				if tg.Ref == nil {
					t.Fatalf("target without ref: %s", mustJSON(t, tg))
				}
				var steps []string
				for _, s := range tg.Steps {
					steps = append(steps, s.Name+"="+string(s.Phase))
				}
				var hs []string
				for _, h := range tg.PreBackupHooks {
					hs = append(hs, "pre="+string(h.Phase))
				}
				for _, h := range tg.PostBackupHooks {
					hs = append(hs, "post="+string(h.Phase))
				}
				phases[tg.Ref.Name] = fmt.Sprintf("%s steps[%s] hooks[%s]", tg.Phase, strings.Join(steps, ","), strings.Join(hs, ","))
			}
			want := map[string]string{
				claim.Name:  "Succeeded steps[fullpath-data-volume-backup=Succeeded,fullpath-data-retention=Succeeded] hooks[pre=Succeeded,post=Succeeded]",
				"etcd-dead": "Failed steps[etcd-dead-etcd-backup=Failed,etcd-dead-retention=Skipped] hooks[pre=Succeeded,post=Succeeded]",
			}
			for k, w := range want {
				if phases[k] != w {
					t.Errorf("target %s: %s\n want %s", k, phases[k], w)
				}
			}
			g := bs.Status.GlobalHooks
			if g == nil || g.PreBackup == nil || g.PostBackup == nil || g.PreBackup.Phase != v1alpha1.StepSucceeded || g.PostBackup.Phase != v1alpha1.StepSucceeded {
				t.Errorf("global hooks = %s, want pre and post Succeeded", mustJSON(t, g))
			}
			calls := hooks.take()
			for _, c := range []string{"/global-pre", "/volume-pre", "/volume-post", "/etcd-pre", "/etcd-post-failed", "/global-post"} {
				if !slices.Contains(calls, c) {
					t.Errorf("hook %s was not called; calls: %v", c, calls)
				}
			}
			if len(calls) == 0 || calls[0] != "/global-pre" || calls[len(calls)-1] != "/global-post" {
				t.Errorf("calls = %v, want /global-pre first and /global-post last", calls)
			}
			volumePost, etcdPre := slices.Index(calls, "/volume-post"), slices.Index(calls, "/etcd-pre")
			if order == v1alpha1.Sequential && volumePost > etcdPre {
				t.Errorf("calls = %v: Sequential must finish the volume (its post hook) before the etcd's pre hook", calls)
			}
			// The volume's backup and retention take seconds; its post hook
			// cannot come before the etcd's pre hook when both start together.
			if order == v1alpha1.Parallel && volumePost < etcdPre {
				t.Errorf("calls = %v: Parallel must start the etcd (its pre hook) while the volume runs", calls)
			}
			describeMatches(t, "backupsession/"+bs.Name, wf)
			t.Logf("%s batch on Argo in %s; hook calls %v; targets %v", order, time.Since(begin).Round(time.Millisecond), calls, phases)
		})
	}
}

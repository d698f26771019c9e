package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/deathsig"
)

// argoFault is one case of the fault table on the Argo engine: an etcd
// backup through the operator, the real workflow-controller and the pod
// runner, with one fault injected.
type argoFault struct {
	name string
	// setup prepares the world before the session: it may change the
	// Repository (spec) and the BackupConfiguration.
	setup func(t *testing.T, w *argoWorld, repo *v1alpha1.Repository, bc *v1alpha1.BackupConfiguration)
	// during runs once the session was created; restartOperator stops the
	// operator and starts a new one.
	during func(t *testing.T, w *argoWorld, restartOperator func())
	// want is the session's phase and what its message must contain.
	want  v1alpha1.BackupSessionPhase
	cause string
	// snapshots is how many snapshots the repository must hold afterwards.
	snapshots int
	// steps, if set, are the step names the session's status must list.
	steps []string
}

// argoWorld is one case's Repository on a local path.
type argoWorld struct {
	name, repoDir, password string
}

// TestArgoFaults is e2e/faults' table on the Argo engine. After every
// case: the session's phase, and a message naming the cause; every
// snapshot in the repository recorded by exactly one Snapshot object (and
// none for a failed backup); `restic check` clean; no process of the
// session left (the pod runner runs pods as processes of this test); and
// the password nowhere in the Workflow, the session's status or events.
func TestArgoFaults(t *testing.T) {
	stop := startOperator(t)
	restart := func() {
		stop()
		stop = startOperator(t)
	}
	src := startEtcd(t)
	ctx := context.Background()
	value := make([]byte, 16<<10)
	for i := range 2000 { // ≈ 32 MiB that does not compress: restic writes several packs
		_, _ = rand.Read(value)
		if _, err := src.Client.Put(ctx, fmt.Sprintf("/faults/key-%04d", i), string(value)); err != nil {
			t.Fatal(err)
		}
	}
	create(t, appBinding("faults-etcd", src.URL))

	cases := []argoFault{
		{name: "no-fault", want: v1alpha1.BackupSessionSucceeded, snapshots: 1},
		{
			name: "wrong-password",
			setup: func(t *testing.T, w *argoWorld, _ *v1alpha1.Repository, _ *v1alpha1.BackupConfiguration) {
				(&fullPath{t: t, repoDir: w.repoDir, password: "another-password"}).restic("init")
			},
			want: v1alpha1.BackupSessionFailed, cause: "wrong password",
		},
		{
			name: "backend-down-at-start",
			setup: func(t *testing.T, w *argoWorld, repo *v1alpha1.Repository, bc *v1alpha1.BackupConfiguration) {
				repo.Spec.Backend.Local = nil
				repo.Spec.Backend.Rest = &v1alpha1.RestServerSpec{URL: fmt.Sprintf("http://127.0.0.1:%d/%s", freePort(t), w.name)}
				bc.Spec.RuntimeSettings = &v1alpha1.RuntimeSettings{Container: &v1alpha1.ContainerRuntimeSettings{
					Env: []corev1.EnvVar{{Name: "STASHFLOW_REPOSITORY_TIMEOUT", Value: "3s"}},
				}}
			},
			want: v1alpha1.BackupSessionFailed, cause: "unreachable",
		},
		{
			name: "restic-killed",
			during: func(t *testing.T, w *argoWorld, _ func()) {
				pid := waitResticWithPack(t, w.repoDir)
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("killing restic %d: %v", pid, err)
				}
			},
			want: v1alpha1.BackupSessionFailed, cause: "restic was killed by signal",
		},
		{
			// The operator stops while the Workflow runs (its steps are pods,
			// not its children, so they go on) and a new one takes over: the
			// session ends as the run did, its snapshot recorded once.
			name: "operator-restarted",
			during: func(t *testing.T, w *argoWorld, restartOperator func()) {
				waitResticWithPack(t, w.repoDir)
				restartOperator()
			},
			want: v1alpha1.BackupSessionSucceeded, snapshots: 1,
		},
		{
			// The session's Task gains a step while its Workflow runs, and
			// the operator restarts: the new operator reads the Workflow's
			// nodes against the session's run record, not against today's
			// Task, so the session ends as the run did.
			name: "task-changed-operator-restarted",
			setup: func(t *testing.T, w *argoWorld, _ *v1alpha1.Repository, bc *v1alpha1.BackupConfiguration) {
				task := &v1alpha1.Task{ObjectMeta: metav1.ObjectMeta{Name: w.name}, Spec: v1alpha1.TaskSpec{
					Steps: []v1alpha1.FunctionRef{{Name: "etcd-backup"}},
				}}
				createCluster(t, task)
				bc.Spec.Task = &v1alpha1.TaskRef{Name: task.Name}
			},
			during: func(t *testing.T, w *argoWorld, restartOperator func()) {
				waitResticWithPack(t, w.repoDir)
				task := &v1alpha1.Task{}
				if err := env.Client.Get(context.Background(), client.ObjectKey{Name: w.name}, task); err != nil {
					t.Fatal(err)
				}
				task.Spec.Steps = append([]v1alpha1.FunctionRef{{Name: "repository-check"}}, task.Spec.Steps...)
				if err := env.Client.Update(context.Background(), task); err != nil {
					t.Fatal(err)
				}
				restartOperator()
			},
			want: v1alpha1.BackupSessionSucceeded, snapshots: 1, steps: []string{"etcd-backup"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runArgoFault(t, tc, restart) })
	}
}

func runArgoFault(t *testing.T, tc argoFault, restartOperator func()) {
	w := &argoWorld{name: "af-" + tc.name, repoDir: filepath.Join(t.TempDir(), "repo"), password: "pw-" + tc.name + "-" + strconv.Itoa(os.Getpid())}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: w.name + "-secret"}, Data: map[string][]byte{"RESTIC_PASSWORD": []byte(w.password)}}
	repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: w.name}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
		StorageSecretName: secret.Name,
		Local:             &v1alpha1.LocalSpec{HostPath: &corev1.HostPathVolumeSource{Path: w.repoDir}, MountPath: "/stashflow/repository"},
	}}}
	bc := &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: w.name},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:   &v1alpha1.TaskRef{Name: "etcd-backup"},
				Target: &v1alpha1.BackupTarget{Ref: appBindingRef("faults-etcd")},
			},
			Repository: v1alpha1.ObjectRef{Name: repo.Name},
			Paused:     true,
		},
	}
	if tc.setup != nil {
		tc.setup(t, w, repo, bc)
	}
	create(t, secret, repo, bc)
	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: w.name + "-1"},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: bc.Name}},
	}
	t.Cleanup(func() {
		_ = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).DeleteCollection(context.Background(), metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: v1alpha1.LabelSession + "=" + bs.Name})
		deleteSnapshotObjects(map[string]string{v1alpha1.LabelRepository: repo.Name})
	})
	create(t, bs)
	if tc.during != nil {
		tc.during(t, w, restartOperator)
	}
	waitFor(t, bs, func() bool {
		return bs.Status.Phase == v1alpha1.BackupSessionSucceeded || bs.Status.Phase == v1alpha1.BackupSessionFailed ||
			bs.Status.Phase == v1alpha1.BackupSessionUnknown
	})
	if bs.Status.Workflow != nil {
		env.DumpOnFailure(t, bs.Status.Workflow.Name)
	}

	// Phase and cause.
	if bs.Status.Phase != tc.want || !strings.Contains(bs.Status.Message, tc.cause) {
		t.Errorf("session %s: %q; want %s naming %q", bs.Status.Phase, bs.Status.Message, tc.want, tc.cause)
	}
	if tc.steps != nil {
		var steps []string
		for _, tg := range bs.Status.Targets {
			for _, st := range tg.Steps {
				steps = append(steps, st.Name)
			}
		}
		if !slices.Equal(steps, tc.steps) || bs.Status.Plan == nil || len(bs.Status.Plan.Steps) != len(tc.steps) {
			t.Errorf("status steps %v, plan %+v; want the steps %v the run was submitted with", steps, bs.Status.Plan, tc.steps)
		}
	}
	// No process of the session left.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := sessionProcesses(w.repoDir, w.name)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of the session are left: %v", left)
			break
		}
	}
	// Snapshots: every one in the repository has exactly one Snapshot object.
	if repo.Spec.Backend.Local != nil && tc.cause != "wrong password" {
		var snaps []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(w.restic(t, "snapshots", "--json"), &snaps); err != nil {
			t.Fatal(err)
		}
		if len(snaps) != tc.snapshots {
			t.Errorf("%d snapshots in the repository, want %d", len(snaps), tc.snapshots)
		}
		eventually(t, "one Snapshot object per snapshot", func() string {
			list := &v1alpha1.SnapshotList{}
			if err := env.Client.List(context.Background(), list, client.InNamespace(env.Namespace), client.MatchingLabels{v1alpha1.LabelRepository: repo.Name}); err != nil {
				return err.Error()
			}
			objects := map[string]int{}
			for _, s := range list.Items {
				objects[s.Spec.SnapshotID]++
			}
			for _, s := range snaps {
				if objects[s.ID] != 1 {
					return fmt.Sprintf("snapshot %s has %d Snapshot objects, want 1", s.ID, objects[s.ID])
				}
			}
			if len(list.Items) != len(snaps) {
				return fmt.Sprintf("%d Snapshot objects for %d snapshots", len(list.Items), len(snaps))
			}
			return ""
		})
		// The repository stays readable: a killed restic's lock was removed
		// by the Function, so no unlock comes first.
		if _, err := os.Stat(filepath.Join(w.repoDir, "config")); err == nil {
			w.restic(t, "check")
		}
	}
	// The password nowhere.
	events := &corev1.EventList{}
	if err := env.Client.List(context.Background(), events, client.InNamespace(env.Namespace)); err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"status": mustJSON(t, bs.Status), "events": mustJSON(t, events.Items)}
	if bs.Status.Workflow != nil {
		places["Workflow"] = mustJSON(t, workflowOf(t, bs.Status.Workflow))
	}
	for where, text := range places {
		if strings.Contains(text, w.password) {
			t.Errorf("the repository password appears in the %s", where)
		}
	}
	t.Logf("%s on Argo: %s %q", tc.name, bs.Status.Phase, bs.Status.Message)
}

// restic runs plain restic on the case's repository (fullPath.restic).
func (w *argoWorld) restic(t *testing.T, args ...string) []byte {
	t.Helper()
	return (&fullPath{t: t, repoDir: w.repoDir, password: w.password}).restic(args...)
}

// sessionProcesses are the processes below this test (the pod runner's
// pods) whose environment names the case's repository or whose command line
// names its session.
func sessionProcesses(repoDir, name string) []string {
	var out []string
	for _, p := range deathsig.Descendants(os.Getpid()) {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
		if p.State != "Z" && (bytes.Contains(env, []byte(repoDir)) || bytes.Contains(cmdline, []byte(name+"-1"))) {
			out = append(out, fmt.Sprintf("%d %s", p.PID, p.Comm))
		}
	}
	return out
}

// waitResticWithPack waits for the case's restic (a process below this
// test whose environment names the repository) and for the first pack in
// the repository, and returns restic's pid.
func waitResticWithPack(t *testing.T, repoDir string) int {
	t.Helper()
	deadline := time.Now().Add(fullPathTimeout)
	for ; time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, p := range deathsig.Descendants(os.Getpid()) {
			if p.Comm != "restic" {
				continue
			}
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.PID))
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
			if !bytes.Contains(env, []byte("RESTIC_REPOSITORY="+repoDir)) || !bytes.Contains(cmdline, []byte("backup")) {
				continue
			}
			if packs, _ := filepath.Glob(filepath.Join(repoDir, "data", "*", "*")); len(packs) > 0 {
				return p.PID
			}
		}
	}
	t.Fatal("no restic backup with a pack in the repository")
	return 0
}

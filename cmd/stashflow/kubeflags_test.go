package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestKubeFlags runs the cluster commands against a real kube-apiserver
// with a kubeconfig whose context sets a namespace, as kubectl users have
// it: the namespace comes from the context unless -n names one, --context
// and --kubeconfig choose another, -A lists every namespace, and "not
// found" names the namespace searched.
func TestKubeFlags(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	// The current context's namespace is team-a; context "other" is team-b.
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	current := cfg.Contexts[cfg.CurrentContext]
	current.Namespace = "team-a"
	other := current.DeepCopy()
	other.Namespace = "team-b"
	cfg.Contexts["other"] = other
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		for _, o := range []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&v1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "snap-" + ns, Namespace: ns}, Spec: v1alpha1.SnapshotSpec{
				Repository: v1alpha1.ObjectRef{Name: "repo"}, SnapshotID: "0123456789" + ns, Hostname: ns, Paths: []string{"/data"},
			}},
			&v1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns}, Spec: v1alpha1.BackupConfigurationSpec{
				BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
					Task: &v1alpha1.TaskRef{Name: "etcd-backup"}, Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd"}},
				},
				Repository: v1alpha1.ObjectRef{Name: "repo"}, Paused: true, Schedule: map[string]string{"team-b": "0 3 * * *"}[ns],
			}},
		} {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	withEnv := []string{"KUBECONFIG=" + kubeconfig}
	hosts := func(t *testing.T, args ...string) []string {
		t.Helper()
		out, stderr, code := stashflowEnv(ctx, t, withEnv, append([]string{"snapshots", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("snapshots %v: exit %d: %s", args, code, stderr)
		}
		var hosts []string
		for _, s := range snapshotList(t, out) {
			hosts = append(hosts, s.Spec.Hostname)
		}
		sort.Strings(hosts)
		return hosts
	}

	t.Run("namespace", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{nil, []string{"team-a"}},
			{[]string{"-n", "team-b"}, []string{"team-b"}},
			{[]string{"--context", "other"}, []string{"team-b"}},
			{[]string{"-A"}, []string{"team-a", "team-b"}},
		} {
			if diff := cmp.Diff(tc.want, hosts(t, tc.args...)); diff != "" {
				t.Errorf("snapshots %v: hosts (-want +got):\n%s", tc.args, diff)
			}
		}
	})

	t.Run("kubeconfig flag", func(t *testing.T) {
		out, stderr, code := stashflowEnv(ctx, t, []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none")},
			"--kubeconfig", kubeconfig, "trigger", "bc/nightly")
		if code != 0 || !strings.Contains(out, "backupsession/nightly-manual-") {
			t.Fatalf("trigger: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
		}
		var list v1alpha1.BackupSessionList
		if err := env.Client.List(ctx, &list, client.InNamespace("team-a")); err != nil || len(list.Items) != 1 {
			t.Fatalf("sessions in team-a: %d, %v; want the one trigger made in the context's namespace", len(list.Items), err)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		paused := func() bool {
			var bc v1alpha1.BackupConfiguration
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "team-b", Name: "nightly"}, &bc); err != nil {
				t.Fatal(err)
			}
			return bc.Spec.Paused
		}
		for _, tc := range []struct {
			verb, want string
			paused     bool
		}{
			{"resume", "backupconfiguration/nightly resumed", false},
			{"resume", "backupconfiguration/nightly was already not paused", false},
			{"pause", "backupconfiguration/nightly paused", true},
		} {
			out, stderr, code := stashflowEnv(ctx, t, withEnv, tc.verb, "bc/nightly", "-n", "team-b")
			if code != 0 || strings.TrimSpace(out) != tc.want || paused() != tc.paused {
				t.Errorf("%s: exit %d, %q (%s), paused %t; want %q, paused %t", tc.verb, code, out, stderr, paused(), tc.want, tc.paused)
			}
		}
		// Without a schedule, resuming is refused by the apiserver's rule, and said.
		_, stderr, code := stashflowEnv(ctx, t, withEnv, "resume", "bc/nightly")
		if want := "spec.schedule is required unless spec.paused is true"; code != exitFailed || !strings.Contains(stderr, want) {
			t.Errorf("resume without a schedule: exit %d, %q; want exit 1 and %q", code, stderr, want)
		}
	})

	t.Run("describe an invoker", func(t *testing.T) {
		out, stderr, code := stashflowEnv(ctx, t, withEnv, "describe", "backupconfiguration/nightly")
		for _, want := range []string{"BackupConfiguration team-a/nightly", "task etcd-backup", "sessions: 1", "nightly-manual-"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("describe bc: exit %d, missing %q in\n%s%s", code, want, out, stderr)
			}
		}
	})

	t.Run("restore", func(t *testing.T) {
		out, stderr, code := stashflowEnv(ctx, t, withEnv, "restore", "bc/nightly", "--snapshot", "latest", "--to", "appbinding/etcd-new", "--dry-run")
		if code != 0 || !strings.Contains(out, "sourceHost: etcd") || !strings.Contains(out, "name: etcd-restore") {
			t.Errorf("restore --dry-run: exit %d\n%s%s", code, out, stderr)
		}
		out, stderr, code = stashflowEnv(ctx, t, withEnv, "restore", "bc/nightly", "--snapshot", "4bd3e9a1")
		if code != 0 || !strings.Contains(out, "restoresession/nightly-restore-") {
			t.Fatalf("restore: exit %d\n%s%s", code, out, stderr)
		}
		var list v1alpha1.RestoreSessionList
		if err := env.Client.List(ctx, &list, client.InNamespace("team-a")); err != nil || len(list.Items) != 1 {
			t.Fatalf("RestoreSessions in team-a: %d, %v; want the one restore made (--dry-run makes none)", len(list.Items), err)
		}
		if got := list.Items[0].Spec.Target.Rules; len(got) != 1 || len(got[0].Snapshots) != 1 || got[0].Snapshots[0] != "4bd3e9a1" {
			t.Errorf("rules %+v; want the one snapshot", got)
		}
		_, stderr, code = stashflowEnv(ctx, t, withEnv, "restore", "bc/nightly")
		if code != exitUsage || !strings.Contains(stderr, "snapshot") {
			t.Errorf("restore without --snapshot: exit %d, %q; want a usage error", code, stderr)
		}
	})

	t.Run("a repository verb reads the cluster's Repository and Secret", func(t *testing.T) {
		if err := testservers.SetupPATH("restic"); err != nil {
			t.Fatal(err)
		}
		repoDir := filepath.Join(t.TempDir(), "repo")
		init := exec.Command("restic", "init", "--repo", repoDir)
		init.Env = append(os.Environ(), "RESTIC_PASSWORD=cluster-pw", "RESTIC_CACHE_DIR="+t.TempDir())
		if out, err := init.CombinedOutput(); err != nil {
			t.Fatalf("restic init: %v\n%s", err, out)
		}
		for _, o := range []client.Object{
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: "team-a"}, StringData: map[string]string{"RESTIC_PASSWORD": "cluster-pw"}},
			&v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "repo", Namespace: "team-a"}, Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "repo", Local: &v1alpha1.LocalSpec{MountPath: "/stashflow/repository", HostPath: &corev1.HostPathVolumeSource{Path: repoDir}},
			}}},
		} {
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		out, stderr, code := stashflowEnv(ctx, t, withEnv, "check", "--repository", "repo")
		if code != 0 || !strings.Contains(out, "repository team-a/repo: no errors found") {
			t.Errorf("check --repository: exit %d\n%s%s", code, out, stderr)
		}
		_, stderr, code = stashflowEnv(ctx, t, withEnv, "unlock", "--repository", "repo", "-n", "team-b")
		if want := "Repository repo not found in namespace team-b (-n)"; code != exitFailed || !strings.Contains(stderr, want) {
			t.Errorf("unlock in team-b: exit %d, %q; want %q", code, stderr, want)
		}
	})

	t.Run("printers", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string // a regular expression of the whole stdout
		}{
			{[]string{"snapshots", "-A", "-o", "name"}, `^snapshot.stashflow.dev/snap-team-a\nsnapshot.stashflow.dev/snap-team-b\n$`},
			{[]string{"snapshots", "-o", "custom-columns=NS:.metadata.namespace,ID:.spec.snapshotID"}, `^NS\s+ID\nteam-a\s+0123456789team-a\n$`},
			{[]string{"snapshots", "-n", "team-b", "-o", "jsonpath={.kind} {.items[*].spec.hostname}"}, `^List team-b$`},
			{[]string{"trigger", "bc/nightly", "-n", "team-b", "-o", "name"}, `^backupsession.stashflow.dev/nightly-manual-[a-z0-9]{5}\n$`},
			{[]string{"restore", "bc/nightly", "--snapshot", "latest", "--dry-run", "-o", "jsonpath={.kind} {.spec.task.name}"}, `^RestoreSession etcd-restore$`},
		} {
			out, stderr, code := stashflowEnv(ctx, t, withEnv, tc.args...)
			if code != 0 || !regexp.MustCompile(tc.want).MatchString(out) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want stdout matching %s", tc.args, code, out, stderr, tc.want)
			}
		}
	})

	t.Run("not found names the namespace", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"describe", "bs/gone"}, "BackupSession gone not found in namespace team-a (the context's namespace; use -n to choose another)"},
			{[]string{"describe", "restore/gone", "-n", "team-b"}, "RestoreSession gone not found in namespace team-b (-n)"},
			{[]string{"trigger", "bc/gone", "--context", "other"}, "BackupConfiguration gone not found in namespace team-b (the context's namespace; use -n to choose another)"},
		} {
			_, stderr, code := stashflowEnv(ctx, t, withEnv, tc.args...)
			if code != exitFailed || !strings.Contains(stderr, tc.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", tc.args, code, stderr, tc.want)
			}
		}
	})

	t.Run("completion", func(t *testing.T) {
		for _, tc := range []struct {
			env  []string
			args []string
			want string // a regular expression of the whole stdout
		}{
			{withEnv, []string{"trigger", ""}, `^backupconfiguration/nightly\n:4\n$`},
			{withEnv, []string{"trigger", "bb/"}, `^:4\n$`},
			{withEnv, []string{"pause", "-n", "team-b", "bc/n"}, `^bc/nightly\n:4\n$`},
			{withEnv, []string{"describe", "bs/"}, `^bs/nightly-manual-[a-z0-9]{5}\n:4\n$`},
			{withEnv, []string{"restore", "bc/nightly", "--snapshot", ""}, `^latest\n01234567\n:4\n$`},
			{withEnv, []string{"check", "--repository", ""}, `^repo\n:4\n$`},
			{withEnv, []string{"snapshots", "-n", ""}, `(?s)^default\n.*team-a\nteam-b\n:4\n$`},
			{withEnv, []string{"trigger", "--context", ""}, `(?s)^.*other\n:4\n$`},
			{withEnv, []string{"snapshots", "-o", "j"}, `(?s)^wide\njson\n.*jsonpath=\n.*custom-columns=\n:4\n$`},
			// No cluster: nothing offered, nothing said.
			{[]string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none")}, []string{"trigger", ""}, `^:4\n$`},
		} {
			out, stderr, code := stashflowEnv(ctx, t, tc.env, append([]string{"__complete"}, tc.args...)...)
			if code != 0 || !regexp.MustCompile(tc.want).MatchString(out) {
				t.Errorf("__complete %q: exit %d, stdout %q, stderr %q; want stdout matching %s", tc.args, code, out, stderr, tc.want)
			}
			// kubectl completes `kubectl stashflow ARGS` by running
			// kubectl_complete-stashflow ARGS: the same candidates.
			if got := complete(t, tc.env, tc.args...); got != out {
				t.Errorf("%s %q: stdout %q, want __complete's %q", completerName, tc.args, got, out)
			}
		}
		// Completing a Function's arguments runs no Function.
		if got := complete(t, withEnv, "fn", "volume-backup", "--paths", t.TempDir(), ""); got != ":0\n" {
			t.Errorf("%s fn volume-backup …: stdout %q, want only the directive :0", completerName, got)
		}
	})

	t.Run("usage", func(t *testing.T) {
		_, stderr, code := stashflowEnv(ctx, t, withEnv, "snapshots", "-A", "-f", kubeconfig)
		if code != exitUsage || !strings.Contains(stderr, "-A") {
			t.Errorf("snapshots -A -f: exit %d, %q; want a usage error", code, stderr)
		}
	})
}

// complete runs the binary as kubectl_complete-stashflow (a symlink beside
// it, as make build installs it) with args and env added, and returns its
// stdout; it must exit 0.
func complete(t *testing.T, env []string, args ...string) string {
	t.Helper()
	completer := filepath.Join(filepath.Dir(binary), completerName)
	if err := os.Symlink(binary, completer); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	cmd := exec.Command(completer, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", completerName, args, err, stderr.String())
	}
	return stdout.String()
}

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// planSecret is the repository password of the plan tests' files: no output
// of plan or run --dry-run may hold it.
const planSecret = "plan-test-password-never-printed"

// planFiles are the plan tests' manifests: a PVC backup with retention, a
// StatefulSet backup with hooks under a Repository whose directory is repo,
// and apart the StatefulSet's running pods and a restore of it.
type planFiles struct {
	repo, pvc, sts, pods, restore string
}

func newPlanFiles(t *testing.T) planFiles {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	common := localRepository(repo, planSecret)
	return planFiles{
		repo: repo,
		pvc: write(t, "pvc.yaml", common+`---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: pvc-a}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: v1, kind: PersistentVolumeClaim, name: pvc-a}}
  retentionPolicy: {name: keep-3, keepLast: 3, prune: true}
`),
		sts: write(t, "sts.yaml", common+`---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: db, volumeMounts: [{name: data, mountPath: /var/lib/db}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: db}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: apps/v1, kind: StatefulSet, name: db}}
  hooks:
    preBackup: {exec: {command: [sync]}}
    postBackup: {exec: {command: [echo, done]}, executionPolicy: Always}
`),
		restore: write(t, "restore.yaml", `apiVersion: stashflow.dev/v1alpha1
kind: RestoreSession
metadata: {name: into-db}
spec:
  repository: {name: repo}
  target: {ref: {apiVersion: apps/v1, kind: StatefulSet, name: db}}
`),
		pods: write(t, "pods.yaml", `apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec: {nodeName: node-a, containers: [{name: db, image: db}]}
status: {phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec: {nodeName: node-b, containers: [{name: db, image: db}]}
status: {phase: Running}
`),
	}
}

// slot replaces the unix time of the sessions' names (<invoker>-<time>).
var slot = regexp.MustCompile(`(pvc-a|db|etcd)-\d{9,}`)

func unslot(s string) string { return slot.ReplaceAllString(s, "$1-<time>") }

// TestPlanText: plan and run --dry-run print every session as a tree of its
// steps, hooks and dependencies with the translation's warnings, and run
// nothing: the repository, the work directory and the cache stay empty.
func TestPlanText(t *testing.T) {
	f := newPlanFiles(t)
	pvcTree := `BackupSession pvc-a-<time>: 2 steps
├─ invoker: BackupConfiguration/pvc-a
└─ target PersistentVolumeClaim/pvc-a  host pvc-a
   ├─ step volume-backup [Backup]
   └─ step retention [Retention]  after volume-backup (OnSuccess)
`
	unmapped := `warning: BackupSession pvc-a-<time>: volume "target-0" (persistentVolumeClaim "pvc-a") has no host directory on this machine: the run needs --volume pvc-a=DIR
`
	stsTree := `BackupSession db-<time>: 5 steps
├─ invoker: BackupConfiguration/db
├─ target StatefulSet/db
│  ├─ preBackup hook pre-backup
│  ├─ step host-0-volume-backup (volume-backup) [Backup]  host host-0  after pre-backup (OnSuccess)
│  ├─ step host-1-volume-backup (volume-backup) [Backup]  host host-1  after host-0-volume-backup (OnEnd)
│  └─ postBackup hook post-backup  after host-1-volume-backup (OnEnd)
└─ verdict verdict  after any of pre-backup (OnFailure), host-0-volume-backup (OnFailure), host-1-volume-backup (OnFailure), post-backup (OnFailure)
warning: BackupSession db-<time>: task "volume-backup" steps[1]: no retentionPolicy is set, so the "retention" step was dropped
`
	workDir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plan of a PVC", []string{"plan", "-f", f.pvc}, pvcTree + unmapped},
		{"run --dry-run of a PVC, its claim mapped", []string{"run", "--dry-run", "--work-dir", workDir, "-f", f.pvc, "--volume", "pvc-a=" + t.TempDir()}, pvcTree},
		{"plan -o text of a StatefulSet, its claims mapped", []string{"plan", "-o", "text", "-f", f.sts, "--volume", "data-db-0=/a", "--volume", "data-db-1=/b"}, stsTree},
		{"plan of two sessions", []string{"plan", "-f", f.pvc, "--volume", "pvc-a=/a", "-f", f.sts, "--volume", "data-db-0=/a", "--volume", "data-db-1=/b"}, pvcTree + "\n" + stsTree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			stdout, stderr, code := stashflowEnv(context.Background(), t, []string{"XDG_CACHE_HOME=" + cache}, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if diff := cmp.Diff(tt.want, unslot(stdout)); diff != "" {
				t.Errorf("stdout (-want +got):\n%s\nstderr:\n%s", diff, stderr)
			}
			for _, dir := range []string{cache, workDir} {
				if got := files(t, dir); len(got) != 0 {
					t.Errorf("%s holds %v: something ran", dir, got)
				}
			}
			if _, err := os.Stat(f.repo); !os.IsNotExist(err) {
				t.Errorf("the repository directory %s exists (%v): something ran", f.repo, err)
			}
		})
	}
}

// TestPlanYAML: -o yaml prints each session's run record, the RunPlan the
// session would store in status.plan.
func TestPlanYAML(t *testing.T) {
	f := newPlanFiles(t)
	stdout, stderr, code := stashflow(context.Background(), t, "plan", "-o", "yaml", "-f", f.pvc, "-f", f.sts)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	type step struct{ Name, Deps string }
	var got [][]step
	for _, doc := range documents(stdout) {
		var rec v1alpha1.RunPlan
		if err := yaml.UnmarshalStrict([]byte(doc), &rec); err != nil {
			t.Fatalf("not a RunPlan: %v\n%s", err, doc)
		}
		var steps []step
		for _, s := range rec.Steps {
			steps = append(steps, step{s.Name, waitsFor(&s)})
		}
		got = append(got, steps)
	}
	want := [][]step{
		{{"volume-backup", ""}, {"retention", "  after volume-backup (OnSuccess)"}},
		{
			{"pre-backup", ""},
			{"host-0-volume-backup", "  after pre-backup (OnSuccess)"},
			{"host-1-volume-backup", "  after host-0-volume-backup (OnEnd)"},
			{"post-backup", "  after host-1-volume-backup (OnEnd)"},
			{"verdict", "  after any of pre-backup (OnFailure), host-0-volume-backup (OnFailure), host-1-volume-backup (OnFailure), post-backup (OnFailure)"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("run records' steps (-want +got):\n%s\n%s", diff, stdout)
	}
	if !strings.Contains(stderr, `the run needs --volume pvc-a=DIR`) {
		t.Errorf("stderr lacks the unmapped claim's warning:\n%s", stderr)
	}
}

// TestPlanArgo: -o argo prints the Workflows the operator on Argo would
// submit, translated as the operator translates (exec hooks in the target's
// pod, each host's step on its pod's node), with --image as the default
// image.
func TestPlanArgo(t *testing.T) {
	f := newPlanFiles(t)
	tests := []struct {
		name      string
		args      []string
		wantTasks []map[string]string // per Workflow: task → the tasks its depends names
		wantImage string
		wantNodes []string
	}{{
		name: "a PVC", args: []string{"plan", "-o", "argo", "-f", f.pvc},
		wantTasks: []map[string]string{{"volume-backup": "", "retention": "volume-backup"}},
		wantImage: "ghcr.io/stashflow/stashflow:dev",
	}, {
		name: "a StatefulSet with its pods, another image", args: []string{"plan", "-o", "argo", "-f", f.sts, "-f", f.pods, "--image", "registry.example/stashflow:1"},
		wantTasks: []map[string]string{{
			"pre-backup":           "",
			"host-0-volume-backup": "pre-backup",
			"host-1-volume-backup": "host-0-volume-backup",
			"post-backup":          "host-1-volume-backup",
			"verdict":              "pre-backup, host-0-volume-backup, host-1-volume-backup, post-backup",
		}},
		wantImage: "registry.example/stashflow:1",
		wantNodes: []string{"node-a", "node-b"},
	}, {
		name: "a StatefulSet's restore: scaled down and back up", args: []string{"plan", "-o", "argo", "-f", f.sts, "-f", f.pods, "-f", f.restore},
		wantTasks: []map[string]string{{
			"workload-quiesce":      "",
			"host-0-volume-restore": "workload-quiesce",
			"host-1-volume-restore": "host-0-volume-restore",
			"workload-resume":       "host-1-volume-restore",
		}},
		wantImage: "ghcr.io/stashflow/stashflow:dev",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := stashflow(context.Background(), t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			var gotTasks []map[string]string
			for _, doc := range documents(stdout) {
				var wf wfv1.Workflow
				if err := yaml.UnmarshalStrict([]byte(doc), &wf); err != nil {
					t.Fatalf("not a Workflow: %v\n%s", err, doc)
				}
				if wf.Kind != "Workflow" || wf.Namespace != "default" || wf.Name != wf.Labels["stashflow.dev/session"] {
					t.Errorf("Workflow %s %s/%s, labels %v: want a Workflow named after its session in default", wf.Kind, wf.Namespace, wf.Name, wf.Labels)
				}
				tasks := map[string]string{}
				for _, tmpl := range wf.Spec.Templates {
					if tmpl.DAG != nil {
						for _, task := range tmpl.DAG.Tasks {
							tasks[task.Name] = dependsOn(task.Depends)
						}
					}
				}
				gotTasks = append(gotTasks, tasks)
			}
			if diff := cmp.Diff(tt.wantTasks, gotTasks); diff != "" {
				t.Errorf("dag tasks (-want +got):\n%s", diff)
			}
			if !strings.Contains(stdout, "image: "+tt.wantImage+"\n") {
				t.Errorf("no step runs %s:\n%s", tt.wantImage, stdout)
			}
			for _, n := range tt.wantNodes {
				if !strings.Contains(stdout, "- "+n+"\n") {
					t.Errorf("no step is pinned to node %s:\n%s", n, stdout)
				}
			}
			if strings.Contains(stdout, "--local") {
				t.Errorf("a hook runs as a local command on Argo:\n%s", stdout)
			}
		})
	}
}

// TestPlanBadInput: plan and run --dry-run refuse what run refuses, with
// run's very words and exit code 2.
func TestPlanBadInput(t *testing.T) {
	f := newPlanFiles(t)
	pvc, sts := string(mustRead(t, f.pvc)), string(mustRead(t, f.sts))
	tests := []struct {
		name string
		file string
		want string
	}{
		{"an unknown field", write(t, "typo.yaml", strings.Replace(pvc, "schedule:", "schedul:", 1)), `unknown field "spec.schedul"`},
		{"a missing Repository", write(t, "norepo.yaml", strings.Replace(pvc, "repository: {name: repo}", "repository: {name: elsewhere}", 1)),
			"spec.repository: Repository default/elsewhere is not in the given files"},
		{"a CEL rule", write(t, "keepnothing.yaml", strings.Replace(pvc, "keepLast: 3, ", "", 1)), "spec.retentionPolicy"},
		{"a workload path outside its volumes", write(t, "path.yaml", strings.Replace(sts, "name: db}}\n  hooks:", "name: db}, paths: [/etc]}\n  hooks:", 1)),
			`spec.target.paths[0]: "/etc" is in none of the mounted volumes (data at /var/lib/db)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, runErr, runCode := stashflow(context.Background(), t, "run", "--work-dir", t.TempDir(), "-f", tt.file)
			if runCode != exitUsage || !strings.Contains(runErr, tt.want) {
				t.Fatalf("run: exit %d, want %d and %q:\n%s", runCode, exitUsage, tt.want, runErr)
			}
			for _, args := range [][]string{{"plan", "-f", tt.file}, {"plan", "-o", "argo", "-f", tt.file}, {"run", "--dry-run", "-f", tt.file}} {
				stdout, stderr, code := stashflow(context.Background(), t, args...)
				if code != exitUsage {
					t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
				}
				if diff := cmp.Diff(unslot(runErr), unslot(stderr)); diff != "" {
					t.Errorf("%v: stderr differs from run's (-run +got):\n%s", args, diff)
				}
				if stdout != "" {
					t.Errorf("%v: printed a plan of bad input:\n%s", args, stdout)
				}
			}
		})
	}
}

// TestPlanNeverPrintsSecrets: a plan refers to the repository's Secret and
// holds no value of it, in any output form.
func TestPlanNeverPrintsSecrets(t *testing.T) {
	f := newPlanFiles(t)
	for _, args := range [][]string{
		{"plan", "-f", f.pvc, "-f", f.sts},
		{"plan", "-o", "yaml", "-f", f.pvc, "-f", f.sts},
		{"plan", "-o", "json", "-f", f.pvc, "-f", f.sts},
		{"plan", "-o", "argo", "-f", f.pvc},
		{"plan", "-o", "argo", "-f", f.sts, "-f", f.pods},
		{"run", "--dry-run", "-f", f.pvc, "-f", f.sts},
		{"run", "--dry-run", "-o", "argo", "-f", f.pvc},
	} {
		t.Run(strings.Join(args[:3], " "), func(t *testing.T) {
			stdout, stderr, code := stashflow(context.Background(), t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, planSecret) {
				t.Errorf("the Secret's password is printed:\n%s\n%s", stdout, stderr)
			}
		})
	}
}

// TestPlanAsKubectlPlugin: `kubectl stashflow plan` is the same command.
func TestPlanAsKubectlPlugin(t *testing.T) {
	f := newPlanFiles(t)
	plugin := filepath.Join(t.TempDir(), "kubectl-stashflow")
	if err := os.Symlink(binary, plugin); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(plugin, "plan", "-f", f.pvc).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "step retention [Retention]  after volume-backup (OnSuccess)") {
		t.Fatalf("kubectl-stashflow plan: %v\n%s", err, out)
	}
}

// dependsOn lists the tasks an Argo depends expression names, in order.
func dependsOn(expr string) string {
	var names []string
	for _, m := range regexp.MustCompile(`([a-z0-9-]+)\.[A-Z][a-z]+`).FindAllStringSubmatch(expr, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	return strings.Join(names, ", ")
}

// documents splits YAML documents, dropping empty ones.
func documents(s string) []string {
	var out []string
	for _, d := range strings.Split(s, "---\n") {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

// TestPlanAppCatalogAppBinding: files holding KubeDB's AppBinding
// (appcatalog.appscode.com/v1alpha1, with its appRef and a Service) plan
// without `stashflow convert`: the local plan infers the Task from its
// type, the Argo plan reaches the Service; a field stashflow cannot honour
// is bad input naming it.
func TestPlanAppCatalogAppBinding(t *testing.T) {
	const binding = `---
apiVersion: appcatalog.appscode.com/v1alpha1
kind: AppBinding
metadata: {name: etcd}
spec:
  appRef: {apiGroup: kubedb.com, kind: Etcd, name: etcd, namespace: default}
  type: kubedb.com/etcd
  version: "3.6.5"
  clientConfig:
    service: {name: etcd-client, namespace: default, port: 2379, scheme: https}
  secret: {name: etcd-auth}
`
	config := `---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: etcd}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: etcd}}
`
	common := localRepository(filepath.Join(t.TempDir(), "repo"), planSecret)
	good := write(t, "kubedb.yaml", common+binding+config)
	for _, args := range [][]string{{"plan", "-f", good}, {"run", "--dry-run", "--work-dir", t.TempDir(), "-f", good}} {
		stdout, stderr, code := stashflow(context.Background(), t, args...)
		want := "BackupSession etcd-<time>: 1 step\n├─ invoker: BackupConfiguration/etcd\n└─ target AppBinding/etcd  host etcd\n   └─ step etcd-backup [Backup]\n" +
			`warning: BackupSession etcd-<time>: task "etcd-backup" steps[1]: no retentionPolicy is set, so the "retention" step was dropped` + "\n"
		if code != 0 || unslot(stdout) != want {
			t.Errorf("%v: exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", args, code, unslot(stdout), want, stderr)
		}
	}
	stdout, stderr, code := stashflow(context.Background(), t, "plan", "-o", "argo", "-f", good)
	if code != 0 {
		t.Fatalf("plan -o argo: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"- --endpoints=https://etcd-client.default.svc:2379\n", "name: etcd-auth\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan -o argo: the Workflow lacks %q:\n%s", want, stdout)
		}
	}

	bad := write(t, "transforms.yaml", common+strings.Replace(binding, "  secret: {name: etcd-auth}\n",
		"  secret: {name: etcd-auth}\n  secretTransforms: [{renameKey: {from: USER, to: username}}]\n", 1)+config)
	want := "transforms.yaml#3: AppBinding/etcd: spec.secretTransforms: stashflow applies no transform to the credentials"
	for _, args := range [][]string{{"plan", "-f", bad}, {"plan", "-o", "argo", "-f", bad}, {"run", "--work-dir", t.TempDir(), "-f", bad}} {
		stdout, stderr, code := stashflow(context.Background(), t, args...)
		if code != exitUsage || !strings.Contains(stderr, want) || stdout != "" {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr lacks %q:\n%s", args, code, exitUsage, stdout, want, stderr)
		}
	}
}

package argo

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/argolint"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

const image = "ghcr.io/stashflow/stashflow:v0.1.0"

// Step labels as the translators set them. The renderer reads none of them;
// the goldens show their text.
const (
	labelTarget    = "stashflow.dev/target"
	labelStepKind  = "stashflow.dev/step-kind"
	labelHookPhase = "stashflow.dev/hook-phase"
	labelFunction  = "stashflow.dev/function"
	labelGlobal    = "stashflow.dev/global"
)

// fn is a step that runs `stashflow fn <function> args...`.
func fn(name, function string, args ...string) pipeline.Step {
	return pipeline.Step{
		Name: name,
		Process: pipeline.Process{
			Image:   image,
			Command: []string{"stashflow", "fn", function},
			Args:    args,
		},
		Template: function,
		Labels:   map[string]string{labelStepKind: "step", labelFunction: function},
	}
}

// hook is a hook step of a target ("" for a global hook).
func hook(name, target, phase string, deps ...pipeline.Dependency) pipeline.Step {
	s := fn(name, "exec-hook", "--phase="+phase)
	s.Labels[labelStepKind] = "hook"
	s.Labels[labelHookPhase] = phase
	if target == "" {
		s.Labels[labelGlobal] = "true"
	} else {
		s.Labels[labelTarget] = target
	}
	s.Dependencies = deps
	return s
}

func target(s pipeline.Step, t string, deps ...pipeline.Dependency) pipeline.Step {
	s.Labels[labelTarget] = t
	s.Dependencies = deps
	return s
}

func after(step string) pipeline.Dependency {
	return pipeline.Dependency{Step: step, When: pipeline.OnSuccess}
}

func onFailure(step string) pipeline.Dependency {
	return pipeline.Dependency{Step: step, When: pipeline.OnFailure}
}

func onEnd(step string) pipeline.Dependency {
	return pipeline.Dependency{Step: step, When: pipeline.OnEnd}
}

func deps(s pipeline.Step, d ...pipeline.Dependency) pipeline.Step {
	s.Dependencies = d
	return s
}

func graph(name string, steps ...pipeline.Step) *pipeline.Graph {
	return &pipeline.Graph{
		Name:      name,
		Namespace: "backups",
		Labels: map[string]string{
			"stashflow.dev/session": name,
			"stashflow.dev/invoker": "BackupConfiguration.etcd-nightly",
		},
		ServiceAccountName: "stashflow-steps",
		Steps:              steps,
	}
}

type renderCase struct {
	name  string
	graph *pipeline.Graph
	opts  Options
	// templates is the number of container templates expected (dedup).
	templates int
	check     func(t *testing.T, wf *wfv1.Workflow)
}

func renderCases() []renderCase {
	return []renderCase{
		{
			// a ─▶ b ─▶ c
			name: "linear",
			graph: graph("linear",
				fn("a", "etcd-backup", "--endpoints=https://etcd:2379"),
				deps(fn("b", "retention", "--keep-last=5"), after("a")),
				deps(fn("c", "check", "--read-data-subset=1%"), after("b")),
			),
			templates: 3,
		},
		{
			//      ┌─▶ left ──┐
			// top ─┤          ├─▶ bottom
			//      └─▶ right ─┘
			name: "diamond",
			graph: graph("diamond",
				fn("top", "snapshot"),
				deps(fn("left", "upload", "--part=left"), after("top")),
				deps(fn("right", "upload", "--part=right"), after("top")),
				deps(fn("bottom", "verify"), after("left"), after("right")),
			),
			templates: 3, // left and right share "upload"
		},
		{
			//                                     ┌─▶ post-always      (OnEnd)
			// pre-backup-hook ─▶ etcd-backup ─────┼─▶ post-on-success  (OnSuccess)
			//                                     └─▶ post-on-failure  (OnFailure)
			name: "post-hooks",
			graph: graph("post-hooks",
				hook("pre-backup-hook", "etcd", "preBackup"),
				target(fn("etcd-backup", "etcd-backup", "--snapshot"), "etcd", after("pre-backup-hook")),
				hook("post-always", "etcd", "postBackup", onEnd("etcd-backup")),
				hook("post-on-success", "etcd", "postBackup", after("etcd-backup")),
				hook("post-on-failure", "etcd", "postBackup", onFailure("etcd-backup")),
			),
			templates: 2, // all four hooks share one template
		},
		{
			// global-pre ─▶ [a-pre ─▶ a-backup ─▶ a-post] ─▶ [b-pre ─▶ b-backup ─▶ b-post] ─▶ global-post
			// (each post and the next target start on OnEnd: a failed target does not stop the next)
			name: "batch-sequential",
			graph: graph("batch-sequential",
				hook("global-pre", "", "preBackup"),
				hook("a-pre", "a", "preBackup", after("global-pre")),
				target(fn("a-backup", "etcd-backup", "--target=a"), "a", after("a-pre")),
				hook("a-post", "a", "postBackup", onEnd("a-backup")),
				hook("b-pre", "b", "preBackup", onEnd("a-post")),
				target(fn("b-backup", "etcd-backup", "--target=b"), "b", after("b-pre")),
				hook("b-post", "b", "postBackup", onEnd("b-backup")),
				hook("global-post", "", "postBackup", onEnd("b-post")),
			),
			templates: 3, // global hooks (no target label), target hooks, etcd-backup
		},
		{
			//              ┌─▶ a-pre ─▶ a-backup ─▶ a-post ─┐
			// global-pre ──┤                                ├─▶ global-post (OnEnd of both)
			//              └─▶ b-pre ─▶ b-backup ─▶ b-post ─┘
			name: "batch-parallel",
			graph: graph("batch-parallel",
				hook("global-pre", "", "preBackup"),
				hook("a-pre", "a", "preBackup", after("global-pre")),
				target(fn("a-backup", "etcd-backup", "--target=a"), "a", after("a-pre")),
				hook("a-post", "a", "postBackup", onEnd("a-backup")),
				hook("b-pre", "b", "preBackup", after("global-pre")),
				target(fn("b-backup", "etcd-backup", "--target=b"), "b", after("b-pre")),
				hook("b-post", "b", "postBackup", onEnd("b-backup")),
				hook("global-post", "", "postBackup", onEnd("a-post"), onEnd("b-post")),
			),
			templates: 3,
		},
		{
			// backup (env from Secret keys only)
			name: "secrets",
			graph: graph("secrets", func() pipeline.Step {
				s := fn("backup", "etcd-backup", "--repository=s3:s3.amazonaws.com/bucket/etcd")
				s.Process.Env = []pipeline.EnvVar{
					{Name: "RESTIC_PASSWORD", SecretKeyRef: &pipeline.SecretKeyRef{Name: "repo-secret", Key: "RESTIC_PASSWORD"}},
					{Name: "AWS_ACCESS_KEY_ID", SecretKeyRef: &pipeline.SecretKeyRef{Name: "repo-secret", Key: "AWS_ACCESS_KEY_ID"}},
					{Name: "CA_CERT", SecretKeyRef: &pipeline.SecretKeyRef{Name: "repo-ca", Key: "ca.crt", Optional: true}},
					{Name: "GOGC", Value: "400"},
				}
				return s
			}()),
			templates: 1,
			check: func(t *testing.T, wf *wfv1.Workflow) {
				for _, tmpl := range wf.Spec.Templates {
					if tmpl.Container == nil {
						continue
					}
					for _, e := range tmpl.Container.Env {
						isRef := e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
						if strings.HasPrefix(e.Name, "RESTIC_") || strings.HasPrefix(e.Name, "AWS_") || e.Name == "CA_CERT" {
							if !isRef || e.Value != "" {
								t.Errorf("env %s = %+v, want only a secretKeyRef", e.Name, e)
							}
						}
					}
				}
			},
		},
		{
			// backup ─▶ retention ─▶ report
			// retention and report use $(steps.backup.outputs.*) in args, env and command.
			name: "output-refs",
			graph: graph("output-refs",
				func() pipeline.Step {
					s := fn("backup", "etcd-backup")
					s.Outputs = []pipeline.Output{
						{Name: "snapshot-id", Path: outputs.Dir + "/snapshot-id"},
						{Name: "bytes", Path: outputs.Dir + "/bytes"},
					}
					return s
				}(),
				deps(fn("retention", "retention", "--keep-last=5", "--protect=$(steps.backup.outputs.snapshot-id)"), after("backup")),
				func() pipeline.Step {
					s := deps(fn("report", "report", "--bytes=$(steps.backup.outputs.bytes)"), onEnd("retention"))
					s.Process.Env = []pipeline.EnvVar{{Name: "SNAPSHOT", Value: "id=$(steps.backup.outputs.snapshot-id)"}}
					return s
				}(),
			),
			templates: 3,
		},
		{
			// flaky ─▶ steady ─▶ slow    (graph timeout 1h)
			name: "retries-timeouts",
			graph: func() *pipeline.Graph {
				flaky := fn("flaky", "etcd-backup")
				flaky.Retry = pipeline.RetryPolicy{Limit: 3, Backoff: 10 * time.Second, MaxBackoff: 2 * time.Minute}
				flaky.Timeout = 30 * time.Minute
				steady := deps(fn("steady", "retention"), after("flaky"))
				steady.Retry = pipeline.RetryPolicy{Limit: 2} // retry at once
				slow := deps(fn("slow", "check"), after("steady"))
				slow.Timeout = 90 * time.Second
				slow.Retry = pipeline.RetryPolicy{Limit: 1, Backoff: 1500 * time.Millisecond, Factor: 3}
				g := graph("retries-timeouts", flaky, steady, slow)
				g.Timeout = time.Hour
				return g
			}(),
			opts:      Options{TTLAfterCompletion: 7 * 24 * time.Hour, PodGCStrategy: wfv1.PodGCOnWorkflowCompletion},
			templates: 3,
			check: func(t *testing.T, wf *wfv1.Workflow) {
				if got := *wf.Spec.ActiveDeadlineSeconds; got != 3600 {
					t.Errorf("spec.activeDeadlineSeconds = %d, want 3600", got)
				}
			},
		},
		{
			// one ─▶ two ─▶ three ─▶ four ─▶ other      (one..four: same process, different args)
			name: "dedup",
			graph: graph("dedup",
				fn("one", "upload", "--shard=1"),
				deps(fn("two", "upload", "--shard=2"), after("one")),
				deps(fn("three", "upload", "--shard=3"), after("two")),
				deps(fn("four", "upload", "--shard=4"), after("three")),
				deps(func() pipeline.Step {
					s := fn("other", "upload", "--shard=5")
					s.Process.Image = "ghcr.io/stashflow/stashflow:v0.2.0"
					return s
				}(), after("four")),
			),
			templates: 2,
		},
		{
			// restore (a PVC, a Secret volume, resources and a working dir)
			name: "volumes",
			graph: func() *pipeline.Graph {
				s := fn("restore", "volume-restore", "--target=/data")
				s.Process.WorkingDir = "/data"
				s.Process.VolumeMounts = []corev1.VolumeMount{
					{Name: "data", MountPath: "/data"},
					{Name: "tls", MountPath: "/etc/etcd/tls", ReadOnly: true},
				}
				s.Process.Resources = corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				}
				g := graph("volumes", s)
				g.Volumes = []corev1.Volume{
					{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "etcd-data"}}},
					{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "etcd-client-tls"}}},
				}
				return g
			}(),
			templates: 1,
		},
		{
			// dump ─▶ upload, both mounting the run's claim "interim-volume"
			name: "volume-claims",
			graph: func() *pipeline.Graph {
				dump := fn("dump", "pg-dump", "--dir=/interim")
				upload := fn("upload", "volume-backup", "--paths=/interim")
				upload.Dependencies = []pipeline.Dependency{{Step: "dump", When: pipeline.OnSuccess}}
				for _, s := range []*pipeline.Step{&dump, &upload} {
					s.Process.VolumeMounts = []corev1.VolumeMount{{Name: "interim-volume", MountPath: "/interim"}}
				}
				g := graph("volume-claims", dump, upload)
				g.VolumeClaims = []pipeline.VolumeClaim{{
					Name:        "interim-volume",
					Labels:      map[string]string{"app": "db"},
					Annotations: map[string]string{"example.com/note": "dump"},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
					},
				}}
				return g
			}(),
			templates: 2,
			check: func(t *testing.T, wf *wfv1.Workflow) {
				if gc := wf.Spec.VolumeClaimGC; gc == nil || gc.Strategy != wfv1.VolumeClaimGCOnCompletion {
					t.Errorf("volumeClaimGC = %+v, want OnWorkflowCompletion", gc)
				}
				if n := len(wf.Spec.VolumeClaimTemplates); n != 1 || wf.Spec.VolumeClaimTemplates[0].Name != "interim-volume" {
					t.Errorf("volumeClaimTemplates = %+v, want one named interim-volume", wf.Spec.VolumeClaimTemplates)
				}
			},
		},
	}
}

func TestRender(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			wf, err := Render(tc.graph, tc.opts)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := len(wf.Spec.Templates) - 1; got != tc.templates {
				t.Errorf("container templates = %d, want %d", got, tc.templates)
			}
			if got := len(wf.Spec.Templates[0].DAG.Tasks); got != len(tc.graph.Steps) {
				t.Errorf("dag tasks = %d, want one per step (%d)", got, len(tc.graph.Steps))
			}
			if tc.check != nil {
				tc.check(t, wf)
			}
			got, err := yaml.Marshal(wf)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join("testdata", tc.name+".yaml"), got)
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, tc := range renderCases() {
		first, err := Render(tc.graph, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for range 5 {
			again, _ := Render(tc.graph, tc.opts)
			if diff := cmp.Diff(first, again); diff != "" {
				t.Fatalf("%s: second render differs (-first +again):\n%s", tc.name, diff)
			}
		}
	}
}

func TestRenderRejects(t *testing.T) {
	cases := []struct {
		name    string
		graph   *pipeline.Graph
		opts    Options
		wantErr string
	}{
		{
			name:    "invalid graph",
			graph:   graph("bad", deps(fn("a", "x"), after("missing"))),
			wantErr: `depends on unknown step "missing"`,
		},
		{
			name:    "argo template tag in args",
			graph:   graph("tag", fn("a", "x", "--msg={{workflow.name}}")),
			wantErr: "which Argo would read as a template tag",
		},
		{
			name: "no image",
			graph: func() *pipeline.Graph {
				s := fn("a", "x")
				s.Process.Image = ""
				return graph("noimage", s)
			}(),
			wantErr: "Options.DefaultImage is not set",
		},
		{
			name: "mount hides outputs",
			graph: func() *pipeline.Graph {
				s := fn("a", "x")
				s.Process.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/tmp"}}
				g := graph("hide", s)
				g.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
				return g
			}(),
			wantErr: "would hide the outputs directory",
		},
		{
			name: "unknown volume",
			graph: func() *pipeline.Graph {
				s := fn("a", "x")
				s.Process.VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/data"}}
				return graph("novol", s)
			}(),
			wantErr: `volume mount "nope": no such volume`,
		},
		{
			name:    "expr keyword as step name",
			graph:   graph("kw", fn("not", "x"), deps(fn("b", "x"), after("not"))),
			wantErr: "keyword of Argo's depends expressions",
		},
		{
			name: "invalid label value",
			graph: func() *pipeline.Graph {
				s := fn("a", "x")
				s.Labels[labelTarget] = "not a label value"
				return graph("label", s)
			}(),
			wantErr: "stashflow.dev/target",
		},
		{
			name:    "no name",
			graph:   graph("", fn("a", "x")),
			wantErr: "no name",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.graph, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Render error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestRenderStepLimit: MaxSteps is Argo's limit, so the renderer checks it,
// with an error that says so; pipeline.Validate accepts larger graphs.
func TestRenderStepLimit(t *testing.T) {
	chain := func(n int) *pipeline.Graph {
		g := graph("big")
		for i := range n {
			s := fn(fmt.Sprintf("s-%d", i), "x")
			if i > 0 {
				s.Dependencies = []pipeline.Dependency{after(fmt.Sprintf("s-%d", i-1))}
			}
			g.Steps = append(g.Steps, s)
		}
		return g
	}
	cases := []struct {
		name  string
		steps int
		// wantErr is the exact error; "" means Render accepts the graph.
		wantErr string
	}{
		{name: "MaxSteps steps", steps: MaxSteps},
		{
			name:    "one step more than MaxSteps",
			steps:   MaxSteps + 1,
			wantErr: `argo: graph "big": graph has 201 steps, more than the 200 one Argo DAG template accepts`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := chain(tc.steps)
			if err := g.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil: the limit is Argo's", err)
			}
			wf, err := Render(g, Options{})
			if diff := cmp.Diff(tc.wantErr, errText(err)); diff != "" {
				t.Fatalf("Render error mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if got := len(wf.Spec.Templates[0].DAG.Tasks); got != tc.steps {
				t.Errorf("rendered %d tasks, want %d", got, tc.steps)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Errorf("rendered workflow fails Argo's validation: %v", err)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRenderDefaults(t *testing.T) {
	s := fn("a", "x")
	s.Process.Image = ""
	s.Process.Env = []pipeline.EnvVar{{Name: outputs.DirEnv, Value: "/elsewhere"}}
	g := graph("Nightly Backup of etcd/prod at 2024-01-01T00:00:00Z", s)
	g.Labels["stashflow.dev/session"] = "nightly"
	wf, err := Render(g, Options{DefaultImage: image, TTLAfterCompletion: -1, Labels: map[string]string{"team": "db", "stashflow.dev/session": "overridden"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := argolint.Validate(wf); err != nil {
		t.Fatal(err)
	}
	c := wf.Spec.Templates[1].Container
	want := map[string]any{
		"name":          WorkflowName(g.Name),
		"image":         image,
		"env":           []corev1.EnvVar{{Name: outputs.DirEnv, Value: outputs.Dir}},
		"ttl":           (*wfv1.TTLStrategy)(nil),
		"session label": "nightly",
		"team label":    "db",
	}
	got := map[string]any{
		"name":          wf.Name,
		"image":         c.Image,
		"env":           c.Env,
		"ttl":           wf.Spec.TTLStrategy,
		"session label": wf.Labels["stashflow.dev/session"],
		"team label":    wf.Labels["team"],
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestWorkflowName(t *testing.T) {
	long := strings.Repeat("etcd-nightly-", 10)
	cases := []struct{ in, want string }{
		{"etcd-nightly-1700000000", "etcd-nightly-1700000000"},
		{"Etcd.Nightly", "etcd-nightly-" + sha("Etcd.Nightly")},
		{long, strings.TrimSuffix(long[:52], "-") + "-" + sha(long)},
		{"...", "stashflow-" + sha("...")},
	}
	for _, tc := range cases {
		got := WorkflowName(tc.in)
		if got != tc.want {
			t.Errorf("WorkflowName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > 63 || strings.HasSuffix(got, "-") {
			t.Errorf("WorkflowName(%q) = %q: not a DNS label", tc.in, got)
		}
	}
	if WorkflowName("a.b") == WorkflowName("a_b") {
		t.Errorf("different graph names gave the same workflow name")
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:10]
}

// compareGolden compares got with the golden file, or rewrites it with -update.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline/argo -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); run go test ./pipeline/argo -update if intended:\n%s", path, diff)
	}
}

// TestRenderMemoryLimitEnv: a step with a memory limit learns it through
// the Downward API (the Function runtime splits it); one without gets no
// variable (the Downward API would give the node's memory); a value the
// step sets itself is kept.
func TestRenderMemoryLimitEnv(t *testing.T) {
	fromLimit := corev1.EnvVar{Name: outputs.MemoryLimitEnv, ValueFrom: &corev1.EnvVarSource{
		ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1")},
	}}
	limit := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	cases := []struct {
		name      string
		resources corev1.ResourceRequirements
		env       []pipeline.EnvVar
		want      []corev1.EnvVar
	}{
		{name: "no resources", want: nil},
		{name: "a request only", resources: corev1.ResourceRequirements{Requests: limit}, want: nil},
		{name: "a CPU limit only", resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}, want: nil},
		{name: "a memory limit", resources: corev1.ResourceRequirements{Limits: limit}, want: []corev1.EnvVar{fromLimit}},
		{
			name: "a memory limit and the step's own value", resources: corev1.ResourceRequirements{Limits: limit},
			env:  []pipeline.EnvVar{{Name: outputs.MemoryLimitEnv, Value: "100Mi"}},
			want: []corev1.EnvVar{{Name: outputs.MemoryLimitEnv, Value: "100Mi"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fn("a", "x")
			s.Process.Resources, s.Process.Env = tc.resources, tc.env
			wf, err := Render(graph("mem", s), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatal(err)
			}
			var got []corev1.EnvVar
			for _, e := range wf.Spec.Templates[1].Container.Env {
				if e.Name == outputs.MemoryLimitEnv {
					got = append(got, e)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("env %s (-want +got):\n%s", outputs.MemoryLimitEnv, diff)
			}
		})
	}
}

// TestRenderTTL: Options.TTLAfterCompletion keeps every finished Workflow
// (DefaultTTL when zero, for ever when negative); Graph.SucceededTTL keeps
// one that succeeded a shorter time (secondsAfterSuccess, which Argo's
// garbage collector reads before secondsAfterCompletion) and never a longer
// one than one that failed.
func TestRenderTTL(t *testing.T) {
	type ttl struct{ Completion, Success *int32 }
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name       string
		completion time.Duration
		succeeded  time.Duration
		want       *ttl
	}{
		{"defaults", 0, 0, &ttl{Completion: i32(86400)}},
		{"succeeded runs kept shorter", 0, 10 * time.Minute, &ttl{Completion: i32(86400), Success: i32(600)}},
		{"operator's TTL with a shorter one for succeeded runs", 2 * time.Hour, 90 * time.Second, &ttl{Completion: i32(7200), Success: i32(90)}},
		{"succeeded TTL longer than the operator's is not kept", 5 * time.Minute, 10 * time.Minute, &ttl{Completion: i32(300)}},
		{"kept for ever but succeeded runs", -1, 10 * time.Minute, &ttl{Success: i32(600)}},
		{"kept for ever", -1, 0, nil},
		{"rounded up to a second", 0, 1500 * time.Millisecond, &ttl{Completion: i32(86400), Success: i32(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := graph("ttl", fn("a", "repository-init"))
			g.SucceededTTL = tt.succeeded
			wf, err := Render(g, Options{TTLAfterCompletion: tt.completion})
			if err != nil {
				t.Fatal(err)
			}
			if err := argolint.Validate(wf); err != nil {
				t.Fatal(err)
			}
			var got *ttl
			if s := wf.Spec.TTLStrategy; s != nil {
				if s.SecondsAfterFailure != nil {
					t.Errorf("secondsAfterFailure = %d, want unset (failed runs keep the completion TTL)", *s.SecondsAfterFailure)
				}
				got = &ttl{Completion: s.SecondsAfterCompletion, Success: s.SecondsAfterSuccess}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ttlStrategy (-want +got):\n%s", diff)
			}
		})
	}
}

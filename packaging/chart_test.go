/*
Copyright 2025 The stashflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestChartFilesInSync checks that the chart's generated copies are current: crds/ holds
// exactly config/crd/bases, files/operator-role.yaml is config/rbac/role.yaml. With
// -update it copies them first.
func TestChartFilesInSync(t *testing.T) {
	srcCRDs, err := filepath.Glob(repoPath("config", "crd", "bases", "*.yaml"))
	if err != nil || len(srcCRDs) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v): run `make manifests`", err)
	}
	chartCRDs := repoPath(chartDir, "crds")
	copies := map[string]string{repoPath("config", "rbac", "role.yaml"): repoPath(chartDir, "files", "operator-role.yaml")}
	for _, src := range srcCRDs {
		copies[src] = filepath.Join(chartCRDs, filepath.Base(src))
	}

	if *update {
		stale, _ := filepath.Glob(filepath.Join(chartCRDs, "*.yaml"))
		for _, f := range stale {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		for src, dst := range copies {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	for src, dst := range copies {
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Errorf("%s is missing: run `make helm-chart`", rel(dst))
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s: run `make helm-chart`", rel(dst), rel(src))
		}
	}
	inChart, _ := filepath.Glob(filepath.Join(chartCRDs, "*"))
	for _, f := range inChart {
		if _, err := os.Stat(repoPath("config", "crd", "bases", filepath.Base(f))); err != nil {
			t.Errorf("%s is not in config/crd/bases: run `make helm-chart`", rel(f))
		}
	}
}

func rel(p string) string {
	r, err := filepath.Rel(env.RepoRoot, p)
	if err != nil {
		return p
	}
	return r
}

// defaultNames are the objects (CRDs aside) of the chart with release "stashflow" in
// namespace stashflow-system, and of config/default (less its Namespace).
var defaultNames = []key{
	{"ClusterRole", "", "stashflow-operator"},
	{"ClusterRoleBinding", "", "stashflow-operator"},
	{"Deployment", "stashflow-system", "stashflow-operator"},
	{"Service", "stashflow-system", "stashflow-operator-metrics"},
	{"ServiceAccount", "stashflow-system", "stashflow-operator"},
}

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestChartRenders(t *testing.T) {
	roleRules := rulesOf(t, mustReadObjects(t, repoPath("config", "rbac", "role.yaml"))[0])
	crdNames := crdNamesIn(t, repoPath("config", "crd", "bases"))

	tests := []struct {
		name      string
		release   string
		namespace string
		operator  string // the name of the operator's objects
		values    string
		check     func(t *testing.T, objs []*unstructured.Unstructured)
	}{{
		name:      "default values",
		release:   "stashflow",
		namespace: "stashflow-system",
		operator:  "stashflow-operator",
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if diff := cmp.Diff(defaultNames, keys(withoutCRDs(objs))); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			d := find(t, objs, "Deployment", "stashflow-operator")
			wantArgs := []string{
				"operator",
				"--engine=local",
				"--image=ghcr.io/stashflow/stashflow:v0.1.0",
				"--leader-elect=true",
				"--metrics-bind-address=:8080",
				"--health-probe-bind-address=:8081",
				"--work-dir=/var/lib/stashflow",
				"--max-concurrent-reconciles=4",
				"--kube-api-qps=50",
				"--kube-api-burst=100",
				"--zap-log-level=info",
			}
			if diff := cmp.Diff(wantArgs, args(t, d)); diff != "" {
				t.Errorf("operator args (-want +got):\n%s", diff)
			}
			checkHardened(t, d)
		},
	}, {
		name:      "argo engine, one namespace, pinned digest, ServiceMonitor, workflow RBAC",
		release:   "backup",
		namespace: "ops",
		operator:  "backup-stashflow-operator",
		values: `
engine: argo
image:
  repository: registry.example.com/stashflow
  tag: v0.2.0
  digest: ` + testDigest + `
  pullPolicy: Always
imagePullSecrets: [{name: regcred}]
replicas: 2
watchNamespaces: [team-a]
argo:
  uiBaseURL: https://argo.example.com
  workflowRBAC:
    create: true
    namespaces: [team-a, team-b]
operator:
  maxConcurrentReconciles: 8
  kubeAPIQPS: 12.5
  kubeAPIBurst: 25
  logLevel: debug
  extraArgs: [--local-parallelism=2]
  extraEnv: [{name: GOGC, value: "200"}]
metrics:
  serviceMonitor:
    enabled: true
    interval: 15s
    labels: {release: prometheus}
resources:
  requests: {cpu: 200m, memory: 128Mi}
  limits: {cpu: 1, memory: 512Mi}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: backup, effect: NoSchedule}]
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector: {matchLabels: {app.kubernetes.io/name: stashflow}}
podAnnotations: {example.com/team: storage}
priorityClassName: system-cluster-critical
extraVolumes: [{name: data, hostPath: {path: /var/lib/data}}]
extraVolumeMounts: [{name: data, mountPath: /data, readOnly: true}]
`,
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			// The operator's objects are the default ones, prefixed with the release name.
			var want []key
			for _, k := range defaultNames {
				if k.Namespace != "" {
					k.Namespace = "ops"
				}
				k.Name = "backup-" + k.Name
				want = append(want, k)
			}
			want = append(want, key{"ServiceMonitor", "ops", "backup-stashflow-operator"})
			for _, ns := range []string{"team-a", "team-b"} {
				for _, kind := range []string{"Role", "RoleBinding", "ServiceAccount"} {
					want = append(want, key{kind, ns, "stashflow-workflow"})
				}
			}
			slices.SortFunc(want, func(a, b key) int { return strings.Compare(a.String(), b.String()) })
			if diff := cmp.Diff(want, keys(withoutCRDs(objs))); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}

			d := find(t, objs, "Deployment", "backup-stashflow-operator")
			image := "registry.example.com/stashflow@" + testDigest
			if got := operatorContainer(t, d)["image"]; got != image {
				t.Errorf("image = %v, want %s", got, image)
			}
			got := args(t, d)
			for _, a := range []string{
				"--engine=argo",
				"--image=" + image,
				"--namespace=team-a",
				"--argo-ui-base-url=https://argo.example.com",
				"--max-concurrent-reconciles=8",
				"--kube-api-qps=12.5",
				"--kube-api-burst=25",
				"--zap-log-level=debug",
				"--local-parallelism=2",
			} {
				if !slices.Contains(got, a) {
					t.Errorf("operator args %q lack %s", got, a)
				}
			}
			if r := nested[int64](t, d, "spec", "replicas"); r != 2 {
				t.Errorf("replicas = %d, want 2", r)
			}
			if ns := nested[map[string]any](t, d, "spec", "template", "spec", "nodeSelector"); ns["kubernetes.io/os"] != "linux" {
				t.Errorf("nodeSelector = %v", ns)
			}
			checkHardened(t, d)

			sm := find(t, objs, "ServiceMonitor", "backup-stashflow-operator")
			if got := nested[map[string]any](t, sm, "spec", "selector", "matchLabels"); got["app.kubernetes.io/instance"] != "backup" {
				t.Errorf("ServiceMonitor selector = %v", got)
			}
			crb := find(t, objs, "ClusterRoleBinding", "backup-stashflow-operator")
			subject := nested[[]any](t, crb, "subjects")[0].(map[string]any)
			if subject["name"] != "backup-stashflow-operator" || subject["namespace"] != "ops" {
				t.Errorf("ClusterRoleBinding subject = %v", subject)
			}
		},
	}, {
		name:      "local engine with exec hooks, exposed UI with token and TLS, own ServiceAccount name",
		release:   "bk",
		namespace: "backup-system",
		operator:  "bk-stashflow-operator",
		values: `
localEngine:
  execHooks: true
serviceAccount:
  name: backup-operator
ui:
  expose: true
  port: 9443
  tokenSecret: stashflow-ui-token
  tlsSecret: stashflow-ui-tls
`,
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			want := []key{
				{"ClusterRole", "", "bk-stashflow-operator"},
				{"ClusterRole", "", "bk-stashflow-operator-exec-hooks"},
				{"ClusterRoleBinding", "", "bk-stashflow-operator"},
				{"ClusterRoleBinding", "", "bk-stashflow-operator-exec-hooks"},
				{"Deployment", "backup-system", "bk-stashflow-operator"},
				{"Service", "backup-system", "bk-stashflow-operator-metrics"},
				{"Service", "backup-system", "bk-stashflow-operator-ui"},
				{"ServiceAccount", "backup-system", "backup-operator"},
			}
			if diff := cmp.Diff(want, keys(withoutCRDs(objs))); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}

			// Exec hooks: exactly the rules argo.workflowRBAC.execHooks grants the Argo
			// steps (the Role's rules less Argo's workflowtaskresults and the workload
			// restore steps' rules), bound to the operator's ServiceAccount.
			argo, err := helmTemplate(t, "bk", "backup-system", "engine: argo\nargo: {workflowRBAC: {create: true}}")
			if err != nil {
				t.Fatal(err)
			}
			hookRules := execHookRules(t, find(t, argo, "Role", "stashflow-workflow"))
			if diff := cmp.Diff(hookRules, rulesOf(t, find(t, objs, "ClusterRole", "bk-stashflow-operator-exec-hooks"))); diff != "" {
				t.Errorf("exec-hooks ClusterRole rules (-workflow Role's exec-hook rules +got):\n%s", diff)
			}
			if !slices.ContainsFunc(hookRules, func(r any) bool {
				return cmp.Equal(r, map[string]any{"apiGroups": []any{""}, "resources": []any{"pods/exec"}, "verbs": []any{"create"}})
			}) {
				t.Errorf("exec hook rules %v lack create on pods/exec", hookRules)
			}
			crb := find(t, objs, "ClusterRoleBinding", "bk-stashflow-operator-exec-hooks")
			wantSubjects := []any{map[string]any{"kind": "ServiceAccount", "name": "backup-operator", "namespace": "backup-system"}}
			if diff := cmp.Diff(wantSubjects, nested[[]any](t, crb, "subjects")); diff != "" {
				t.Errorf("exec-hooks ClusterRoleBinding subjects (-want +got):\n%s", diff)
			}
			if ref := nested[map[string]any](t, crb, "roleRef"); ref["kind"] != "ClusterRole" || ref["name"] != "bk-stashflow-operator-exec-hooks" {
				t.Errorf("exec-hooks ClusterRoleBinding roleRef = %v", ref)
			}

			// The UI: all interfaces, token and TLS from the Secrets, mounted read-only.
			d := find(t, objs, "Deployment", "bk-stashflow-operator")
			if sa := nested[string](t, d, "spec", "template", "spec", "serviceAccountName"); sa != "backup-operator" {
				t.Errorf("serviceAccountName = %s", sa)
			}
			got := args(t, d)
			for _, a := range []string{
				"--ui-bind-address=0.0.0.0:9443",
				"--ui-token-file=/etc/stashflow/ui-token/token",
				"--ui-tls-cert=/etc/stashflow/ui-tls/tls.crt",
				"--ui-tls-key=/etc/stashflow/ui-tls/tls.key",
			} {
				if !slices.Contains(got, a) {
					t.Errorf("operator args %q lack %s", got, a)
				}
			}
			c := operatorContainer(t, d)
			if !slices.ContainsFunc(c["ports"].([]any), func(p any) bool {
				return cmp.Equal(p, map[string]any{"name": "ui", "containerPort": int64(9443), "protocol": "TCP"})
			}) {
				t.Errorf("container ports %v lack ui 9443", c["ports"])
			}
			mounts := map[string]map[string]any{}
			for _, m := range c["volumeMounts"].([]any) {
				m := m.(map[string]any)
				mounts[m["name"].(string)] = m
			}
			secrets := map[string]string{}
			for _, v := range nested[[]any](t, d, "spec", "template", "spec", "volumes") {
				v := v.(map[string]any)
				if sec, ok := v["secret"].(map[string]any); ok {
					secrets[v["name"].(string)] = sec["secretName"].(string)
				}
			}
			for vol, want := range map[string]struct{ secret, path string }{
				"ui-token": {"stashflow-ui-token", "/etc/stashflow/ui-token"},
				"ui-tls":   {"stashflow-ui-tls", "/etc/stashflow/ui-tls"},
			} {
				if secrets[vol] != want.secret {
					t.Errorf("volume %s is Secret %q, want %s", vol, secrets[vol], want.secret)
				}
				if m := mounts[vol]; m == nil || m["mountPath"] != want.path || m["readOnly"] != true {
					t.Errorf("mount of %s = %v, want %s read-only", vol, m, want.path)
				}
			}
			checkHardened(t, d)
			svc := find(t, objs, "Service", "bk-stashflow-operator-ui")
			wantPorts := []any{map[string]any{"name": "ui", "port": int64(9443), "targetPort": "ui", "protocol": "TCP"}}
			if diff := cmp.Diff(wantPorts, nested[[]any](t, svc, "spec", "ports")); diff != "" {
				t.Errorf("UI Service ports (-want +got):\n%s", diff)
			}
			if sel := nested[map[string]any](t, svc, "spec", "selector"); sel["app.kubernetes.io/component"] != "operator" || sel["app.kubernetes.io/instance"] != "bk" {
				t.Errorf("UI Service selector = %v", sel)
			}
		},
	}, {
		name:      "UI turned off",
		release:   "stashflow",
		namespace: "stashflow-system",
		operator:  "stashflow-operator",
		values:    "ui: {enabled: false}",
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if diff := cmp.Diff(defaultNames, keys(withoutCRDs(objs))); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			var ui []string
			for _, a := range args(t, find(t, objs, "Deployment", "stashflow-operator")) {
				if strings.HasPrefix(a, "--ui-") {
					ui = append(ui, a)
				}
			}
			if diff := cmp.Diff([]string{"--ui-bind-address="}, ui); diff != "" {
				t.Errorf("UI args (-want +got):\n%s", diff)
			}
		},
	}, {
		name:      "UI on another loopback port, with a token",
		release:   "stashflow",
		namespace: "stashflow-system",
		operator:  "stashflow-operator",
		values:    "ui: {port: 9090, tokenSecret: ui-token}",
		check: func(t *testing.T, objs []*unstructured.Unstructured) {
			if diff := cmp.Diff(defaultNames, keys(withoutCRDs(objs))); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			d := find(t, objs, "Deployment", "stashflow-operator")
			var ui []string
			for _, a := range args(t, d) {
				if strings.HasPrefix(a, "--ui-") {
					ui = append(ui, a)
				}
			}
			if diff := cmp.Diff([]string{"--ui-bind-address=127.0.0.1:9090", "--ui-token-file=/etc/stashflow/ui-token/token"}, ui); diff != "" {
				t.Errorf("UI args (-want +got):\n%s", diff)
			}
			for _, p := range operatorContainer(t, d)["ports"].([]any) {
				if p.(map[string]any)["name"] == "ui" {
					t.Errorf("a loopback UI has a container port: %v", p)
				}
			}
		},
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := helmTemplate(t, tt.release, tt.namespace, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(crdNames, namesOf(crdsOf(objs))); diff != "" {
				t.Errorf("CRDs (-config/crd/bases +chart):\n%s", diff)
			}
			cr := find(t, objs, "ClusterRole", tt.operator)
			if diff := cmp.Diff(roleRules, rulesOf(t, cr)); diff != "" {
				t.Errorf("ClusterRole rules differ from config/rbac/role.yaml (-want +got):\n%s", diff)
			}
			tt.check(t, objs)
			// The stand-in ServiceMonitor CRD goes first, for the charts that make one.
			applyToAPIServer(t, append(mustReadObjects(t, filepath.Join("testdata", "servicemonitor-crd.yaml")), objs...))
		})
	}
}

// TestDryRunRejects shows the apiserver judges what the schema lets through: a memory
// limit that is a string but no quantity passes values.schema.json and `helm template`,
// and the server-side dry run refuses the Deployment.
func TestDryRunRejects(t *testing.T) {
	objs, err := helmTemplate(t, "stashflow", "dry-run", "resources: {limits: {memory: plenty}}")
	if err != nil {
		t.Fatal(err)
	}
	errs := sendToAPIServer(t, withoutCRDs(objs))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "Deployment dry-run/stashflow-operator") ||
		!strings.Contains(errs[0].Error(), "quantities must match the regular expression") {
		t.Errorf("dry run errors = %v, want one for the Deployment's memory limit", errs)
	}
}

// checkHardened checks the operator's pod runs as a non-root user on a read-only root
// filesystem with nothing to escalate, and probes /healthz and /readyz.
func checkHardened(t *testing.T, d *unstructured.Unstructured) {
	t.Helper()
	pod := nested[map[string]any](t, d, "spec", "template", "spec")
	psc := pod["securityContext"].(map[string]any)
	if psc["runAsNonRoot"] != true || psc["runAsUser"] != int64(65532) {
		t.Errorf("pod securityContext = %v, want runAsNonRoot and user 65532", psc)
	}
	if sp := psc["seccompProfile"].(map[string]any); sp["type"] != "RuntimeDefault" {
		t.Errorf("seccompProfile = %v", sp)
	}
	c := operatorContainer(t, d)
	want := map[string]any{
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem":   true,
		"capabilities":             map[string]any{"drop": []any{"ALL"}},
	}
	if diff := cmp.Diff(want, c["securityContext"]); diff != "" {
		t.Errorf("container securityContext (-want +got):\n%s", diff)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		hg := c[probe].(map[string]any)["httpGet"].(map[string]any)
		if hg["path"] != path || hg["port"] != "health" {
			t.Errorf("%s = %v, want %s on port health", probe, hg, path)
		}
	}
	emptyDirs := map[string]bool{}
	for _, v := range pod["volumes"].([]any) {
		v := v.(map[string]any)
		if _, ok := v["emptyDir"]; ok {
			emptyDirs[v["name"].(string)] = true
		}
	}
	mounts := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		m := m.(map[string]any)
		mounts[m["mountPath"].(string)] = m["name"].(string)
	}
	for _, path := range []string{"/tmp", "/var/lib/stashflow"} {
		if !emptyDirs[mounts[path]] {
			t.Errorf("%s is not an emptyDir mount (mounts %v, emptyDirs %v)", path, mounts, emptyDirs)
		}
	}
}

func TestChartLints(t *testing.T) {
	for _, values := range [][]string{
		nil,
		{"--set", "engine=argo,argo.workflowRBAC.create=true,metrics.serviceMonitor.enabled=true"},
		{"--set", "localEngine.execHooks=true,ui.expose=true,ui.tokenSecret=stashflow-ui,ui.tlsSecret=stashflow-ui-tls"},
	} {
		if _, err := run(t, tool(t, "helm"), append([]string{"lint", "--strict", chartDir}, values...)...); err != nil {
			t.Error(err)
		}
	}
}

func TestChartRejectsBadValues(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   []string
	}{
		{"unknown engine", `engine: tekton`, []string{"at '/engine': value must be one of 'argo', 'local'"}},
		{"no replicas", `replicas: 0`, []string{"at '/replicas': minimum: got 0, want 1"}},
		{"replicas not a number", `replicas: two`, []string{"at '/replicas': got string, want integer"}},
		{"empty image tag", `image: {tag: ""}`, []string{"at '/image/tag': minLength: got 0, want 1"}},
		{"image tag a number", `image: {tag: 1.2}`, []string{"at '/image/tag': got number, want string"}},
		{"bad pull policy", `image: {pullPolicy: Sometimes}`, []string{"at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"}},
		{"bad digest", `image: {digest: "md5:abc"}`, []string{"at '/image/digest'", "does not match pattern"}},
		{"misspelt key", `replica: 2`, []string{"additional properties 'replica' not allowed"}},
		{"two watch namespaces", `watchNamespaces: [a, b]`, []string{"at '/watchNamespaces': maxItems: got 2, want 1"}},
		{"bad namespace name", `watchNamespaces: [Team_A]`, []string{"at '/watchNamespaces/0': 'Team_A' does not match pattern"}},
		{"UI URL without scheme", `argo: {uiBaseURL: argo.example.com}`, []string{"at '/argo/uiBaseURL'"}},
		{"extra arg without dashes", `operator: {extraArgs: [leader-elect]}`, []string{"at '/operator/extraArgs/0'"}},
		{"bad log level", `operator: {logLevel: verbose}`, []string{"at '/operator/logLevel'"}},
		{"bad ServiceMonitor interval", `metrics: {serviceMonitor: {enabled: true, interval: soon}}`, []string{"at '/metrics/serviceMonitor/interval'"}},
		{"port out of range", `metrics: {port: 70000}`, []string{"at '/metrics/port': maximum: got 70,000, want 65,535"}},
		{"replicas without leader election", "replicas: 3\nleaderElection: {enabled: false}", []string{"replicas > 1 needs leaderElection.enabled=true"}},
		{"workflow RBAC on the local engine", `argo: {workflowRBAC: {create: true}}`, []string{"argo.workflowRBAC.create=true is for engine=argo"}},
		{"local exec hooks on the argo engine", "engine: argo\nlocalEngine: {execHooks: true}", []string{"localEngine.execHooks=true is for engine=local"}},
		{"exec hooks not a boolean", `localEngine: {execHooks: "yes"}`, []string{"at '/localEngine/execHooks': got string, want boolean"}},
		{"exposed UI without a token", `ui: {expose: true}`, []string{"ui.expose=true needs ui.tokenSecret"}},
		{"exposed UI turned off", `ui: {enabled: false, expose: true, tokenSecret: t}`, []string{"ui.expose=true needs ui.enabled=true"}},
		{"UI on the metrics port", `ui: {port: 8080}`, []string{"ui.port must differ from metrics.port and healthProbePort"}},
		{"bad UI token Secret name", `ui: {tokenSecret: UI_Token}`, []string{"at '/ui/tokenSecret'"}},
		{"misspelt UI key", `ui: {tlsSecrets: tls}`, []string{"additional properties 'tlsSecrets' not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := helmTemplate(t, "stashflow", "stashflow-system", tt.values)
			if err == nil {
				t.Fatalf("helm template accepted %q", tt.values)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("helm template error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestVersionsAgree checks the chart's appVersion, its default image tag and
// config/default's image tag are the same release.
func TestVersionsAgree(t *testing.T) {
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	var values struct {
		Image struct {
			Tag string `json:"tag"`
		} `json:"image"`
	}
	var kust struct {
		Images []struct {
			Name   string `json:"name"`
			NewTag string `json:"newTag"`
		} `json:"images"`
	}
	for path, into := range map[string]any{
		repoPath(chartDir, "Chart.yaml"):             &chart,
		repoPath(chartDir, "values.yaml"):            &values,
		repoPath(kustomizeDir, "kustomization.yaml"): &kust,
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", rel(path), err)
		}
	}
	if values.Image.Tag != chart.AppVersion {
		t.Errorf("values.yaml image.tag %q != Chart.yaml appVersion %q", values.Image.Tag, chart.AppVersion)
	}
	if len(kust.Images) != 1 || kust.Images[0].NewTag != chart.AppVersion {
		t.Errorf("config/default images %+v, want one with newTag %q", kust.Images, chart.AppVersion)
	}
}

func withoutCRDs(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	return slices.DeleteFunc(slices.Clone(objs), func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "CustomResourceDefinition" || o.GetKind() == "Namespace"
	})
}

func crdsOf(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	return slices.DeleteFunc(slices.Clone(objs), func(o *unstructured.Unstructured) bool {
		return o.GetKind() != "CustomResourceDefinition"
	})
}

func namesOf(objs []*unstructured.Unstructured) []string {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	slices.Sort(names)
	return names
}

func crdNamesIn(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		objs = append(objs, mustReadObjects(t, f)...)
	}
	return namesOf(objs)
}

func rulesOf(t *testing.T, role *unstructured.Unstructured) []any {
	t.Helper()
	return nested[[]any](t, role, "rules")
}

// workflowStepRules are the first rules of argo.workflowRBAC's Role, granted
// with or without exec hooks: Argo's executor's, then those of a workload
// restore's workload-quiesce and workload-resume steps.
var workflowStepRules = []any{
	map[string]any{"apiGroups": []any{"argoproj.io"}, "resources": []any{"workflowtaskresults"}, "verbs": []any{"create", "patch"}},
	map[string]any{"apiGroups": []any{"apps"}, "resources": []any{"deployments", "statefulsets", "replicasets"}, "verbs": []any{"get", "patch"}},
	map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"list"}},
	map[string]any{"apiGroups": []any{""}, "resources": []any{"persistentvolumeclaims"}, "verbs": []any{"get", "create"}},
}

// execHookRules are the exec-hook rules of argo.workflowRBAC's Role (or of
// its sample): those after workflowStepRules, which it checks come first.
func execHookRules(t *testing.T, role *unstructured.Unstructured) []any {
	t.Helper()
	rules := rulesOf(t, role)
	n := min(len(workflowStepRules), len(rules))
	if diff := cmp.Diff(workflowStepRules, rules[:n]); diff != "" {
		t.Errorf("%s %s: first rules (-Argo's and the workload steps' +got):\n%s", role.GetKind(), role.GetName(), diff)
	}
	return rules[n:]
}

package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/controllers/metrics"
)

// monitoringValues turn on the chart's alerts and dashboard with the
// thresholds testdata/alerts-test.yaml expects.
const monitoringValues = `
metrics:
  prometheusRule:
    enabled: true
    labels: {release: prom}
    backupStaleAfterSeconds: 3600
    repositoryNotReadyFor: 10m
    severity: page
  grafanaDashboard:
    enabled: true
    namespace: monitoring
`

// TestMonitoringOffByDefault: the default values render neither the
// PrometheusRule nor the dashboard (their consumers may not be installed).
func TestMonitoringOffByDefault(t *testing.T) {
	objs, err := helmTemplate(t, "stashflow", "stashflow-system", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "PrometheusRule" || (o.GetKind() == "ConfigMap" && o.GetLabels()["grafana_dashboard"] != "") {
			t.Errorf("default values render %s %s", o.GetKind(), o.GetName())
		}
	}
}

// TestAlerts: the chart's PrometheusRule is parsed by Prometheus's own rule
// parser (promtool check rules), every alert fires on the series it is
// about and stays quiet on healthy ones (promtool test rules,
// testdata/alerts-test.yaml), and every metric it reads is one the
// operator exports.
func TestAlerts(t *testing.T) {
	objs, err := helmTemplate(t, "stashflow", "stashflow-system", monitoringValues)
	if err != nil {
		t.Fatal(err)
	}
	rule := find(t, objs, "PrometheusRule", "stashflow-operator")
	if got := rule.GetLabels()["release"]; got != "prom" {
		t.Errorf("PrometheusRule label release = %q, want prom (metrics.prometheusRule.labels)", got)
	}
	groups := nested[[]any](t, rule, "spec", "groups")
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": groups})
	test, err := os.ReadFile(repoPath("packaging", "testdata", "alerts-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts-test.yaml"), test, 0o600); err != nil {
		t.Fatal(err)
	}
	// promtool reads the test's rule_files next to the test file.
	promtool := tool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", filepath.Join(dir, "rules.yaml")}, {"test", "rules", filepath.Join(dir, "alerts-test.yaml")}} {
		if out, err := run(t, promtool, args...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}

	var exprs []string
	var alerts []string
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			exprs = append(exprs, r["expr"].(string))
			alerts = append(alerts, r["alert"].(string))
		}
	}
	checkMetricNames(t, exprs)
	// Every alert has a case in the unit tests, so none is untested.
	for _, a := range alerts {
		if !strings.Contains(string(test), "alertname: "+a+"\n") {
			t.Errorf("alert %s has no case in testdata/alerts-test.yaml", a)
		}
	}
}

// TestDashboard: the chart's Grafana dashboard is valid JSON in a ConfigMap
// labelled for Grafana's sidecar, every panel query parses as PromQL
// (promtool check rules, with the dashboard variables filled in) and reads
// only metrics the operator exports.
func TestDashboard(t *testing.T) {
	objs, err := helmTemplate(t, "stashflow", "stashflow-system", monitoringValues)
	if err != nil {
		t.Fatal(err)
	}
	var cm *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "stashflow-operator-dashboard" {
			cm = o
		}
	}
	if cm == nil {
		t.Fatal("no ConfigMap stashflow-operator-dashboard")
	}
	if cm.GetNamespace() != "monitoring" || cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap in %q with labels %v, want namespace monitoring and grafana_dashboard=1", cm.GetNamespace(), cm.GetLabels())
	}
	data := nested[map[string]any](t, cm, "data")
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(data["stashflow.json"].(string)), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	variable := regexp.MustCompile(`\$\{?\w+\}?`)
	var rules []any
	var exprs []string
	for i, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for j, q := range p.Targets {
			expr := variable.ReplaceAllString(q.Expr, ".*")
			exprs = append(exprs, expr)
			rules = append(rules, map[string]any{"record": fmt.Sprintf("dashboard:panel%d_%d", i, j), "expr": expr})
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	dir := t.TempDir()
	writeYAML(t, filepath.Join(dir, "dashboard.yaml"), map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if out, err := run(t, tool(t, "promtool"), "check", "rules", filepath.Join(dir, "dashboard.yaml")); err != nil {
		t.Fatalf("a panel's query is not PromQL: %v\n%s", err, out)
	}
	checkMetricNames(t, exprs)
}

// checkMetricNames fails for a stashflow_ or stash_ metric the operator does
// not export (a renamed gauge would silently empty an alert or a panel).
func checkMetricNames(t *testing.T, exprs []string) {
	t.Helper()
	known := metrics.Names()
	name := regexp.MustCompile(`\bstash(flow)?_[a-z_]+\b`)
	var seen int
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			seen++
			if !slices.Contains(known, n) {
				t.Errorf("%q reads %s, which the operator does not export", e, n)
			}
		}
	}
	if seen == 0 {
		t.Error("no query reads a stashflow metric")
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

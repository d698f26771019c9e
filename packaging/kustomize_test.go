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
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestKustomize(t *testing.T) {
	objs := kustomizeBuild(t, kustomizeDir)

	find(t, objs, "Namespace", "stashflow-system")
	for _, o := range withoutCRDs(objs) {
		if o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" {
			continue
		}
		if o.GetNamespace() != "stashflow-system" {
			t.Errorf("%s %s is in namespace %q, want stashflow-system", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	if diff := cmp.Diff(crdNamesIn(t, repoPath("config", "crd", "bases")), namesOf(crdsOf(objs))); diff != "" {
		t.Errorf("CRDs (-config/crd/bases +kustomize):\n%s", diff)
	}
	d := find(t, objs, "Deployment", "stashflow-operator")
	image := operatorContainer(t, d)["image"].(string)
	if image != "ghcr.io/stashflow/stashflow:v0.1.0" {
		t.Errorf("image = %s", image)
	}
	// The replacement copies the container's image into --image.
	if got := args(t, d)[2]; got != "--image="+image {
		t.Errorf("args[2] = %s, want --image=%s", got, image)
	}
	checkHardened(t, d)
	applyToAPIServer(t, objs)
}

// TestChartMatchesKustomize checks the chart with its default values (release
// "stashflow") and config/default make the same objects, the same ClusterRole rules and
// the same operator pod.
func TestChartMatchesKustomize(t *testing.T) {
	chart, err := helmTemplate(t, "stashflow", "stashflow-system", "")
	if err != nil {
		t.Fatal(err)
	}
	kust := kustomizeBuild(t, kustomizeDir)

	if diff := cmp.Diff(keys(withoutCRDs(kust)), keys(withoutCRDs(chart))); diff != "" {
		t.Errorf("objects (-kustomize +chart):\n%s", diff)
	}
	if diff := cmp.Diff(defaultNames, keys(withoutCRDs(kust))); diff != "" {
		t.Errorf("kustomize objects (-want +got):\n%s", diff)
	}
	for _, k := range keys(crdsOf(chart)) {
		c, kk := find(t, chart, k.Kind, k.Name), find(t, kust, k.Kind, k.Name)
		if diff := cmp.Diff(kk.Object["spec"], c.Object["spec"]); diff != "" {
			t.Errorf("CRD %s (-kustomize +chart):\n%s", k.Name, diff)
		}
	}
	role := func(objs []*unstructured.Unstructured) []any {
		return rulesOf(t, find(t, objs, "ClusterRole", "stashflow-operator"))
	}
	if diff := cmp.Diff(role(kust), role(chart)); diff != "" {
		t.Errorf("ClusterRole rules (-kustomize +chart):\n%s", diff)
	}
	pod := func(objs []*unstructured.Unstructured) map[string]any {
		return nested[map[string]any](t, find(t, objs, "Deployment", "stashflow-operator"), "spec", "template", "spec")
	}
	if diff := cmp.Diff(pod(kust), pod(chart)); diff != "" {
		t.Errorf("operator pod spec (-kustomize +chart):\n%s", diff)
	}
	ports := func(objs []*unstructured.Unstructured) []any {
		return nested[[]any](t, find(t, objs, "Service", "stashflow-operator-metrics"), "spec", "ports")
	}
	if diff := cmp.Diff(ports(kust), ports(chart)); diff != "" {
		t.Errorf("metrics Service ports (-kustomize +chart):\n%s", diff)
	}
}

// TestWorkflowRBACSample checks config/samples/argo-workflow-rbac.yaml grants what the
// chart's argo.workflowRBAC grants, Argo's and the workload restore steps' rules first
// (all the chart grants with execHooks=false), and that the apiserver accepts it.
func TestWorkflowRBACSample(t *testing.T) {
	sample := mustReadObjects(t, repoPath("config", "samples", "argo-workflow-rbac.yaml"))
	chart, err := helmTemplate(t, "stashflow", "team-c", "engine: argo\nargo: {workflowRBAC: {create: true}}")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rulesOf(t, find(t, sample, "Role", "stashflow-workflow")), rulesOf(t, find(t, chart, "Role", "stashflow-workflow"))); diff != "" {
		t.Errorf("Role rules (-sample +chart):\n%s", diff)
	}
	execHookRules(t, find(t, sample, "Role", "stashflow-workflow"))
	noHooks, err := helmTemplate(t, "stashflow", "team-c", "engine: argo\nargo: {workflowRBAC: {create: true, execHooks: false}}")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(workflowStepRules, rulesOf(t, find(t, noHooks, "Role", "stashflow-workflow"))); diff != "" {
		t.Errorf("Role rules with execHooks=false (-Argo's and the workload steps' +chart):\n%s", diff)
	}
	for _, o := range sample {
		o.SetNamespace("team-c")
	}
	var got []*unstructured.Unstructured
	for _, o := range withoutCRDs(chart) {
		if o.GetName() == "stashflow-workflow" {
			got = append(got, o)
		}
	}
	if diff := cmp.Diff(keys(sample), keys(got)); diff != "" {
		t.Errorf("workflow RBAC objects (-sample +chart):\n%s", diff)
	}
	applyToAPIServer(t, sample)
}

// TestLocalExecHooksSample checks config/samples/local-exec-hooks-rbac.yaml makes the
// objects the chart's localEngine.execHooks makes (release "stashflow" in
// stashflow-system, like config/default): the same ClusterRole rules, bound to the same
// ServiceAccount; that its rules are the exec-hook rules argo.workflowRBAC grants the
// steps; and that the apiserver accepts it.
func TestLocalExecHooksSample(t *testing.T) {
	sample := mustReadObjects(t, repoPath("config", "samples", "local-exec-hooks-rbac.yaml"))
	chart, err := helmTemplate(t, "stashflow", "stashflow-system", "localEngine: {execHooks: true}")
	if err != nil {
		t.Fatal(err)
	}
	const name = "stashflow-operator-exec-hooks"
	var got []*unstructured.Unstructured
	for _, o := range withoutCRDs(chart) {
		if o.GetName() == name {
			got = append(got, o)
		}
	}
	if diff := cmp.Diff(keys(sample), keys(got)); diff != "" {
		t.Errorf("exec hook RBAC objects (-sample +chart):\n%s", diff)
	}
	if diff := cmp.Diff(rulesOf(t, find(t, sample, "ClusterRole", name)), rulesOf(t, find(t, chart, "ClusterRole", name))); diff != "" {
		t.Errorf("ClusterRole rules (-sample +chart):\n%s", diff)
	}
	for _, field := range []string{"subjects", "roleRef"} {
		if diff := cmp.Diff(nested[any](t, find(t, sample, "ClusterRoleBinding", name), field), nested[any](t, find(t, chart, "ClusterRoleBinding", name), field)); diff != "" {
			t.Errorf("ClusterRoleBinding %s (-sample +chart):\n%s", field, diff)
		}
	}
	// The subject is config/default's operator ServiceAccount.
	kust := kustomizeBuild(t, kustomizeDir)
	sa := find(t, kust, "ServiceAccount", "stashflow-operator")
	subject := nested[[]any](t, find(t, sample, "ClusterRoleBinding", name), "subjects")[0].(map[string]any)
	if subject["name"] != sa.GetName() || subject["namespace"] != sa.GetNamespace() {
		t.Errorf("sample binds %v, want config/default's ServiceAccount %s/%s", subject, sa.GetNamespace(), sa.GetName())
	}
	// The same rules as the Argo steps' exec-hook part (all but workflowtaskresults and
	// the workload restore steps' rules).
	argo := mustReadObjects(t, repoPath("config", "samples", "argo-workflow-rbac.yaml"))
	if diff := cmp.Diff(execHookRules(t, find(t, argo, "Role", "stashflow-workflow")), rulesOf(t, find(t, sample, "ClusterRole", name))); diff != "" {
		t.Errorf("exec hook rules (-argo-workflow-rbac.yaml +local-exec-hooks-rbac.yaml):\n%s", diff)
	}
	applyToAPIServer(t, sample)
}

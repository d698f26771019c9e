package translators_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

// TestHTTPHookFields: an HTTP hook's host, scheme, headers and form reach
// its step's `stashflow fn hook` flags (--url, --header, --form), at every
// place a hook is set: a BackupConfiguration's and a RestoreSession's
// spec.hooks, and a BackupBatch's and a RestoreBatch's spec.hooks (global)
// and spec.members[].hooks, before and after.
func TestHTTPHookFields(t *testing.T) {
	backupHooks := func(h **v1alpha1.BackupHooks, pre bool, hook v1alpha1.Hook) {
		if *h == nil {
			*h = &v1alpha1.BackupHooks{}
		}
		if pre {
			(*h).PreBackup = &hook
		} else {
			(*h).PostBackup = &v1alpha1.PostHook{Hook: hook}
		}
	}
	restoreHooks := func(h **v1alpha1.RestoreHooks, pre bool, hook v1alpha1.Hook) {
		if *h == nil {
			*h = &v1alpha1.RestoreHooks{}
		}
		if pre {
			(*h).PreRestore = &hook
		} else {
			(*h).PostRestore = &v1alpha1.PostHook{Hook: hook}
		}
	}
	type place struct {
		name   string
		file   string
		global bool // a batch's spec.hooks; else the hooks of target 0
		set    func(in *input, pre bool, hook v1alpha1.Hook)
	}
	places := []place{
		{"BackupConfiguration spec.hooks", "etcd-backup-http-hooks.yaml", false, func(in *input, pre bool, h v1alpha1.Hook) {
			backupHooks(&configOf(in).Spec.Hooks, pre, h)
		}},
		{"BackupBatch spec.hooks", "batch-parallel.yaml", true, func(in *input, pre bool, h v1alpha1.Hook) {
			backupHooks(&batchOf(in).Spec.Hooks, pre, h)
		}},
		{"BackupBatch spec.members[].hooks", "batch-parallel.yaml", false, func(in *input, pre bool, h v1alpha1.Hook) {
			backupHooks(&batchOf(in).Spec.Members[0].Hooks, pre, h)
		}},
		{"RestoreSession spec.hooks", "etcd-restore-rules.yaml", false, func(in *input, pre bool, h v1alpha1.Hook) {
			restoreHooks(&manifest.Of[*v1alpha1.RestoreSession](in.set)[0].Spec.Hooks, pre, h)
		}},
		{"RestoreBatch spec.hooks", "restore-batch-sequential.yaml", true, func(in *input, pre bool, h v1alpha1.Hook) {
			restoreHooks(&manifest.Of[*v1alpha1.RestoreBatch](in.set)[0].Spec.Hooks, pre, h)
		}},
		{"RestoreBatch spec.members[].hooks", "restore-batch-sequential.yaml", false, func(in *input, pre bool, h v1alpha1.Hook) {
			restoreHooks(&manifest.Of[*v1alpha1.RestoreBatch](in.set)[0].Spec.Members[0].Hooks, pre, h)
		}},
	}
	headers := []v1alpha1.HTTPHeader{{Name: "Authorization", Value: "Bearer t0ken"}, {Name: "X-Cluster", Value: "blue"}}
	handlers := []struct {
		name string
		hook v1alpha1.Hook
		want []string
	}{
		{
			name: "httpGet",
			hook: v1alpha1.Hook{HTTPGet: &v1alpha1.HTTPGetAction{
				Host: "probe.example.com", Scheme: v1alpha1.URISchemeHTTPS, Port: intstr.FromInt32(8443), Path: "/ready",
				HTTPHeaders: headers,
			}},
			want: []string{"--url=https://probe.example.com:8443/ready", "--header=Authorization: Bearer t0ken", "--header=X-Cluster: blue"},
		},
		{
			name: "httpPost",
			hook: v1alpha1.Hook{HTTPPost: &v1alpha1.HTTPPostAction{
				Host: "notify.example.com", Scheme: v1alpha1.URISchemeHTTPS, Port: intstr.FromInt32(443), Path: "/done",
				HTTPHeaders: headers[1:],
				Form:        []v1alpha1.FormEntry{{Key: "channel", Values: []string{"ops", "dba"}}, {Key: "level", Values: []string{"info"}}},
			}},
			want: []string{"--url=https://notify.example.com:443/done", "--header=X-Cluster: blue", "--form=channel=ops", "--form=channel=dba", "--form=level=info"},
		},
	}
	for _, p := range places {
		for _, pre := range []bool{true, false} {
			for _, h := range handlers {
				phase := map[bool]string{true: "pre", false: "post"}[pre]
				t.Run(p.name+"/"+phase+"/"+h.name, func(t *testing.T) {
					in := mustLoad(t, p.file)
					p.set(in, pre, *h.hook.DeepCopy())
					plan, err := in.translate(translators.Options{Image: testImage})
					if err != nil {
						t.Fatalf("translate: %v", err)
					}
					var got [][]string
					for _, s := range plan.Graph.Steps {
						l := s.Labels
						if l[translators.LabelStepKind] != translators.StepKindHook || !strings.HasPrefix(l[translators.LabelHookPhase], phase) {
							continue
						}
						if p.global != (l[translators.LabelGlobal] == "true") || !p.global && l[translators.LabelTarget] != "0" {
							continue
						}
						got = append(got, flagsWith(s.Process.Args, "--url=", "--header=", "--form="))
					}
					if diff := cmp.Diff([][]string{h.want}, got); diff != "" {
						t.Errorf("the %s hook step's --url, --header and --form (-want +got):\n%s", phase, diff)
					}
				})
			}
		}
	}
}

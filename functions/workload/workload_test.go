package workload_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/workload"
	"github.com/stashflow/stashflow/outputs"
)

// state is what a step leaves on the workload.
type state struct {
	Replicas int32
	Recorded *string // the restore-replicas annotation; nil when absent
}

// call is one step run on a test's workload.
type call struct {
	fn   string
	args []string // besides --namespace, --kind, --name and --session
	// want is the replicas output; wantErr the parts of the error (nil: none).
	want    string
	wantErr []string
	// after is the workload once the step has returned.
	after state
}

// TestQuiesceResume runs workload-quiesce and workload-resume against a real
// apiserver, the test playing the workload's controller. For every case it
// checks each step's output, error and the state it leaves; after a quiesce
// that no pod but those that never go away is left; and, from a watch that
// saw every version of the workload, that the original count was never lost
// (each version has it in spec.replicas or in the annotation).
func TestQuiesceResume(t *testing.T) {
	quiesce := func(want string, after state, args ...string) call {
		return call{fn: workload.QuiesceName, args: args, want: want, after: after}
	}
	resume := func(want string, after state) call {
		return call{fn: workload.ResumeName, want: want, after: after}
	}
	quiesced := func(n string) state { return state{Replicas: 0, Recorded: ptr.To(n)} }
	running := func(n int32) state { return state{Replicas: n} }
	tests := []struct {
		name     string
		kind     string
		replicas int32
		// recorded is an annotation an earlier restore left ("" none).
		recorded string
		// controller: the test plays the workload's controller.
		controller bool
		// stuck pods never go away; failed pods are in phase Failed (evicted).
		stuck, failed []string
		// absent: the workload is not created.
		absent bool
		// original is the count that must never be lost.
		original int32
		// unchanged: the steps must not write the workload at all.
		unchanged bool
		calls     []call
	}{{
		name: "deployment", kind: "Deployment", replicas: 3, controller: true, original: 3,
		calls: []call{quiesce("3", quiesced("3")), resume("3", running(3))},
	}, {
		name: "quiesce-twice", kind: "Deployment", replicas: 4, controller: true, original: 4,
		calls: []call{quiesce("4", quiesced("4")), quiesce("4", quiesced("4")), resume("4", running(4))},
	}, {
		// An earlier restore failed after quiescing, and someone scaled
		// the workload up by hand: the recorded count is kept.
		name: "earlier-restore", kind: "Deployment", replicas: 2, recorded: "5", controller: true, original: 5,
		calls: []call{quiesce("5", quiesced("5")), resume("5", running(5))},
	}, {
		name: "evicted-pod", kind: "Deployment", replicas: 1, controller: true, failed: []string{"evicted-pod-x"}, original: 1,
		calls: []call{quiesce("1", quiesced("1")), resume("1", running(1))},
	}, {
		name: "statefulset", kind: "StatefulSet", replicas: 2, controller: true, original: 2,
		calls: []call{quiesce("2", quiesced("2")), resume("2", running(2))},
	}, {
		name: "replicaset", kind: "ReplicaSet", replicas: 1, controller: true, original: 1,
		calls: []call{quiesce("1", quiesced("1")), resume("1", running(1))},
	}, {
		name: "never-quiesced", kind: "Deployment", replicas: 2, controller: true, original: 2, unchanged: true,
		calls: []call{{fn: workload.ResumeName, after: running(2), wantErr: []string{
			"Deployment/" + ns + "/never-quiesced was not quiesced by stashflow (no stashflow.dev/restore-replicas annotation); nothing changed",
		}}},
	}, {
		// No controller deletes the pods: quiesce times out naming them,
		// leaves the count recorded, and resume gives it back.
		name: "stuck", kind: "Deployment", replicas: 2, stuck: []string{"stuck-a", "stuck-b"}, original: 2,
		calls: []call{
			{fn: workload.QuiesceName, args: []string{"--timeout=2s"}, want: "2", after: quiesced("2"), wantErr: []string{
				"Deployment/" + ns + "/stuck: 2 pod(s) still exist after 2s: stuck-a, stuck-b",
				"the original count 2 is kept in annotation stashflow.dev/restore-replicas",
			}},
			resume("2", running(2)),
		},
	}, {
		name: "absent", kind: "StatefulSet", absent: true,
		calls: []call{
			{fn: workload.QuiesceName, wantErr: []string{"get StatefulSet/" + ns + "/absent", "not found"}},
			{fn: workload.ResumeName, wantErr: []string{"get StatefulSet/" + ns + "/absent", "not found"}},
		},
	}, {
		name: "bad-annotation", kind: "Deployment", replicas: 2, recorded: "three", original: 2, unchanged: true,
		calls: []call{
			{fn: workload.QuiesceName, after: state{Replicas: 2, Recorded: ptr.To("three")}, wantErr: []string{
				`Deployment/` + ns + `/bad-annotation: annotation stashflow.dev/restore-replicas holds "three", not a replica count`, "nothing changed",
			}},
			{fn: workload.ResumeName, after: state{Replicas: 2, Recorded: ptr.To("three")}, wantErr: []string{
				`Deployment/` + ns + `/bad-annotation: annotation stashflow.dev/restore-replicas holds "three"`, "nothing changed",
			}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := env.Client
			h := watchWorkload(t, tc.kind, tc.name)
			if !tc.absent {
				var ann map[string]string
				if tc.recorded != "" {
					ann = map[string]string{v1alpha1.AnnotationRestoreReplicas: tc.recorded}
				}
				mustCreate(t, newWorkload(tc.kind, tc.name, tc.replicas, ann))
			}
			var left []string // pods that are there after a quiesce
			for _, p := range tc.stuck {
				mustCreate(t, newPod(tc.name, p))
				left = append(left, p)
			}
			for _, p := range tc.failed {
				pod := newPod(tc.name, p)
				pod.Finalizers = nil
				mustCreate(t, pod)
				pod.Status.Phase = corev1.PodFailed
				if err := c.Status().Update(ctx, pod); err != nil {
					t.Fatal(err)
				}
				left = append(left, p)
			}
			if tc.controller {
				startController(t, tc.kind, tc.name)
				waitForPods(t, tc.name, int(tc.replicas)+len(tc.failed))
			}

			for i, cl := range tc.calls {
				args := append([]string{"--namespace=" + ns, "--kind=" + tc.kind, "--name=" + tc.name, "--session=restore-1"}, cl.args...)
				out, err := runStep(t, cl.fn, args...)
				if cl.wantErr == nil && err != nil {
					t.Fatalf("call %d: %s: %v", i, cl.fn, err)
				}
				if cl.wantErr != nil {
					if err == nil {
						t.Fatalf("call %d: %s succeeded, want an error with %q", i, cl.fn, cl.wantErr)
					}
					for _, w := range cl.wantErr {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("call %d: %s: error %q\nwant it to contain %q", i, cl.fn, err, w)
						}
					}
				}
				if got := out[outputs.Replicas]; got != cl.want {
					t.Errorf("call %d: %s: output %s = %q, want %q", i, cl.fn, outputs.Replicas, got, cl.want)
				}
				if cl.fn == workload.QuiesceName && cl.want != "" {
					// No claim to create: no volumeClaimTemplate, or not a StatefulSet.
					if got := out[outputs.ClaimsCreated]; got != "0" {
						t.Errorf("call %d: %s: output %s = %q, want 0", i, cl.fn, outputs.ClaimsCreated, got)
					}
				}
				if tc.absent {
					continue
				}
				if diff := cmp.Diff(cl.after, stateOf(t, tc.kind, tc.name)); diff != "" {
					t.Errorf("call %d: %s: workload (-want +got):\n%s", i, cl.fn, diff)
				}
				if cl.fn == workload.QuiesceName && err == nil {
					if diff := cmp.Diff(left, podsOf(ctx, t, tc.name)); diff != "" {
						t.Errorf("call %d: %s returned with pods still there (-want +got):\n%s", i, cl.fn, diff)
					}
				}
			}
			if !tc.absent {
				checkHistory(t, h, tc.kind, tc.name, tc.original, tc.unchanged)
			}
		})
	}
}

// checkHistory checks every version of the workload up to the current one:
// each has the original count in spec.replicas or in the annotation; with
// unchanged, there is one version only (the one the test created).
func checkHistory(t *testing.T, h *history, kind, name string, original int32, unchanged bool) {
	t.Helper()
	obj, _ := emptyOf(kind)
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	versions := h.upTo(t, obj.GetResourceVersion())
	if unchanged && len(versions) != 1 {
		t.Errorf("the steps wrote the workload: versions %+v", versions)
	}
	want := strconv.Itoa(int(original))
	for _, v := range versions {
		if v.Replicas != original && (v.Recorded == nil || *v.Recorded != want) {
			t.Errorf("version %s lost the original count %d: replicas %d, annotation %s",
				v.ResourceVersion, original, v.Replicas, ptr.Deref(v.Recorded, "(none)"))
		}
	}
}

// stateOf reads what the steps wrote on the workload.
func stateOf(t *testing.T, kind, name string) state {
	t.Helper()
	obj, _ := emptyOf(kind)
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	s := state{Replicas: replicasOf(obj)}
	if v, ok := obj.GetAnnotations()[v1alpha1.AnnotationRestoreReplicas]; ok {
		s.Recorded = &v
	}
	return s
}

// TestFlags: the steps refuse a DaemonSet and other kinds, and missing or
// bad flags, before they touch the API, with an error that names the flag.
func TestFlags(t *testing.T) {
	mustCreate(t, newWorkload("DaemonSet", "agent", 0, nil))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"daemonset", []string{"--namespace=" + ns, "--kind=DaemonSet", "--name=agent"},
			"--kind: DaemonSet/" + ns + "/agent cannot be quiesced for a restore: a DaemonSet cannot be scaled to zero"},
		{"pod", []string{"--namespace=" + ns, "--kind=Pod", "--name=web"},
			`--kind: Pod/` + ns + `/web cannot be quiesced for a restore: "Pod" is not Deployment, StatefulSet or ReplicaSet (apps/v1)`},
		{"no kind", []string{"--namespace=" + ns, "--name=web"}, "--kind: required"},
		{"no namespace", []string{"--kind=Deployment", "--name=web"}, "--namespace: required"},
		{"no name", []string{"--namespace=" + ns, "--kind=Deployment"}, "--name: required"},
		{"bad name", []string{"--namespace=" + ns, "--kind=Deployment", "--name=Web"}, `--name: "Web" is not an object name`},
		{"zero timeout", []string{"--namespace=" + ns, "--kind=Deployment", "--name=web", "--timeout=0s"}, "--timeout: 0s is not a positive duration"},
	} {
		for _, fn := range []string{workload.QuiesceName, workload.ResumeName} {
			t.Run(fn+" "+tc.name, func(t *testing.T) {
				_, err := runStep(t, fn, tc.args...)
				var ve *functions.ValidationError
				if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("error = %v, want a validation error starting with %q", err, tc.want)
				}
				if tc.name == "daemonset" {
					checkUntouched(t, "DaemonSet", "agent")
				}
			})
		}
	}
}

// checkUntouched checks the workload has no annotation from the steps.
func checkUntouched(t *testing.T, kind, name string) {
	t.Helper()
	obj, _ := emptyOf(kind)
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	if v, ok := obj.GetAnnotations()[v1alpha1.AnnotationRestoreReplicas]; ok {
		t.Errorf("%s %s was annotated: %q", kind, name, v)
	}
}

package translators_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

// TestTranslateErrors: bad input gives an error that names the object, the
// field and what is wrong.
func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		extra []string
		// edit changes the loaded input before translation.
		edit    func(in *input)
		wantErr []string
	}{
		{
			name:    "missing Task",
			file:    "etcd-backup-exec-hooks.yaml",
			edit:    func(in *input) { delete(in.objs.Tasks, "etcd-backup") },
			wantErr: []string{`spec.task.name: Task "etcd-backup" not found`},
		},
		{
			name: "missing inferred Task",
			file: "etcd-backup-exec-hooks.yaml",
			edit: func(in *input) {
				configOf(in).Spec.Task = nil
				delete(in.objs.Tasks, "etcd-backup")
			},
			wantErr: []string{`spec.target.ref (no task set: the Task is inferred from AppBinding "etcd" of type "etcd"): Task "etcd-backup" not found`},
		},
		{
			name:    "missing Function",
			file:    "etcd-backup-exec-hooks.yaml",
			edit:    func(in *input) { delete(in.objs.Functions, "etcd-backup") },
			wantErr: []string{`task "etcd-backup" steps[0]: Function "etcd-backup" not found`},
		},
		{
			// No task set: the Task is the AppBinding type's, and the
			// refusal names the target, where the user can change it.
			name: "an inferred backup Task with no step that backs up",
			file: "etcd-backup-exec-hooks.yaml",
			edit: func(in *input) {
				configOf(in).Spec.Task = nil
				fn := in.objs.Functions["etcd-backup"]
				fn.Spec.Outputs = append(fn.Spec.Outputs, v1alpha1.FunctionOutput{Name: "integrity", Path: "/tmp/stashflow/outputs/integrity"})
			},
			wantErr: []string{`spec.target.ref (no task set: the Task is inferred from AppBinding "etcd" of type "etcd"): Task "etcd-backup" has no step that backs up`},
		},
		{
			name: "several snapshots in one restore rule",
			file: "etcd-restore-rules.yaml",
			edit: func(in *input) {
				rs := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
				rs.Spec.Target.Rules[0].Snapshots = []string{"4f2c1d9e", "9a7b3c2e"}
			},
			wantErr: []string{`spec.target.rules[0].snapshots: 2 snapshots in one rule, but Function "etcd-restore" restores one snapshot (a single stream; it declares no snapshotIDs output)`},
		},
		{
			name: "several snapshots in a batch member's older top-level rule",
			file: "restore-batch-sequential.yaml",
			edit: func(in *input) {
				b := manifest.Of[*v1alpha1.RestoreBatch](in.set)[0]
				m := &b.Spec.Members[0] // the etcd AppBinding
				m.Rules, m.Target.Rules = []v1alpha1.RestoreRule{{Snapshots: []string{"a1", "b2", "c3"}}}, nil
			},
			wantErr: []string{`spec.members[0].rules[0].snapshots: 3 snapshots in one rule, but Function "etcd-restore" restores one snapshot`},
		},
		{
			name: "runtimeSettings.pod.nodeName away from a workload's node",
			file: "workload-backup-statefulset.yaml",
			edit: func(in *input) {
				configOf(in).Spec.RuntimeSettings = &v1alpha1.RuntimeSettings{Pod: &v1alpha1.PodRuntimeSettings{NodeName: "node-a"}}
			},
			wantErr: []string{`spec.runtimeSettings.pod.nodeName: "node-a", but step `, `must run on node "node-b", where the target workload's volumes are mounted`},
		},
		{
			name: "unknown param of a Task step",
			file: "custom-task.yaml",
			edit: func(in *input) {
				in.objs.Tasks["archive-backup"].Spec.Steps[0].Params[0].Name = "SOURCE_DIRS"
			},
			wantErr: []string{`task "archive-backup" steps[0]: param "SOURCE_DIRS" is not used by Function "tar-archive" (it has no ${SOURCE_DIRS})`},
		},
		{
			name: "unknown param of the invoker's task",
			file: "custom-task.yaml",
			extra: []string{`
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: www, namespace: demo}
spec:
  repository: {name: local-repo}
  schedule: "@daily"
  task:
    name: archive-backup
    params: [{name: ARCHVE_NAME, value: www.tar}]
  retentionPolicy: {name: keep-3, keepLast: 3}`},
			wantErr: []string{`spec.task.params[0]: param "ARCHVE_NAME" is not used by any Function of Task "archive-backup"`},
		},
		{
			name:    "unresolved variable",
			file:    "custom-task.yaml",
			edit:    func(in *input) { in.objs.Tasks["archive-backup"].Spec.Steps[0].Params = nil },
			wantErr: []string{`task "archive-backup" steps[0]: Function "tar-archive" args[0]: variable ${SOURCE_DIR} has no value and no default`},
		},
		{
			name: "hook with two handlers",
			file: "etcd-backup-http-hooks.yaml",
			edit: func(in *input) {
				c := configOf(in)
				c.Spec.Hooks.PreBackup.Exec = execAction("true") // beside its httpGet
				c.Spec.Hooks.PostBackup.Exec, c.Spec.Hooks.PostBackup.TCPSocket = nil, nil
			},
			wantErr: []string{
				`spec.hooks.preBackup: preBackup hook: 2 handlers are set (want exactly one of exec, httpGet, httpPost, tcpSocket)`,
				`spec.hooks.postBackup: postBackup hook: no handler set (want exactly one of exec, httpGet, httpPost, tcpSocket)`,
			},
		},
		{
			name: "batch member without target or task",
			file: "batch-parallel.yaml",
			edit: func(in *input) {
				b := batchOf(in)
				b.Spec.Members[1].Target, b.Spec.Members[1].Task = nil, nil
			},
			wantErr: []string{`spec.members[1]: neither target nor task is set`},
		},
		{
			name: "no task and none can be inferred",
			file: "batch-parallel.yaml",
			edit: func(in *input) {
				b := batchOf(in)
				b.Spec.Members[0].Task = nil
				in.objs.AppBindings["etcd"].Spec.Type = ""
			},
			wantErr: []string{`spec.members[0].task: no task given and none can be inferred from the target`},
		},
		{
			name: "cycle through custom steps",
			file: "custom-task.yaml",
			extra: []string{`
apiVersion: stashflow.dev/v1alpha1
kind: Function
metadata: {name: ping}
spec:
  image: busybox
  command: [sh, -c, "echo $(steps.pong.outputs.x) > $STASHFLOW_OUTPUT_DIR/x"]
  outputs: [{name: x, path: /tmp/stashflow/outputs/x}]
---
apiVersion: stashflow.dev/v1alpha1
kind: Function
metadata: {name: pong}
spec:
  image: busybox
  command: [sh, -c, "echo $(steps.ping.outputs.x) > $STASHFLOW_OUTPUT_DIR/x"]
  outputs: [{name: x, path: /tmp/stashflow/outputs/x}, {name: snapshotID, path: /tmp/stashflow/outputs/snapshotID}]
---
apiVersion: stashflow.dev/v1alpha1
kind: Task
metadata: {name: archive-backup}
spec:
  steps: [{name: ping}, {name: pong}]`},
			edit:    func(in *input) { configOf(in).Spec.Task.Params = nil },
			wantErr: []string{`step "ping": $(steps.pong.outputs.x) refers to step "pong", which it does not depend on`},
		},
		{
			// A check and a restore-like Function: neither writes a
			// snapshot, though both declare snapshotID (the snapshot the
			// check read, the one the restore restored).
			name: "a backup Task with no step that backs up",
			file: "custom-task.yaml",
			extra: []string{`
apiVersion: stashflow.dev/v1alpha1
kind: Function
metadata: {name: verify}
spec:
  image: busybox
  command: [sh, -c, "restic check && echo true > $STASHFLOW_OUTPUT_DIR/integrity && echo latest > $STASHFLOW_OUTPUT_DIR/snapshotID"]
  outputs: [{name: integrity, path: /tmp/stashflow/outputs/integrity}, {name: snapshotID, path: /tmp/stashflow/outputs/snapshotID}]
---
apiVersion: stashflow.dev/v1alpha1
kind: Function
metadata: {name: unpack}
spec:
  image: busybox
  command: [sh, -c, "restic restore ${RESTORE_SNAPSHOTS:=latest} --target / > $STASHFLOW_OUTPUT_DIR/snapshotID"]
  outputs: [{name: snapshotID, path: /tmp/stashflow/outputs/snapshotID}]
---
apiVersion: stashflow.dev/v1alpha1
kind: Task
metadata: {name: archive-backup}
spec:
  steps: [{name: verify}, {name: retention}, {name: unpack}, {name: update-status}]`},
			edit:    func(in *input) { configOf(in).Spec.Task.Params = nil },
			wantErr: []string{`spec.task.name: Task "archive-backup" has no step that backs up: none of its Functions (verify, retention, unpack) declares the snapshotID output without reading ${RESTORE_SNAPSHOTS}`},
		},
		{
			name: "only dropped steps",
			file: "custom-task.yaml",
			extra: []string{`
apiVersion: stashflow.dev/v1alpha1
kind: Task
metadata: {name: archive-backup}
spec:
  steps: [{name: update-status}]`},
			edit:    func(in *input) { configOf(in).Spec.Task.Params = nil },
			wantErr: []string{`task "archive-backup" has no steps left to run`},
		},
		{
			name:    "unsupported env source",
			file:    "custom-task.yaml",
			edit:    func(in *input) { addFieldRefEnv(in.objs.Functions["tar-archive"]) },
			wantErr: []string{`Function "tar-archive" env[0] (POD_NAME): only value and valueFrom.secretKeyRef are supported`},
		},
		{
			name:    "no repository",
			file:    "custom-task.yaml",
			edit:    func(in *input) { in.objs.Repository = nil },
			wantErr: []string{`spec.repository: the Repository was not resolved`},
		},
		{
			name: "a volume the workload does not have",
			file: "workload-backup-statefulset.yaml",
			edit: func(in *input) {
				configOf(in).Spec.Target.VolumeMounts = []corev1.VolumeMount{{Name: "dta", MountPath: "/var/lib/db"}}
			},
			wantErr: []string{`spec.target.volumeMounts[0]: StatefulSet/db has no volume "dta"`},
		},
		{
			name: "a volume whose data lives in the pod",
			file: "workload-backup-statefulset.yaml",
			edit: func(in *input) {
				configOf(in).Spec.Target.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
			},
			wantErr: []string{`spec.target.volumeMounts[0]: volume "scratch" of StatefulSet/db is not a PersistentVolumeClaim or hostPath`},
		},
		{
			name:    "a path outside every mount",
			file:    "workload-backup-statefulset.yaml",
			edit:    func(in *input) { configOf(in).Spec.Target.Paths = []string{"/var/lib/db/x", "/etc"} },
			wantErr: []string{`spec.target.paths[1]: "/etc" is in none of the mounted volumes (data at /var/lib/db)`},
		},
		{
			name:    "a host without a running pod",
			file:    "workload-backup-statefulset.yaml",
			edit:    func(in *input) { in.objs.Workloads["StatefulSet/db"].Hosts[1].Node = "" },
			wantErr: []string{`spec.target.ref: StatefulSet "db" has no running pod for host-1`, "nothing was backed up"},
		},
		{
			name:    "an unresolved workload",
			file:    "workload-backup-statefulset.yaml",
			edit:    func(in *input) { delete(in.objs.Workloads, "StatefulSet/db") },
			wantErr: []string{`spec.target.ref: StatefulSet "db" was not resolved`},
		},
		{
			name: "a hook port by name where no pod resolves it",
			file: "etcd-backup-http-hooks.yaml",
			edit: func(in *input) {
				h := configOf(in).Spec.Hooks
				if h == nil || h.PreBackup == nil || h.PreBackup.HTTPGet == nil {
					t.Fatal("the case has no httpGet preBackup hook")
				}
				h.PreBackup.HTTPGet.Port = intstr.FromString("metrics")
			},
			wantErr: []string{`preBackup hook: port "metrics" is a name, which only a hook sent to a workload's or claim's pod (no host) can resolve`},
		},
		{
			name: "a batch member's own pod settings",
			file: "batch-parallel.yaml",
			edit: func(in *input) {
				batchOf(in).Spec.Members[1].RuntimeSettings = &v1alpha1.RuntimeSettings{Pod: &v1alpha1.PodRuntimeSettings{NodeSelector: map[string]string{"disk": "ssd"}}}
			},
			wantErr: []string{"spec.members[1].runtimeSettings.pod: a member's own pod settings are not supported: set them in the batch's spec.runtimeSettings.pod"},
		},
		{
			name: "a restore into a DaemonSet",
			file: "workload-restore-deployment.yaml",
			edit: func(in *input) {
				manifest.Of[*v1alpha1.RestoreSession](in.set)[0].Spec.Target.Ref.Kind = "DaemonSet"
				in.objs.Workloads["DaemonSet/www"] = in.objs.Workloads["Deployment/www"]
			},
			wantErr: []string{`spec.target.ref: a restore into DaemonSet "www" is not supported`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustLoad(t, tt.file)
			if len(tt.extra) > 0 {
				in = mustLoad(t, tt.file, tt.extra...)
				dedupe(in)
			}
			if tt.edit != nil {
				tt.edit(in)
			}
			_, err := in.translate(translators.Options{Image: testImage})
			if err == nil {
				t.Fatalf("translate succeeded, want an error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, want)
				}
			}
		})
	}
}

// TestLocalRefusesPodSettings: on the local engine, what cannot apply (pod
// settings; a container's securityContext, lifecycle, envFrom, and env not
// given as a value or a Secret key) is refused naming the field, not
// ignored; nice, ionice, env values and resources pass.
func TestLocalRefusesPodSettings(t *testing.T) {
	for _, tt := range []struct {
		edit    func(*v1alpha1.RuntimeSettings)
		wantErr string
	}{
		{func(*v1alpha1.RuntimeSettings) {}, "spec.runtimeSettings.pod.serviceAccountName: the local engine runs steps as processes of this machine"},
		{func(rs *v1alpha1.RuntimeSettings) { rs.Pod.ServiceAccountName = "" }, "spec.runtimeSettings.pod.nodeSelector:"},
		{func(rs *v1alpha1.RuntimeSettings) { rs.Pod.ServiceAccountName, rs.Pod.NodeSelector = "", nil }, "spec.runtimeSettings.pod.priorityClassName:"},
		{func(rs *v1alpha1.RuntimeSettings) {
			rs.Pod = &v1alpha1.PodRuntimeSettings{Tolerations: rs.Pod.Tolerations}
		}, "spec.runtimeSettings.pod.tolerations:"},
		{func(rs *v1alpha1.RuntimeSettings) { rs.Pod = &v1alpha1.PodRuntimeSettings{Affinity: rs.Pod.Affinity} }, "spec.runtimeSettings.pod.affinity:"},
		{func(rs *v1alpha1.RuntimeSettings) {
			rs.Pod = &v1alpha1.PodRuntimeSettings{ImagePullSecrets: rs.Pod.ImagePullSecrets}
		}, "spec.runtimeSettings.pod.imagePullSecrets:"},
		{func(rs *v1alpha1.RuntimeSettings) {
			rs.Pod = &v1alpha1.PodRuntimeSettings{TopologySpreadConstraints: rs.Pod.TopologySpreadConstraints}
		}, "spec.runtimeSettings.pod.topologySpreadConstraints:"},
		{func(rs *v1alpha1.RuntimeSettings) { rs.Pod = nil }, "spec.runtimeSettings.container.securityContext:"},
		{func(rs *v1alpha1.RuntimeSettings) { rs.Pod, rs.Container.SecurityContext = nil, nil }, "spec.runtimeSettings.container.lifecycle:"},
		{func(rs *v1alpha1.RuntimeSettings) {
			rs.Pod, rs.Container.SecurityContext, rs.Container.Lifecycle = nil, nil, nil
		}, "spec.runtimeSettings.container.envFrom: the local engine cannot list"},
		{func(rs *v1alpha1.RuntimeSettings) {
			rs.Pod, rs.Container.SecurityContext, rs.Container.Lifecycle, rs.Container.EnvFrom = nil, nil, nil, nil
		}, "spec.runtimeSettings.container.env[1] (HTTPS_PROXY).valueFrom: the local engine resolves only"},
		{func(rs *v1alpha1.RuntimeSettings) {
			rs.Pod, rs.Container.SecurityContext, rs.Container.Lifecycle, rs.Container.EnvFrom = nil, nil, nil, nil
			rs.Container.Env = rs.Container.Env[:1]
		}, ""},
	} {
		in := mustLoad(t, "runtime-settings.yaml")
		tt.edit(configOf(in).Spec.RuntimeSettings)
		_, err := in.translate(translators.Options{Image: testImage, Local: true})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("nice, ionice, env and resources on the local engine: %v", err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
		}
	}
}

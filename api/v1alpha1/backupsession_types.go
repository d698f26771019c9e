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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupInvokerRef points to the BackupConfiguration or BackupBatch that made a session.
type BackupInvokerRef struct {
	// apiGroup of the invoker; empty means stashflow.dev.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIGroup string `json:"apiGroup,omitempty"`

	// kind of the invoker: BackupConfiguration or BackupBatch.
	// +required
	// +kubebuilder:validation:Enum=BackupConfiguration;BackupBatch
	Kind string `json:"kind,omitempty"`

	// name of the invoker, in the session's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// Invoker kinds.
const (
	KindBackupConfiguration = "BackupConfiguration"
	KindBackupBatch         = "BackupBatch"
)

// BackupSessionSpec says which invoker a session runs.
type BackupSessionSpec struct {
	// invoker is the BackupConfiguration or BackupBatch whose backup this session runs.
	// +required
	Invoker BackupInvokerRef `json:"invoker"`

	// retryLeft is how many more times the session may be retried if it fails. The operator
	// sets it from the invoker's retryConfig.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	RetryLeft *int32 `json:"retryLeft,omitempty"`
}

// BackupSessionPhase is the phase of a BackupSession.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped;Unknown
type BackupSessionPhase string

const (
	// BackupSessionPending means accepted, workflow not started yet.
	BackupSessionPending BackupSessionPhase = "Pending"
	// BackupSessionRunning means the workflow runs.
	BackupSessionRunning BackupSessionPhase = "Running"
	// BackupSessionSucceeded means every target succeeded.
	BackupSessionSucceeded BackupSessionPhase = "Succeeded"
	// BackupSessionFailed means a target, or a global hook, failed, or the session timed out.
	BackupSessionFailed BackupSessionPhase = "Failed"
	// BackupSessionSkipped means not run, e.g. another session of the same invoker was running.
	BackupSessionSkipped BackupSessionPhase = "Skipped"
	// BackupSessionUnknown means the workflow was lost.
	BackupSessionUnknown BackupSessionPhase = "Unknown"
)

// IsFinal reports whether the phase is one a session ends in.
func (p BackupSessionPhase) IsFinal() bool {
	switch p {
	case BackupSessionSucceeded, BackupSessionFailed, BackupSessionSkipped, BackupSessionUnknown:
		return true
	}
	return false
}

// BackupGlobalHooksStatus is the outcome of a BackupBatch's global hooks.
type BackupGlobalHooksStatus struct {
	// preBackup is the global pre-backup hook.
	// +optional
	PreBackup *HookStatus `json:"preBackup,omitempty"`

	// postBackup is the global post-backup hook.
	// +optional
	PostBackup *HookStatus `json:"postBackup,omitempty"`
}

// HostBackupStats is the backup of one host of a target: one restic snapshot. Most targets
// (an etcd cluster, a volume) have one host; Stash's per-host list is kept so that a target
// with several hosts (a StatefulSet's replicas) reports each. Unlike Stash, one host makes
// one snapshot per session, so the snapshot's numbers sit on the host entry, and sizes are
// bytes, not formatted strings.
type HostBackupStats struct {
	// hostname is the restic --host of the snapshot.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname,omitempty"`

	// phase of this host's backup.
	// +optional
	Phase HostPhase `json:"phase,omitempty"`

	// snapshotID is the restic snapshot id.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	SnapshotID string `json:"snapshotID,omitempty"`

	// size is the number of bytes backed up (restic's total_bytes_processed).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Size *int64 `json:"size,omitempty"`

	// uploaded is the number of bytes added to the repository (restic's data_added).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Uploaded *int64 `json:"uploaded,omitempty"`

	// files is the number of files processed (restic's total_files_processed).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Files *int64 `json:"files,omitempty"`

	// duration of this host's backup, a Go duration such as "1m30s".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Duration string `json:"duration,omitempty"`

	// error explains a failure.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Error string `json:"error,omitempty"`

	// snapshots is Stash's per-snapshot record of this host: one entry, from the same
	// numbers as above, in Stash's form.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Snapshots []SnapshotStats `json:"snapshots,omitempty"`
}

// BackupTargetStatus is the outcome of one target of a BackupSession: one entry for a
// BackupConfiguration, one per member for a BackupBatch.
type BackupTargetStatus struct {
	// ref is the target. Empty for a target-less Task.
	// +optional
	Ref *TargetRef `json:"ref,omitempty"`

	// phase of this target.
	// +optional
	Phase TargetPhase `json:"phase,omitempty"`

	// totalHosts is the number of hosts the target backs up.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TotalHosts *int32 `json:"totalHosts,omitempty"`

	// steps are the target's Function steps, in DAG order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Steps []StepStatus `json:"steps,omitempty"`

	// preBackupHooks are the target's pre-backup hooks.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	PreBackupHooks []HookStatus `json:"preBackupHooks,omitempty"`

	// postBackupHooks are the target's post-backup hooks.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	PostBackupHooks []HookStatus `json:"postBackupHooks,omitempty"`

	// preBackupActions are Stash's names of what its backup did first (e.g.
	// InitializeBackendRepository); accepted from exported objects, not written.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=128
	PreBackupActions []string `json:"preBackupActions,omitempty"`

	// postBackupActions are Stash's names of what its backup did after (e.g.
	// ApplyRetentionPolicy); accepted from exported objects, not written.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=128
	PostBackupActions []string `json:"postBackupActions,omitempty"`

	// stats has one entry per host.
	// +optional
	// +listType=map
	// +listMapKey=hostname
	// +kubebuilder:validation:MaxItems=256
	Stats []HostBackupStats `json:"stats,omitempty"`

	// conditions of this target: PreBackupHookSucceeded, BackupSucceeded, RetentionPolicyApplied, ...
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// BackupSessionStatus is the outcome of a BackupSession.
type BackupSessionStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase of the session.
	// +optional
	Phase BackupSessionPhase `json:"phase,omitempty"`

	// reason is a CamelCase word for the phase, e.g. "TimedOut" or "PreBackupHookFailed".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason,omitempty"`

	// message explains the phase.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// sessionDuration is how long the session ran, a Go duration such as "1m30s".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SessionDuration string `json:"sessionDuration,omitempty"`

	// sessionDeadline is when the session fails if it has not finished (from timeOut).
	// +optional
	SessionDeadline *metav1.Time `json:"sessionDeadline,omitempty"`

	// workflow is where the session's DAG runs.
	// +optional
	Workflow *WorkflowRef `json:"workflow,omitempty"`

	// plan is the run record: the steps of the DAG the session was submitted
	// with and which of them belong to which target, written once with
	// workflow. Its node statuses are read against it, whatever the invoker,
	// Task or Functions say later.
	// +optional
	Plan *RunPlan `json:"plan,omitempty"`

	// targets has one entry per target (per member, for a BackupBatch), in spec order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Targets []BackupTargetStatus `json:"targets,omitempty"`

	// retried is Stash's mark of a failed session that was retried; accepted from exported
	// objects, not written (a retry here is a new session with spec.retryLeft one less).
	// +optional
	Retried *bool `json:"retried,omitempty"`

	// nextRetry is when Stash would have retried the failed session; accepted from exported
	// objects, not written.
	// +optional
	NextRetry *metav1.Time `json:"nextRetry,omitempty"`

	// globalHooks is the outcome of a BackupBatch's global hooks.
	// +optional
	GlobalHooks *BackupGlobalHooksStatus `json:"globalHooks,omitempty"`

	// conditions of the session: WorkflowCreated, BackupTimeOutNotExceeded, BackupHistoryCleaned, ...
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=backupsessions,scope=Namespaced,shortName=bs,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Invoker-Type",type="string",JSONPath=".spec.invoker.kind"
// +kubebuilder:printcolumn:name="Invoker-Name",type="string",JSONPath=".spec.invoker.name"
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Duration",type="string",JSONPath=".status.sessionDuration"
// +kubebuilder:printcolumn:name="Engine",type="string",JSONPath=".status.workflow.engine",priority=1
// +kubebuilder:printcolumn:name="Workflow",type="string",JSONPath=".status.workflow.name",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// BackupSession is one run of a BackupConfiguration or BackupBatch: the operator turns it
// into a DAG on the workflow engine and writes the outcome of every step into its status.
type BackupSession struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the invoker.
	// +required
	Spec BackupSessionSpec `json:"spec"`

	// status is the outcome of the run.
	// +optional
	Status BackupSessionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupSessionList is a list of BackupSessions.
type BackupSessionList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the BackupSessions.
	Items []BackupSession `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &BackupSession{}, &BackupSessionList{})
}

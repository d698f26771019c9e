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

// RestoreTargetSpec is what to restore and how: the part of a RestoreSession that a
// RestoreBatch member repeats (as in Stash).
type RestoreTargetSpec struct {
	// task names the Task whose steps restore. Empty means the Task is chosen from the
	// target: "<appBinding.spec.type>-restore" for an AppBinding, "volume-restore" otherwise.
	// +optional
	Task *TaskRef `json:"task,omitempty"`

	// target is where the data goes, and which snapshots to restore.
	// +optional
	Target *RestoreTarget `json:"target,omitempty"`

	// runtimeSettings tune the step containers and pods.
	// +optional
	RuntimeSettings *RuntimeSettings `json:"runtimeSettings,omitempty"`

	// tempDir configures the steps' scratch volume, mounted at /stashflow/interim; on Argo it
	// also holds their temporary files ($TMPDIR) and restic's cache, as in Stash.
	// +optional
	TempDir *EmptyDirSettings `json:"tempDir,omitempty"`

	// interimVolumeTemplate is a claim made for the session to hold data between steps,
	// deleted when the session's run ends. The target's Function steps mount it at
	// /stashflow/interim-volume, which INTERIM_DATA_DIR names.
	// +optional
	InterimVolumeTemplate *PersistentVolumeClaimTemplate `json:"interimVolumeTemplate,omitempty"`

	// hooks run before and after this target's restore.
	// +optional
	Hooks *RestoreHooks `json:"hooks,omitempty"`

	// rules is Stash's older place for target.rules: it applies to the
	// target as target.rules would. Set one of the two.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Rules []RestoreRule `json:"rules,omitempty"`
}

// RestoreSessionSpec is a one-off restore of one target from a Repository.
// +kubebuilder:validation:XValidation:rule="has(self.task) || has(self.target)",message="spec.task or spec.target must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.rules) || has(self.target)",message="spec.rules apply to spec.target, which is not set"
// +kubebuilder:validation:XValidation:rule="!has(self.rules) || !has(self.target.rules)",message="set rules in spec.target.rules or in spec.rules (Stash's older place), not both"
type RestoreSessionSpec struct {
	RestoreTargetSpec `json:",inline"`

	// driver is how data is copied, as in Stash: Restic (the default, and
	// the only one stashflow has). VolumeSnapshotter (CSI VolumeSnapshots) is
	// refused until it exists.
	// +optional
	// +kubebuilder:validation:Enum=Restic;VolumeSnapshotter
	// +kubebuilder:validation:XValidation:rule="self == 'Restic'",message="driver VolumeSnapshotter (CSI VolumeSnapshots) is not supported: stashflow backs up and restores with restic; remove driver or set it to Restic"
	Driver string `json:"driver,omitempty"`

	// repository holds the snapshots to restore.
	// +required
	Repository ObjectRef `json:"repository"`

	// timeOut fails the restore if it runs longer, a Go duration such as "30m" or "1h30m".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.timeOut must be a duration such as 30m or 1h30m"
	TimeOut string `json:"timeOut,omitempty"`
}

// RestorePhase is the phase of a RestoreSession or RestoreBatch.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Unknown;Invalid
type RestorePhase string

const (
	// RestorePending means accepted, workflow not started yet.
	RestorePending RestorePhase = "Pending"
	// RestoreRunning means the workflow runs.
	RestoreRunning RestorePhase = "Running"
	// RestoreSucceeded means every target was restored.
	RestoreSucceeded RestorePhase = "Succeeded"
	// RestoreFailed means a target or a global hook failed, or the restore timed out.
	RestoreFailed RestorePhase = "Failed"
	// RestoreUnknown means the workflow was lost.
	RestoreUnknown RestorePhase = "Unknown"
	// RestoreInvalid means the restore can never run as written (e.g. the Repository forbids its namespace).
	RestoreInvalid RestorePhase = "Invalid"
)

// IsFinal reports whether the phase is one a restore ends in.
func (p RestorePhase) IsFinal() bool {
	switch p {
	case RestoreSucceeded, RestoreFailed, RestoreUnknown, RestoreInvalid:
		return true
	}
	return false
}

// RestoreGlobalHooksStatus is the outcome of a RestoreBatch's global hooks.
type RestoreGlobalHooksStatus struct {
	// preRestore is the global pre-restore hook.
	// +optional
	PreRestore *HookStatus `json:"preRestore,omitempty"`

	// postRestore is the global post-restore hook.
	// +optional
	PostRestore *HookStatus `json:"postRestore,omitempty"`
}

// HostRestoreStats is the restore onto one host of a target.
type HostRestoreStats struct {
	// hostname is the host restored onto.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname,omitempty"`

	// phase of this host's restore.
	// +optional
	Phase HostPhase `json:"phase,omitempty"`

	// snapshotID is the restic snapshot restored (the resolved id when the rule said "latest").
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	SnapshotID string `json:"snapshotID,omitempty"`

	// size is the number of bytes restored.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Size *int64 `json:"size,omitempty"`

	// files is the number of files restored.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Files *int64 `json:"files,omitempty"`

	// duration of this host's restore, a Go duration such as "1m30s".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Duration string `json:"duration,omitempty"`

	// error explains a failure.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Error string `json:"error,omitempty"`
}

// RestoreMemberStatus is Stash's status of one member of a RestoreBatch, kept so that an
// exported RestoreBatch applies.
type RestoreMemberStatus struct {
	// ref is the member's target.
	// +optional
	Ref *TargetRef `json:"ref,omitempty"`

	// conditions of this member's restore.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []Condition `json:"conditions,omitempty"`

	// totalHosts is the number of hosts of this member.
	// +optional
	TotalHosts *int32 `json:"totalHosts,omitempty"`

	// phase of this member's restore.
	// +optional
	Phase TargetPhase `json:"phase,omitempty"`

	// stats has one entry per host.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Stats []HostRestoreStats `json:"stats,omitempty"`
}

// RestoreTargetStatus is the outcome of one target of a restore.
type RestoreTargetStatus struct {
	// ref is the target. Empty for a target-less Task.
	// +optional
	Ref *TargetRef `json:"ref,omitempty"`

	// phase of this target.
	// +optional
	Phase TargetPhase `json:"phase,omitempty"`

	// totalHosts is the number of hosts restored onto.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TotalHosts *int32 `json:"totalHosts,omitempty"`

	// steps are the target's Function steps, in DAG order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Steps []StepStatus `json:"steps,omitempty"`

	// preRestoreHooks are the target's pre-restore hooks.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	PreRestoreHooks []HookStatus `json:"preRestoreHooks,omitempty"`

	// postRestoreHooks are the target's post-restore hooks.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	PostRestoreHooks []HookStatus `json:"postRestoreHooks,omitempty"`

	// stats has one entry per host.
	// +optional
	// +listType=map
	// +listMapKey=hostname
	// +kubebuilder:validation:MaxItems=256
	Stats []HostRestoreStats `json:"stats,omitempty"`

	// conditions of this target.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// RestoreSessionStatus is the outcome of a RestoreSession or a RestoreBatch (both run once;
// a RestoreBatch is its own session).
type RestoreSessionStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase of the restore.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`

	// reason is a CamelCase word for the phase, e.g. "TimedOut".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason,omitempty"`

	// message explains the phase.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// sessionDuration is how long the restore ran, a Go duration such as "1m30s".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SessionDuration string `json:"sessionDuration,omitempty"`

	// sessionDeadline is when the restore fails if it has not finished (from timeOut).
	// +optional
	SessionDeadline *metav1.Time `json:"sessionDeadline,omitempty"`

	// workflow is where the restore's DAG runs.
	// +optional
	Workflow *WorkflowRef `json:"workflow,omitempty"`

	// plan is the run record: the steps of the DAG the restore was submitted
	// with and which of them belong to which target, written once with
	// workflow. Its node statuses are read against it, whatever the invoker,
	// Task or Functions say later.
	// +optional
	Plan *RunPlan `json:"plan,omitempty"`

	// targets has one entry per target (per member, for a RestoreBatch), in spec order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Targets []RestoreTargetStatus `json:"targets,omitempty"`

	// totalHosts is Stash's count of a RestoreSession's hosts; accepted from exported
	// objects, not written (targets[].totalHosts holds it here).
	// +optional
	TotalHosts *int32 `json:"totalHosts,omitempty"`

	// stats is Stash's per-host list of a RestoreSession; accepted from exported objects,
	// not written (targets[].stats holds it here).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Stats []HostRestoreStats `json:"stats,omitempty"`

	// members is Stash's per-member status of a RestoreBatch; accepted from exported
	// objects, not written (targets holds it here, one entry per member).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Members []RestoreMemberStatus `json:"members,omitempty"`

	// globalHooks is the outcome of a RestoreBatch's global hooks.
	// +optional
	GlobalHooks *RestoreGlobalHooksStatus `json:"globalHooks,omitempty"`

	// conditions of the restore: RepositoryFound, WorkflowCreated, RestoreTimeOutNotExceeded, ...
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=restoresessions,scope=Namespaced,shortName=restore,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Repository",type="string",JSONPath=".spec.repository.name"
// +kubebuilder:printcolumn:name="Target",type="string",JSONPath=".spec.target.ref.name"
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Duration",type="string",JSONPath=".status.sessionDuration"
// +kubebuilder:printcolumn:name="Workflow",type="string",JSONPath=".status.workflow.name",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// RestoreSession restores one target from a Repository, once.
type RestoreSession struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says what to restore, from where, and how.
	// +required
	Spec RestoreSessionSpec `json:"spec"`

	// status is the outcome of the restore.
	// +optional
	Status RestoreSessionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RestoreSessionList is a list of RestoreSessions.
type RestoreSessionList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the RestoreSessions.
	Items []RestoreSession `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &RestoreSession{}, &RestoreSessionList{})
}

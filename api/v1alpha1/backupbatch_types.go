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

// ExecutionOrder says whether the members of a batch run together or one after another.
// +kubebuilder:validation:Enum=Parallel;Sequential
type ExecutionOrder string

const (
	// Parallel starts every member at once, after the global pre hook (the default).
	Parallel ExecutionOrder = "Parallel"
	// Sequential runs the members one after another, in list order.
	Sequential ExecutionOrder = "Sequential"
)

// BackupBatchMember is one target of a BackupBatch, with its own task and hooks.
// +kubebuilder:validation:XValidation:rule="has(self.target)",message="every entry of spec.members must set target"
type BackupBatchMember struct {
	BackupConfigurationTemplateSpec `json:",inline"`
}

// BackupBatchSpec backs up several targets into one Repository in one session.
// +kubebuilder:validation:XValidation:rule="(has(self.paused) && self.paused) || has(self.schedule)",message="spec.schedule is required unless spec.paused is true"
type BackupBatchSpec struct {
	// driver is how data is copied, as in Stash: Restic (the default, and
	// the only one stashflow has). VolumeSnapshotter (CSI VolumeSnapshots) is
	// refused until it exists.
	// +optional
	// +kubebuilder:validation:Enum=Restic;VolumeSnapshotter
	// +kubebuilder:validation:XValidation:rule="self == 'Restic'",message="driver VolumeSnapshotter (CSI VolumeSnapshots) is not supported: stashflow backs up and restores with restic; remove driver or set it to Restic"
	Driver string `json:"driver,omitempty"`

	// repository receives the backups of every member.
	// +required
	Repository ObjectRef `json:"repository"`

	// schedule is a cron expression (5 fields, or 6 with seconds, optionally prefixed by
	// CRON_TZ=<zone>) or a descriptor such as @daily or "@every 1h".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^((CRON_TZ|TZ)=[^ ]+ +)?([^ @]+( +[^ ]+){4,5}|@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every +[0-9][0-9a-z.]*)$')",message="spec.schedule must be a cron expression of 5 or 6 fields or a descriptor such as @daily or @every 1h"
	Schedule string `json:"schedule,omitempty"`

	// paused stops scheduling new sessions.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// members are the targets backed up by each session, each with its task and local hooks.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Members []BackupBatchMember `json:"members,omitempty"`

	// hooks are the global hooks: preBackup runs before every member, postBackup after all
	// of them, like Tekton's finally.
	// +optional
	Hooks *BackupHooks `json:"hooks,omitempty"`

	// executionOrder is Parallel (the default) or Sequential. See BackupBatchSpec.Order.
	// +optional
	ExecutionOrder ExecutionOrder `json:"executionOrder,omitempty"`

	// retentionPolicy says which snapshots to keep, applied per member host.
	// +optional
	RetentionPolicy *RetentionPolicy `json:"retentionPolicy,omitempty"`

	// backupHistoryLimit is the number of finished BackupSessions to keep. Default 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	BackupHistoryLimit *int32 `json:"backupHistoryLimit,omitempty"`

	// timeOut fails a session that runs longer, a Go duration such as "30m" or "1h30m".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.timeOut must be a duration such as 30m or 1h30m"
	TimeOut string `json:"timeOut,omitempty"`

	// retryConfig retries failed sessions.
	// +optional
	RetryConfig *RetryConfig `json:"retryConfig,omitempty"`

	// runtimeSettings apply to every member's steps and to the global hooks; a member's own
	// runtimeSettings win over these.
	// +optional
	RuntimeSettings *RuntimeSettings `json:"runtimeSettings,omitempty"`
}

// BackupBatchMemberStatus is the setup state of one member.
type BackupBatchMemberStatus struct {
	// ref is the member's target.
	// +required
	Ref TargetRef `json:"ref"`

	// phase is Ready, NotReady or Invalid.
	// +optional
	Phase BackupInvokerPhase `json:"phase,omitempty"`

	// conditions: TargetFound, TaskResolved.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// BackupBatchStatus is the state of a BackupBatch.
type BackupBatchStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Ready (every member Ready), NotReady or Invalid.
	// +optional
	Phase BackupInvokerPhase `json:"phase,omitempty"`

	// nextBackupTime is when the schedule creates the next BackupSession.
	// +optional
	NextBackupTime *metav1.Time `json:"nextBackupTime,omitempty"`

	// lastBackupTime is when the last BackupSession finished successfully.
	// +optional
	LastBackupTime *metav1.Time `json:"lastBackupTime,omitempty"`

	// conditions: Ready, RepositoryFound, BackendSecretFound.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`

	// members holds one entry per spec.members entry, in the same order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Members []BackupBatchMemberStatus `json:"members,omitempty"`

	// memberConditions is Stash's form of members (a target and its conditions). Accepted so
	// that a BackupBatch exported from Stash applies; kept as written: stashflow writes and
	// reads members instead.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	MemberConditions []StashMemberConditions `json:"memberConditions,omitempty"`
}

// StashMemberConditions is one entry of Stash's status.memberConditions.
type StashMemberConditions struct {
	// target is the member's target.
	// +required
	Target TargetRef `json:"target"`

	// conditions of the member, as Stash wrote them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=backupbatches,scope=Namespaced,shortName=bb,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Schedule",type="string",JSONPath=".spec.schedule"
// +kubebuilder:printcolumn:name="Paused",type="boolean",JSONPath=".spec.paused"
// +kubebuilder:printcolumn:name="Order",type="string",JSONPath=".spec.executionOrder"
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Last-Backup",type="date",JSONPath=".status.lastBackupTime"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// BackupBatch backs up several targets, in parallel or in sequence, as one BackupSession.
type BackupBatch struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec lists the members and when and how to back them up.
	// +required
	Spec BackupBatchSpec `json:"spec"`

	// status is the batch's state.
	// +optional
	Status BackupBatchStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupBatchList is a list of BackupBatches.
type BackupBatchList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the BackupBatches.
	Items []BackupBatch `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &BackupBatch{}, &BackupBatchList{})
}

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

// BackupConfigurationTemplateSpec is what to back up and how: the part of a
// BackupConfiguration that a BackupBatch member repeats (as in Stash).
type BackupConfigurationTemplateSpec struct {
	// task names the Task whose steps take the backup. Empty means the Task is chosen from
	// the target: "<appBinding.spec.type>-backup" for an AppBinding, "volume-backup" for a
	// PersistentVolumeClaim or a workload.
	// +optional
	Task *TaskRef `json:"task,omitempty"`

	// target is what to back up. Empty means the Task needs no target (e.g. a Task that dumps
	// cluster objects); then task must be set.
	// +optional
	Target *BackupTarget `json:"target,omitempty"`

	// runtimeSettings tune the step containers and pods.
	// +optional
	RuntimeSettings *RuntimeSettings `json:"runtimeSettings,omitempty"`

	// tempDir configures the steps' scratch volume, mounted at /stashflow/interim; on Argo it
	// also holds their temporary files ($TMPDIR) and restic's cache, as in Stash.
	// +optional
	TempDir *EmptyDirSettings `json:"tempDir,omitempty"`

	// interimVolumeTemplate is a claim made for each session to hold the data between
	// steps (e.g. a dump before upload), deleted when the session's run ends. The target's
	// Function steps mount it at /stashflow/interim-volume, which INTERIM_DATA_DIR names.
	// Empty means steps stream, or use tempDir.
	// +optional
	InterimVolumeTemplate *PersistentVolumeClaimTemplate `json:"interimVolumeTemplate,omitempty"`

	// hooks run before and after this target's backup.
	// +optional
	Hooks *BackupHooks `json:"hooks,omitempty"`
}

// BackupConfigurationSpec is a scheduled backup of one target into one Repository.
//
// A BackupConfiguration needs a task or a target (or both), and a schedule unless it is
// paused: a paused configuration is still Ready and can be triggered by hand.
// +kubebuilder:validation:XValidation:rule="has(self.task) || has(self.target)",message="spec.task or spec.target must be set"
// +kubebuilder:validation:XValidation:rule="(has(self.paused) && self.paused) || has(self.schedule)",message="spec.schedule is required unless spec.paused is true"
type BackupConfigurationSpec struct {
	BackupConfigurationTemplateSpec `json:",inline"`

	// driver is how data is copied, as in Stash: Restic (the default, and
	// the only one stashflow has). VolumeSnapshotter (CSI VolumeSnapshots) is
	// refused until it exists.
	// +optional
	// +kubebuilder:validation:Enum=Restic;VolumeSnapshotter
	// +kubebuilder:validation:XValidation:rule="self == 'Restic'",message="driver VolumeSnapshotter (CSI VolumeSnapshots) is not supported: stashflow backs up and restores with restic; remove driver or set it to Restic"
	Driver string `json:"driver,omitempty"`

	// repository receives the backups.
	// +required
	Repository ObjectRef `json:"repository"`

	// schedule is a cron expression (5 fields, or 6 with seconds, optionally prefixed by
	// CRON_TZ=<zone>) or a descriptor such as @daily or "@every 1h".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^((CRON_TZ|TZ)=[^ ]+ +)?([^ @]+( +[^ ]+){4,5}|@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every +[0-9][0-9a-z.]*)$')",message="spec.schedule must be a cron expression of 5 or 6 fields or a descriptor such as @daily or @every 1h"
	Schedule string `json:"schedule,omitempty"`

	// paused stops scheduling new sessions. Sessions already running go on.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// retentionPolicy says which snapshots to keep after each backup. Empty means keep all.
	// +optional
	RetentionPolicy *RetentionPolicy `json:"retentionPolicy,omitempty"`

	// backupHistoryLimit is the number of finished BackupSessions to keep. Default 1 (see
	// BackupConfigurationSpec.HistoryLimit).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	BackupHistoryLimit *int32 `json:"backupHistoryLimit,omitempty"`

	// timeOut fails a session that runs longer, a Go duration such as "30m" or "1h30m".
	// Empty means no time limit.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.timeOut must be a duration such as 30m or 1h30m"
	TimeOut string `json:"timeOut,omitempty"`

	// retryConfig retries failed sessions. Empty means no retry.
	// +optional
	RetryConfig *RetryConfig `json:"retryConfig,omitempty"`
}

// BackupInvokerPhase is the phase of a BackupConfiguration or BackupBatch.
// +kubebuilder:validation:Enum=Ready;NotReady;Invalid
type BackupInvokerPhase string

const (
	// InvokerReady means everything the invoker refers to exists, sessions are scheduled.
	InvokerReady BackupInvokerPhase = "Ready"
	// InvokerNotReady means something the invoker refers to is missing or not ready yet.
	InvokerNotReady BackupInvokerPhase = "NotReady"
	// InvokerInvalid means the invoker can never work as written (e.g. the Repository forbids its namespace).
	InvokerInvalid BackupInvokerPhase = "Invalid"
)

// BackupConfigurationStatus is the state of a BackupConfiguration.
type BackupConfigurationStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Ready, NotReady or Invalid.
	// +optional
	Phase BackupInvokerPhase `json:"phase,omitempty"`

	// nextBackupTime is when the schedule creates the next BackupSession.
	// +optional
	NextBackupTime *metav1.Time `json:"nextBackupTime,omitempty"`

	// lastBackupTime is when the last BackupSession finished successfully.
	// +optional
	LastBackupTime *metav1.Time `json:"lastBackupTime,omitempty"`

	// conditions: Ready, RepositoryFound, BackendSecretFound, TargetFound, TaskResolved.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=backupconfigurations,scope=Namespaced,shortName=bc,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Task",type="string",JSONPath=".spec.task.name"
// +kubebuilder:printcolumn:name="Schedule",type="string",JSONPath=".spec.schedule"
// +kubebuilder:printcolumn:name="Paused",type="boolean",JSONPath=".spec.paused"
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Last-Backup",type="date",JSONPath=".status.lastBackupTime"
// +kubebuilder:printcolumn:name="Next-Backup",type="date",JSONPath=".status.nextBackupTime",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// BackupConfiguration backs up one target into a Repository on a schedule. Each run is a
// BackupSession.
type BackupConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says what to back up, where, when and how.
	// +required
	Spec BackupConfigurationSpec `json:"spec"`

	// status is the configuration's state.
	// +optional
	Status BackupConfigurationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BackupConfigurationList is a list of BackupConfigurations.
type BackupConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the BackupConfigurations.
	Items []BackupConfiguration `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &BackupConfiguration{}, &BackupConfigurationList{})
}

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

// BackupBlueprintSpec is a template of a Repository and a BackupConfiguration. When a
// workload or AppBinding carries the blueprint annotation, the operator creates both for
// it. As in Stash, the Repository's fields (backend, usagePolicy, wipeOut) sit inline.
//
// String fields may use ${TARGET_KIND} (in lower case, as Stash fills it),
// ${TARGET_NAME}, ${TARGET_NAMESPACE}, ${TARGET_API_VERSION},
// ${TARGET_RESOURCE}, ${TARGET_APP_TYPE} and ${TARGET_APP_VERSION}, e.g.
// backend.s3.prefix: "stashflow/${TARGET_NAMESPACE}/${TARGET_KIND}/${TARGET_NAME}".
type BackupBlueprintSpec struct {
	RepositorySpec `json:",inline"`

	// repoName is the name of the created Repository, in lower case. Default Stash's
	// name, the BackupConfiguration's: <short kind>-<target name> (deploy, sts, ds, pvc,
	// app for an AppBinding, replicaset), cut to 63 characters.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	RepoName string `json:"repoName,omitempty"`

	// repoNamespace is the namespace of the created Repository. Default the target's.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	RepoNamespace string `json:"repoNamespace,omitempty"`

	// schedule of the created BackupConfiguration; the schedule annotation on the target
	// overrides it. A cron expression or a descriptor such as @daily.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^((CRON_TZ|TZ)=[^ ]+ +)?([^ @]+( +[^ ]+){4,5}|@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every +[0-9][0-9a-z.]*)$')",message="spec.schedule must be a cron expression of 5 or 6 fields or a descriptor such as @daily or @every 1h"
	Schedule string `json:"schedule,omitempty"`

	// task of the created BackupConfiguration. Empty means chosen from the target.
	// +optional
	Task *TaskRef `json:"task,omitempty"`

	// retentionPolicy of the created BackupConfiguration.
	// +optional
	RetentionPolicy *RetentionPolicy `json:"retentionPolicy,omitempty"`

	// hooks of the created BackupConfiguration.
	// +optional
	Hooks *BackupHooks `json:"hooks,omitempty"`

	// runtimeSettings of the created BackupConfiguration.
	// +optional
	RuntimeSettings *RuntimeSettings `json:"runtimeSettings,omitempty"`

	// tempDir of the created BackupConfiguration.
	// +optional
	TempDir *EmptyDirSettings `json:"tempDir,omitempty"`

	// interimVolumeTemplate of the created BackupConfiguration.
	// +optional
	InterimVolumeTemplate *PersistentVolumeClaimTemplate `json:"interimVolumeTemplate,omitempty"`

	// backupHistoryLimit of the created BackupConfiguration.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	BackupHistoryLimit *int32 `json:"backupHistoryLimit,omitempty"`

	// timeOut of the created BackupConfiguration, a Go duration such as "30m".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.timeOut must be a duration such as 30m or 1h30m"
	TimeOut string `json:"timeOut,omitempty"`

	// retryConfig of the created BackupConfiguration.
	// +optional
	RetryConfig *RetryConfig `json:"retryConfig,omitempty"`

	// annotations are the annotation keys this blueprint reacts to. Defaults:
	// stashflow.dev/backup-blueprint and stashflow.dev/schedule, with Stash's
	// stash.appscode.com/backup-blueprint and stash.appscode.com/schedule read where ours
	// are not set. A workload also names what to back up with stashflow.dev/target-paths
	// (required) and stashflow.dev/volume-mounts, or Stash's keys of the same names.
	// +optional
	Annotations *BlueprintAnnotations `json:"annotations,omitempty"`
}

// BlueprintAnnotations are the annotation keys a BackupBlueprint reads on a target.
// +kubebuilder:validation:MinProperties=1
type BlueprintAnnotations struct {
	// blueprint is the key whose value names the blueprint. Default
	// "stashflow.dev/backup-blueprint" (see AnnotationBackupBlueprint).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Blueprint string `json:"blueprint,omitempty"`

	// schedule is the key whose value overrides spec.schedule. Default
	// "stashflow.dev/schedule" (see AnnotationSchedule).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Schedule string `json:"schedule,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=backupblueprints,scope=Cluster,categories=stashflow
// +kubebuilder:printcolumn:name="Task",type="string",JSONPath=".spec.task.name"
// +kubebuilder:printcolumn:name="Schedule",type="string",JSONPath=".spec.schedule"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// BackupBlueprint is a template that turns an annotation on a workload or AppBinding into
// a Repository and a BackupConfiguration.
type BackupBlueprint struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the template.
	// +required
	Spec BackupBlueprintSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// BackupBlueprintList is a list of BackupBlueprints.
type BackupBlueprintList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the BackupBlueprints.
	Items []BackupBlueprint `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &BackupBlueprint{}, &BackupBlueprintList{})
}

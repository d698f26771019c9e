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

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types shared by the kinds. Controllers set them through one helper that stamps
// observedGeneration; these are the names, so that every controller spells them alike.
const (
	// ConditionReady summarises the object: True when it can do its job.
	ConditionReady = "Ready"
	// ConditionRepositoryFound means the referenced Repository exists and allows this namespace.
	ConditionRepositoryFound = "RepositoryFound"
	// ConditionBackendSecretFound means the Repository's storage Secret exists.
	ConditionBackendSecretFound = "BackendSecretFound"
	// ConditionTargetFound means the target object exists.
	ConditionTargetFound = "TargetFound"
	// ConditionTaskResolved means the Task and all its Functions exist.
	ConditionTaskResolved = "TaskResolved"
	// ConditionWorkflowCreated means the session's workflow was submitted to the engine.
	ConditionWorkflowCreated = "WorkflowCreated"
	// ConditionTimeOutNotExceeded means the session has not passed its deadline.
	ConditionTimeOutNotExceeded = "TimeOutNotExceeded"
	// ConditionPreHookSucceeded means the pre-backup or pre-restore hook succeeded.
	ConditionPreHookSucceeded = "PreHookSucceeded"
	// ConditionPostHookSucceeded means the post-backup or post-restore hook succeeded.
	ConditionPostHookSucceeded = "PostHookSucceeded"
	// ConditionRetentionPolicyApplied means restic forget ran with the retention policy.
	ConditionRetentionPolicyApplied = "RetentionPolicyApplied"
	// ConditionBackupHistoryCleaned means old sessions beyond backupHistoryLimit were deleted.
	ConditionBackupHistoryCleaned = "BackupHistoryCleaned"
	// ConditionIntegrityVerified (a Repository's) is True when the last integrity check found no
	// error, False when it found one, Unknown while one runs or before the first.
	ConditionIntegrityVerified = "IntegrityVerified"
	// ConditionVerified means the repository or snapshot passed restic check.
	ConditionVerified = "Verified"
)

// Condition is an observation of one aspect of an object's state: metav1.Condition's fields
// and rules, with Stash's two differences (kmodules.xyz/client-go/api/v1 Condition, which
// Stash writes) so that a status exported from a Stash cluster applies as it is:
// reason and message may be absent, and a condition may carry a severity.
// stashflow's controllers always write a reason and never a severity.
type Condition struct {
	// type of the condition, in CamelCase or in foo.example.com/CamelCase.
	// +required
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`
	// +kubebuilder:validation:MaxLength=316
	Type string `json:"type"`

	// status of the condition: True, False or Unknown.
	// +required
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status metav1.ConditionStatus `json:"status"`

	// observedGeneration is the metadata.generation the condition was set for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastTransitionTime is when the condition last changed status.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=date-time
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`

	// reason is a CamelCase word for the condition's last transition. stashflow always sets it;
	// Stash may leave it out.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`
	Reason string `json:"reason,omitempty"`

	// message is a human readable account of the transition.
	// +optional
	// +kubebuilder:validation:MaxLength=32768
	Message string `json:"message,omitempty"`

	// severity classifies a False condition, as Stash's conditions may (Error, Warning or
	// Info). Kept as written; stashflow never writes it, and a condition stashflow sets has
	// none.
	// +optional
	Severity ConditionSeverity `json:"severity,omitempty"`
}

// ConditionSeverity is how bad a False condition is, in Stash's (kmodules') words.
// +kubebuilder:validation:Enum=Error;Warning;Info
type ConditionSeverity string

// The severities Stash's conditions may carry.
const (
	ConditionSeverityError   ConditionSeverity = "Error"
	ConditionSeverityWarning ConditionSeverity = "Warning"
	ConditionSeverityInfo    ConditionSeverity = "Info"
)

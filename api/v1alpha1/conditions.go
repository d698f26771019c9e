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

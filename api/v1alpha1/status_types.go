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

// This file holds the status types that BackupSession, RestoreSession and RestoreBatch
// share: where the run's workflow lives, and the outcome of each step and hook.

// Engine is the workflow engine that runs a session's DAG.
// +kubebuilder:validation:Enum=argo;local
type Engine string

const (
	// EngineArgo runs the DAG as an Argo Workflow.
	EngineArgo Engine = "argo"
	// EngineLocal runs the DAG in the operator's embedded engine.
	EngineLocal Engine = "local"
)

// WorkflowRef says which engine runs a session and under which name.
type WorkflowRef struct {
	// engine is argo or local.
	// +required
	Engine Engine `json:"engine,omitempty"`

	// name of the Argo Workflow, or the local engine's run id.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// namespace of the Argo Workflow. Empty for the local engine.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// uiURL links to the workflow in the engine's UI, when there is one.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	UIURL string `json:"uiURL,omitempty"`
}

// StepPhase is the phase of one step or hook of a session's DAG.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type StepPhase string

const (
	// StepPending has not started.
	StepPending StepPhase = "Pending"
	// StepRunning has started and not finished.
	StepRunning StepPhase = "Running"
	// StepSucceeded finished with success.
	StepSucceeded StepPhase = "Succeeded"
	// StepFailed finished with failure, or errored, or timed out.
	StepFailed StepPhase = "Failed"
	// StepSkipped did not run: a step it depends on failed, or its execution policy said no.
	StepSkipped StepPhase = "Skipped"
)

// StepStatus is the outcome of one Function step.
type StepStatus struct {
	// name of the step in the DAG, unique within its target.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// function the step runs.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Function string `json:"function,omitempty"`

	// phase of the step.
	// +optional
	Phase StepPhase `json:"phase,omitempty"`

	// message explains the phase, e.g. the tail of a failed step's error.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// startedAt is when the step started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// finishedAt is when the step finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// HookStatus is the outcome of one hook.
type HookStatus struct {
	// name of the hook in the DAG, e.g. "pre-backup-hook".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// phase of the hook. Skipped means its executionPolicy did not match, or a step it
	// depends on failed.
	// +optional
	Phase StepPhase `json:"phase,omitempty"`

	// message explains the phase.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`

	// startedAt is when the hook started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// finishedAt is when the hook finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// TargetPhase is the phase of one target of a session.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type TargetPhase string

const (
	// TargetPending has not started.
	TargetPending TargetPhase = "Pending"
	// TargetRunning has started.
	TargetRunning TargetPhase = "Running"
	// TargetSucceeded finished: every step and hook succeeded or was skipped by policy.
	TargetSucceeded TargetPhase = "Succeeded"
	// TargetFailed finished with a failed step or pre hook.
	TargetFailed TargetPhase = "Failed"
	// TargetSkipped did not run, e.g. the global pre hook failed.
	TargetSkipped TargetPhase = "Skipped"
)

// HostPhase is the phase of one host of a target. Unknown is Stash's, for a restore whose
// outcome it could not read; stashflow never writes it.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Unknown
type HostPhase string

const (
	// HostPending has not started.
	HostPending HostPhase = "Pending"
	// HostRunning has started.
	HostRunning HostPhase = "Running"
	// HostSucceeded finished with success.
	HostSucceeded HostPhase = "Succeeded"
	// HostFailed finished with failure.
	HostFailed HostPhase = "Failed"
)

// SnapshotStats is Stash's record of one snapshot of a host, kept so that a BackupSession
// exported from Stash applies. stashflow writes one entry per host from the step's outputs
// (name, totalSize, uploaded, processingTime, fileStats.totalFiles); sizes are Stash's
// formatted strings here.
type SnapshotStats struct {
	// name is the snapshot's id.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// path is the directory backed up (Stash's; not written).
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Path string `json:"path,omitempty"`

	// totalSize is the size of the data backed up, e.g. "1.2 GiB".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TotalSize string `json:"totalSize,omitempty"`

	// size is older Stash releases' name of totalSize (accepted, not written).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Size string `json:"size,omitempty"`

	// uploaded is the size of the data sent to the backend, e.g. "10 MiB".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Uploaded string `json:"uploaded,omitempty"`

	// processingTime is how long the backup of this snapshot took.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ProcessingTime string `json:"processingTime,omitempty"`

	// fileStats counts the snapshot's files.
	// +optional
	FileStats *FileStats `json:"fileStats,omitempty"`
}

// FileStats are Stash's file counts of one snapshot; stashflow writes totalFiles.
type FileStats struct {
	// totalFiles is the number of files backed up.
	// +optional
	TotalFiles *int64 `json:"totalFiles,omitempty"`
	// newFiles is the number of files new since the last backup (accepted, not written).
	// +optional
	NewFiles *int64 `json:"newFiles,omitempty"`
	// modifiedFiles is the number of files changed since the last backup (accepted, not written).
	// +optional
	ModifiedFiles *int64 `json:"modifiedFiles,omitempty"`
	// unmodifiedFiles is the number of files unchanged since the last backup (accepted, not written).
	// +optional
	UnmodifiedFiles *int64 `json:"unmodifiedFiles,omitempty"`
}

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

// RestoreBatchMember is one target of a RestoreBatch, with its own task and hooks.
// +kubebuilder:validation:XValidation:rule="has(self.target)",message="every entry of spec.members must set target"
// +kubebuilder:validation:XValidation:rule="!has(self.rules) || !has(self.target) || !has(self.target.rules)",message="set a member's rules in target.rules or in rules (Stash's older place), not both"
type RestoreBatchMember struct {
	RestoreTargetSpec `json:",inline"`
}

// RestoreBatchSpec restores several targets from one Repository in one run.
type RestoreBatchSpec struct {
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

	// members are the targets to restore, each with its task, rules and local hooks.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Members []RestoreBatchMember `json:"members,omitempty"`

	// hooks are the global hooks: preRestore runs before every member, postRestore after
	// all of them.
	// +optional
	Hooks *RestoreHooks `json:"hooks,omitempty"`

	// executionOrder is Parallel (the default) or Sequential. See RestoreBatchSpec.Order.
	// +optional
	ExecutionOrder ExecutionOrder `json:"executionOrder,omitempty"`

	// timeOut fails the restore if it runs longer, a Go duration such as "30m" or "1h30m".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.timeOut must be a duration such as 30m or 1h30m"
	TimeOut string `json:"timeOut,omitempty"`

	// runtimeSettings apply to every member's steps and to the global hooks; a member's own
	// runtimeSettings win over these.
	// +optional
	RuntimeSettings *RuntimeSettings `json:"runtimeSettings,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=restorebatches,scope=Namespaced,shortName=rb,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Repository",type="string",JSONPath=".spec.repository.name"
// +kubebuilder:printcolumn:name="Order",type="string",JSONPath=".spec.executionOrder"
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Duration",type="string",JSONPath=".status.sessionDuration"
// +kubebuilder:printcolumn:name="Workflow",type="string",JSONPath=".status.workflow.name",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// RestoreBatch restores several targets, in parallel or in sequence, once. It is its own
// session: its status has the same shape as a RestoreSession's.
type RestoreBatch struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec lists the members and how to restore them.
	// +required
	Spec RestoreBatchSpec `json:"spec"`

	// status is the outcome of the restore; targets has one entry per member.
	// +optional
	Status RestoreSessionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RestoreBatchList is a list of RestoreBatches.
type RestoreBatchList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the RestoreBatches.
	Items []RestoreBatch `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &RestoreBatch{}, &RestoreBatchList{})
}

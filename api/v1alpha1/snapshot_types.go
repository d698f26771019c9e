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

// SnapshotSpec describes one restic snapshot in a Repository. The operator writes it after
// a backup (and when it lists a repository); users read it and name it in restore rules.
// Unlike Stash, whose Snapshots come from an aggregated API server, stashflow stores them
// as objects, so they can be listed, labelled and watched without reaching the backend.
type SnapshotSpec struct {
	// repository that holds the snapshot.
	// +required
	Repository ObjectRef `json:"repository"`

	// snapshotID is restic's full snapshot id.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	SnapshotID string `json:"snapshotID,omitempty"`

	// time the snapshot was taken.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`

	// hostname of the snapshot (restic --host).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname,omitempty"`

	// paths backed up in the snapshot.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	Paths []string `json:"paths,omitempty"`

	// tags of the snapshot.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=128
	Tags []string `json:"tags,omitempty"`

	// size is the number of bytes the snapshot holds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Size *int64 `json:"size,omitempty"`

	// session is the name of the BackupSession that took the snapshot.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Session string `json:"session,omitempty"`

	// username of the user who took the snapshot.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Username string `json:"username,omitempty"`

	// uid of the user who took the snapshot.
	// +optional
	// +kubebuilder:validation:Minimum=0
	UID *int64 `json:"uid,omitempty"`

	// gid of the user who took the snapshot.
	// +optional
	// +kubebuilder:validation:Minimum=0
	GID *int64 `json:"gid,omitempty"`
}

// SnapshotStatus is what the operator learned checking the snapshot.
type SnapshotStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// verified is the result of the last check of the snapshot's data.
	// +optional
	Verified *bool `json:"verified,omitempty"`

	// lastVerifiedTime is when the snapshot was last checked.
	// +optional
	LastVerifiedTime *metav1.Time `json:"lastVerifiedTime,omitempty"`

	// conditions: Verified.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`

	// The fields below are Stash's Snapshot status: restic's record of the snapshot, written
	// by the Repository controller from what the backend holds after each of its runs (a
	// Snapshot exported from Stash applies with them too).

	// tree is the id of the snapshot's root tree.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Tree string `json:"tree,omitempty"`

	// paths backed up.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=4096
	Paths []string `json:"paths,omitempty"`

	// hostname of the snapshot.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Hostname string `json:"hostname,omitempty"`

	// username that made the snapshot.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Username string `json:"username,omitempty"`

	// uid of that user.
	// +optional
	UID *int64 `json:"uid,omitempty"`

	// gid of that user.
	// +optional
	GID *int64 `json:"gid,omitempty"`

	// tags of the snapshot.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	Tags []string `json:"tags,omitempty"`

	// repository is the name of the Repository the snapshot is in.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Repository string `json:"repository,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=snapshots,scope=Namespaced,shortName=snap,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="ID",type="string",JSONPath=".spec.snapshotID"
// +kubebuilder:printcolumn:name="Repository",type="string",JSONPath=".spec.repository.name"
// +kubebuilder:printcolumn:name="Hostname",type="string",JSONPath=".spec.hostname"
// +kubebuilder:printcolumn:name="Size",type="integer",JSONPath=".spec.size"
// +kubebuilder:printcolumn:name="Time",type="date",JSONPath=".spec.time"
// +kubebuilder:printcolumn:name="Verified",type="boolean",JSONPath=".status.verified",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// Snapshot is one restic snapshot of a Repository. Deleting the object forgets the snapshot
// in restic (a finalizer), except when its Repository or its namespace is being deleted.
type Snapshot struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the snapshot. The operator always writes it; a Snapshot exported from
	// Stash (its aggregated API served status only) has none, and applies without it.
	// +optional
	Spec SnapshotSpec `json:"spec,omitempty"`

	// status is what the operator learned checking it.
	// +optional
	Status SnapshotStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// SnapshotList is a list of Snapshots.
type SnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Snapshots.
	Items []Snapshot `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Snapshot{}, &SnapshotList{})
}

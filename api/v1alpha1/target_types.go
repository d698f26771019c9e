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
	corev1 "k8s.io/api/core/v1"
)

// ObjectRef points to a namespaced object, such as a Repository. Namespace defaults to the
// namespace of the object that holds the reference.
type ObjectRef struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// namespace of the referenced object. Empty means the referrer's namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// LocalObjectRef points to an object in the referrer's namespace.
type LocalObjectRef struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// TargetRef points to the object a backup reads or a restore writes: an AppBinding, a
// PersistentVolumeClaim, a Deployment, a StatefulSet and so on, in the session's namespace.
type TargetRef struct {
	// apiVersion of the target, e.g. "stashflow.dev/v1alpha1" or "v1". Stash's
	// "appcatalog.appscode.com/v1alpha1" is accepted for AppBindings.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion,omitempty"`

	// kind of the target, e.g. "AppBinding" or "PersistentVolumeClaim".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`

	// name of the target.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
}

// Param is a named value passed to a Task or a Function step; it fills ${NAME} in the step's
// arguments.
type Param struct {
	// name of the parameter.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`

	// value of the parameter. May be empty.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value,omitempty"`
}

// TaskRef names a Task and the parameters to run it with.
type TaskRef struct {
	// name of the Task. Unset (`task: {}`, as Stash writes it on a workload's
	// BackupConfiguration) means the Task is chosen from the target, as when task is unset;
	// params then go to that Task.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// params are passed to every step of the Task.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Params []Param `json:"params,omitempty"`
}

// BackupTarget says what to back up.
type BackupTarget struct {
	// alias is the host name under which the target's data is stored in the
	// repository (Stash's alias), instead of the target's name: several
	// targets of one name, or a target renamed, keep their own snapshots.
	// A restore reads the alias's snapshots. Workload targets name their
	// hosts as Stash does (host-0, …) and refuse an alias.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`
	Alias string `json:"alias,omitempty"`

	// ref points to the object to back up.
	// +required
	Ref TargetRef `json:"ref"`

	// paths are the file paths to back up, for targets backed up as files.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=4096
	Paths []string `json:"paths,omitempty"`

	// exclude lists patterns of files to leave out, in restic's --exclude syntax.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=4096
	Exclude []string `json:"exclude,omitempty"`

	// volumeMounts are the target's volumes to mount into the backup steps, for targets
	// backed up as files.
	// +optional
	// +listType=map
	// +listMapKey=mountPath
	// +kubebuilder:validation:MaxItems=32
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// RestoreTarget says where restored data goes.
type RestoreTarget struct {
	// alias is the host name under which the target's data is stored in the
	// repository (Stash's alias), instead of the target's name: several
	// targets of one name, or a target renamed, keep their own snapshots.
	// A restore reads the alias's snapshots. Workload targets name their
	// hosts as Stash does (host-0, …) and refuse an alias.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`
	Alias string `json:"alias,omitempty"`

	// ref points to the object to restore into.
	// +required
	Ref TargetRef `json:"ref"`

	// volumeMounts are the target's volumes to mount into the restore steps.
	// +optional
	// +listType=map
	// +listMapKey=mountPath
	// +kubebuilder:validation:MaxItems=32
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// rules choose what to restore for which host. Without rules, the latest snapshot of
	// every host is restored onto the host of the same name.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Rules []RestoreRule `json:"rules,omitempty"`
}

// RestoreRule chooses the snapshots and files restored onto a set of hosts.
type RestoreRule struct {
	// targetHosts are the hosts this rule applies to. Empty means every host not named by
	// another rule.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	TargetHosts []string `json:"targetHosts,omitempty"`

	// sourceHost is the host whose snapshots are restored. Empty (unset or "", as Stash's docs
	// write it) means each target host's own.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SourceHost string `json:"sourceHost,omitempty"`

	// snapshots are the restic snapshot IDs to restore, or "latest". Empty
	// means the latest snapshot of the source host, as in Stash.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	Snapshots []string `json:"snapshots,omitempty"`

	// paths limit the restore to these paths inside the snapshots.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=4096
	Paths []string `json:"paths,omitempty"`

	// include restores only files matching these patterns (restic's --include).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=4096
	Include []string `json:"include,omitempty"`

	// exclude skips files matching these patterns (restic's --exclude).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=4096
	Exclude []string `json:"exclude,omitempty"`
}

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TaskSpec is an ordered list of Function steps and the volumes they share.
type TaskSpec struct {
	// steps run one after another, in list order. Each names a Function; names are unique.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Steps []FunctionRef `json:"steps,omitempty"`

	// volumes the steps mount. Their fields may use ${VAR} like Function args.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Volumes []TaskVolume `json:"volumes,omitempty"`
}

// FunctionRef is one step of a Task: a Function and its params.
type FunctionRef struct {
	// name of the Function; also the step's name in the DAG.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// params fill ${NAME} in the Function's args, over the Task's params.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Params []Param `json:"params,omitempty"`
}

// TaskVolume is a volume shared by a Task's steps. It is a small subset of corev1.Volume
// (whose full schema would make the CRD huge): exactly one source of emptyDir, hostPath,
// persistentVolumeClaim, secret or configMap.
// +kubebuilder:validation:XValidation:rule="[has(self.emptyDir), has(self.hostPath), has(self.persistentVolumeClaim), has(self.secret), has(self.configMap)].filter(x, x).size() == 1",message="exactly one of emptyDir, hostPath, persistentVolumeClaim, secret or configMap must be set in volumes[]"
type TaskVolume struct {
	// name of the volume, referred to by the Functions' volumeMounts.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// emptyDir is a scratch directory.
	// +optional
	EmptyDir *corev1.EmptyDirVolumeSource `json:"emptyDir,omitempty"`

	// hostPath is a directory on the node.
	// +optional
	HostPath *corev1.HostPathVolumeSource `json:"hostPath,omitempty"`

	// persistentVolumeClaim is a claim in the session's namespace.
	// +optional
	PersistentVolumeClaim *corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`

	// secret is a Secret in the session's namespace.
	// +optional
	Secret *corev1.SecretVolumeSource `json:"secret,omitempty"`

	// configMap is a ConfigMap in the session's namespace.
	// +optional
	ConfigMap *corev1.ConfigMapVolumeSource `json:"configMap,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=tasks,scope=Cluster,categories=stashflow
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// Task is a named chain of Function steps, e.g. etcd-backup = [etcd-backup, retention].
type Task struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the steps and their volumes.
	// +required
	Spec TaskSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// TaskList is a list of Tasks.
type TaskList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Tasks.
	Items []Task `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Task{}, &TaskList{})
}

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

// FunctionSpec is one step program: a container image and its command. Arguments may use
// ${VAR} and ${VAR:=default}, filled from Task and session params and the resolved
// Repository, target and session.
type FunctionSpec struct {
	// image runs the step, e.g. "ghcr.io/stashflow/stashflow:v0.1.0".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// command is the entrypoint, e.g. ["stashflow", "fn", "etcd-backup"].
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	Command []string `json:"command,omitempty"`

	// args are the arguments to the entrypoint.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=4096
	Args []string `json:"args,omitempty"`

	// workingDir of the step.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	WorkingDir string `json:"workingDir,omitempty"`

	// env of the step.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Env []corev1.EnvVar `json:"env,omitempty"`

	// volumeMounts of the step; the volumes come from the Task.
	// +optional
	// +listType=map
	// +listMapKey=mountPath
	// +kubebuilder:validation:MaxItems=32
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`

	// runtimeSettings are the Function's own container settings; a session's
	// runtimeSettings win over these.
	// +optional
	RuntimeSettings *ContainerRuntimeSettings `json:"runtimeSettings,omitempty"`

	// outputs are files the step writes; the engine reads each into an output parameter of
	// the same name (e.g. snapshotID, size, uploaded, files, duration).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Outputs []FunctionOutput `json:"outputs,omitempty"`
}

// FunctionOutput is an output parameter read from a file.
type FunctionOutput struct {
	// name of the output parameter.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z][a-zA-Z0-9_-]*$')",message="outputs[].name must start with a letter and hold only letters, digits, '-' and '_'"
	Name string `json:"name,omitempty"`

	// path of the file the step writes the value into.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="outputs[].path must be an absolute path"
	Path string `json:"path,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=functions,scope=Cluster,shortName=fn,categories=stashflow
// +kubebuilder:printcolumn:name="Image",type="string",JSONPath=".spec.image"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// Function is one step program that Tasks chain together.
type Function struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the step's container.
	// +required
	Spec FunctionSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// FunctionList is a list of Functions.
type FunctionList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Functions.
	Items []Function `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Function{}, &FunctionList{})
}

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
	"k8s.io/apimachinery/pkg/api/resource"
)

// RuntimeSettings tune the containers and pods that run a session's steps. It is a small
// subset of Stash's runtimeSettings (kmodules offshoot-api): the fields a backup step needs.
// +kubebuilder:validation:MinProperties=1
type RuntimeSettings struct {
	// container settings apply to every step container.
	// +optional
	Container *ContainerRuntimeSettings `json:"container,omitempty"`

	// pod settings apply to every step pod (Argo engine only; the local engine has no pods).
	// +optional
	Pod *PodRuntimeSettings `json:"pod,omitempty"`
}

// ContainerRuntimeSettings tune one step container or process.
// +kubebuilder:validation:MinProperties=1
type ContainerRuntimeSettings struct {
	// resources are the step container's requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// env adds environment variables to the step, after the Function's own.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Env []corev1.EnvVar `json:"env,omitempty"`

	// securityContext of the step container.
	// +optional
	SecurityContext *corev1.SecurityContext `json:"securityContext,omitempty"`

	// nice sets the CPU scheduling priority of the step process.
	// +optional
	Nice *NiceSettings `json:"nice,omitempty"`

	// ionice sets the I/O scheduling class and priority of the step process.
	// +optional
	IONice *IONiceSettings `json:"ionice,omitempty"`
}

// NiceSettings are the arguments of nice(1).
type NiceSettings struct {
	// adjustment is the niceness adjustment, from -20 (most favourable) to 19.
	// +required
	// +kubebuilder:validation:Minimum=-20
	// +kubebuilder:validation:Maximum=19
	Adjustment *int32 `json:"adjustment,omitempty"`
}

// IONiceSettings are the arguments of ionice(1).
// +kubebuilder:validation:MinProperties=1
type IONiceSettings struct {
	// class is the I/O scheduling class: 1 realtime, 2 best-effort, 3 idle.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3
	Class *int32 `json:"class,omitempty"`

	// classData is the priority within the class, 0 (highest) to 7.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=7
	ClassData *int32 `json:"classData,omitempty"`
}

// PodRuntimeSettings tune the pods that run a session's steps.
// +kubebuilder:validation:MinProperties=1
type PodRuntimeSettings struct {
	// serviceAccountName runs the step pods as this ServiceAccount. Steps never call the
	// Kubernetes API, so the default ServiceAccount is usually right.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// nodeSelector constrains the step pods to nodes with these labels.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// priorityClassName of the step pods.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// StorageMedium is where an EmptyDir lives.
// +kubebuilder:validation:Enum="";Memory
type StorageMedium string

// EmptyDirSettings configure the scratch directory mounted at /tmp in every step.
type EmptyDirSettings struct {
	// medium is "" (node disk) or "Memory" (tmpfs).
	// +optional
	Medium StorageMedium `json:"medium,omitempty"`

	// sizeLimit caps the scratch directory.
	// +optional
	SizeLimit *resource.Quantity `json:"sizeLimit,omitempty"`

	// disableCaching turns restic's local cache off (restic --no-cache) in
	// every step of the target.
	// +optional
	DisableCaching bool `json:"disableCaching,omitempty"`
}

// PersistentVolumeClaimTemplate describes a PersistentVolumeClaim the operator creates for
// a session, e.g. the interim volume that holds a dump before it is uploaded.
type PersistentVolumeClaimTemplate struct {
	// metadata of the claim. The name defaults to "<session>-interim".
	// +optional
	Metadata *TemplateMetadata `json:"metadata,omitempty"`

	// spec of the claim.
	// +required
	Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
}

// TemplateMetadata is the part of ObjectMeta a template may set.
// +kubebuilder:validation:MinProperties=1
type TemplateMetadata struct {
	// name of the created object.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// labels added to the created object.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to the created object.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RetryConfig says how often and how soon a failed session is retried. A retry is a new
// session whose spec.retryLeft is one less.
type RetryConfig struct {
	// maxRetry is the number of retries after the first failure. 0 means no retry.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxRetry *int32 `json:"maxRetry,omitempty"`

	// delay is the wait before a retry, a Go duration such as "30s" or "5m".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="retryConfig.delay must be a duration such as 30s, 5m or 1h30m"
	Delay string `json:"delay,omitempty"`
}

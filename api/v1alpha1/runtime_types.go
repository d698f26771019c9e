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
	"k8s.io/apimachinery/pkg/runtime"
)

// RuntimeSettings tune the containers and pods that run a session's steps. They are Stash's
// runtimeSettings (kmodules offshoot-api ofst.RuntimeSettings), field for field: what a
// run-to-completion step can use reaches the step pods on the Argo engine; what cannot
// (probes, sidecars, ServiceAccount annotations) is refused at admission, naming the field.
// An empty runtimeSettings ({}) sets nothing, as in Stash, which writes it so on the
// BackupConfigurations it creates from a BackupBlueprint.
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
// +kubebuilder:validation:XValidation:rule="!has(self.livenessProbe)",message="runtimeSettings.container.livenessProbe is not supported: a step runs to completion and is never restarted; bound it with the session's timeout instead"
// +kubebuilder:validation:XValidation:rule="!has(self.readinessProbe)",message="runtimeSettings.container.readinessProbe is not supported: a step serves no traffic, so its readiness means nothing; remove it"
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

	// envFrom adds every key of ConfigMaps and Secrets as environment variables of the step
	// (Argo engine; the local engine refuses it).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`

	// lifecycle hooks of the step container (Argo engine; the local engine refuses it).
	// +optional
	Lifecycle *corev1.Lifecycle `json:"lifecycle,omitempty"`

	// livenessProbe is Stash's field; it is refused (see the type's validation).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	LivenessProbe *runtime.RawExtension `json:"livenessProbe,omitempty"`

	// readinessProbe is Stash's field; it is refused (see the type's validation).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	ReadinessProbe *runtime.RawExtension `json:"readinessProbe,omitempty"`

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

// PodRuntimeSettings tune the pods that run a session's steps (Argo engine; the local engine,
// which has no pods, refuses every one of them naming the field).
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccountAnnotations)",message="runtimeSettings.pod.serviceAccountAnnotations is not supported: stashflow creates no ServiceAccount; annotate your own and name it in runtimeSettings.pod.serviceAccountName"
// +kubebuilder:validation:XValidation:rule="!has(self.sidecars)",message="runtimeSettings.pod.sidecars is not supported: a step pod runs one container to completion; run a sidecar's work as a hook (spec.hooks) instead"
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

	// podAnnotations are added to the step pods' annotations.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`

	// serviceAccountAnnotations is Stash's field; it is refused (see the type's validation).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	ServiceAccountAnnotations map[string]string `json:"serviceAccountAnnotations,omitempty"`

	// automountServiceAccountToken false keeps the ServiceAccount's token out of the step
	// containers (steps never call the Kubernetes API). Argo then mounts a token into its own
	// executor containers only, that of the same ServiceAccount (see docs/engines-argo.md).
	// +optional
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`

	// nodeName runs the step pods on this node, bypassing the scheduler.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	NodeName string `json:"nodeName,omitempty"`

	// securityContext of the step pods.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`

	// imagePullSecrets used to pull the step images.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// affinity of the step pods. A step that must run where a workload's volume is mounted
	// keeps that constraint too.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// schedulerName dispatches the step pods to this scheduler.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SchedulerName string `json:"schedulerName,omitempty"`

	// tolerations of the step pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// priority of the step pods. The Priority admission plugin refuses a value that differs
	// from the one of priorityClassName (or of the default class).
	// +optional
	Priority *int32 `json:"priority,omitempty"`

	// readinessGates of the step pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ReadinessGates []corev1.PodReadinessGate `json:"readinessGates,omitempty"`

	// runtimeClassName of the step pods.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`

	// enableServiceLinks sets whether services are injected as environment variables of
	// the step pods.
	// +optional
	EnableServiceLinks *bool `json:"enableServiceLinks,omitempty"`

	// topologySpreadConstraints of the step pods.
	// +optional
	// +listType=map
	// +listMapKey=topologyKey
	// +listMapKey=whenUnsatisfiable
	// +kubebuilder:validation:MaxItems=16
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// sidecars is Stash's field; it is refused (see the type's validation).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:items:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Sidecars []runtime.RawExtension `json:"sidecars,omitempty"`
}

// StorageMedium is where an EmptyDir lives.
// +kubebuilder:validation:Enum="";Memory
type StorageMedium string

// EmptyDirSettings configure the scratch volume mounted at /stashflow/interim in every step: on
// Argo it also holds the step's temporary files ($TMPDIR) and restic's cache, as Stash's does.
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
	// metadata of the claim. Its name names the steps' volume (a DNS label); the claim is
	// <session>-<name>, by default <session>-interim-volume (a batch member's default is
	// prefixed with the member's step prefix).
	// +optional
	Metadata *TemplateMetadata `json:"metadata,omitempty"`

	// spec of the claim.
	// +required
	Spec corev1.PersistentVolumeClaimSpec `json:"spec"`

	// status is accepted only empty (`status: {}`), as Stash writes it on the
	// BackupConfigurations it makes from a BackupBlueprint: a claim's status is the
	// apiserver's, and any field in it is refused by strict decoding, naming the field.
	// +optional
	Status *ClaimTemplateStatus `json:"status,omitempty"`
}

// ClaimTemplateStatus is the empty status of a claim template; it has no fields.
type ClaimTemplateStatus struct{}

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

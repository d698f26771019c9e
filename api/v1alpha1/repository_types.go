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

// RepositorySpec says where a restic repository lives and who may use it.
// +kubebuilder:validation:XValidation:rule="!has(self.wipeOut) || !self.wipeOut || !(has(self.backend.b2) || has(self.backend.swift))",message="wipeOut: true is supported for backend.local, s3, gcs, azure and rest only, not for b2 or swift (stashflow deletes only restic's files of the repository); set wipeOut to false and delete the data of this backend by hand",fieldPath=".wipeOut"
type RepositorySpec struct {
	// backend is the storage that holds the restic repository.
	// +required
	Backend Backend `json:"backend"`

	// usagePolicy limits the namespaces whose BackupConfigurations, BackupBatches and
	// RestoreSessions may use this Repository. Empty means the Repository's own namespace.
	// +optional
	UsagePolicy *UsagePolicy `json:"usagePolicy,omitempty"`

	// wipeOut deletes the repository's data from the backend when the Repository is
	// deleted (Stash's): the operator opens the repository with its Secret, then removes
	// restic's files (config, keys, data, index, snapshots, locks) and nothing else, once no
	// session uses it. With false (the default) deleting the Repository, or its Snapshot
	// objects with it, keeps every snapshot in the backend. Supported for backend.local,
	// s3, gcs, azure and rest: on an object store only restic's own objects under the
	// prefix (config, keys/, locks/, snapshots/, index/, data/) are deleted, never
	// another object or a repository nested under the prefix. Refused for b2 and swift.
	// +optional
	WipeOut bool `json:"wipeOut,omitempty"`

	// integrityCheck runs `restic check` on the repository on a schedule (stashflow's own
	// field; Stash has none). The Repository controller runs it on the operator's engine, one
	// run at a time, once no session uses the Repository, and writes status.integrity,
	// status.lastIntegrityCheckTime and the IntegrityVerified condition. A check is also run
	// on demand when the annotation stashflow.dev/check-requested changes value.
	// +optional
	IntegrityCheck *IntegrityCheck `json:"integrityCheck,omitempty"`
}

// IntegrityCheck says when the Repository controller checks the repository, and how much of
// its data it reads.
type IntegrityCheck struct {
	// schedule is a cron expression (5 or 6 fields, with an optional CRON_TZ= prefix) or a
	// descriptor such as @daily or @every 24h. Unset: checks run only on demand.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^((CRON_TZ|TZ)=[^ ]+ +)?([^ @]+( +[^ ]+){4,5}|@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every +[0-9][0-9a-z.]*)$')",message="spec.integrityCheck.schedule must be a cron expression of 5 or 6 fields or a descriptor such as @daily or @every 24h"
	Schedule string `json:"schedule,omitempty"`

	// readDataSubset also reads and verifies a part of the data (restic check
	// --read-data-subset): "n/t" (part n of t, t at most 256), "x%" (a random x percent) or a
	// size such as "500M" (k, m, g or t suffix). Unset: only the structure is checked (the
	// index, the snapshots' trees and that every pack file exists with its size).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,3}/[0-9]{1,3}$') ? (int(self.split('/')[0]) >= 1 && int(self.split('/')[0]) <= int(self.split('/')[1]) && int(self.split('/')[1]) <= 256) : (self.matches('^[0-9]{1,3}([.][0-9]{1,6})?%$') ? (double(self.replace('%', '')) > 0.0 && double(self.replace('%', '')) <= 100.0) : self.matches('^0*[1-9][0-9]{0,15}[bBkKmMgGtT]?$'))",message="spec.integrityCheck.readDataSubset must be n/t (1 <= n <= t <= 256), a percentage above 0% and at most 100% such as 10% or 2.5%, or a size such as 500M"
	ReadDataSubset string `json:"readDataSubset,omitempty"`
}

// Backend is one restic backend: exactly one of local, s3, gcs, azure, b2, swift or rest.
// +kubebuilder:validation:XValidation:rule="[has(self.local), has(self.s3), has(self.gcs), has(self.azure), has(self.b2), has(self.swift), has(self.rest)].filter(x, x).size() == 1",message="exactly one of backend.local, backend.s3, backend.gcs, backend.azure, backend.b2, backend.swift or backend.rest must be set"
type Backend struct {
	// storageSecretName names the Secret, in the Repository's namespace, that holds
	// RESTIC_PASSWORD and the backend's credentials (AWS_ACCESS_KEY_ID, GOOGLE_SERVICE_ACCOUNT_JSON_KEY,
	// AZURE_ACCOUNT_NAME, ... as in Stash).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	StorageSecretName string `json:"storageSecretName,omitempty"`

	// local is a directory on a volume: a hostPath or a PersistentVolumeClaim.
	// +optional
	Local *LocalSpec `json:"local,omitempty"`

	// s3 is an Amazon S3 or S3-compatible bucket (MinIO, Ceph RGW, ...).
	// +optional
	S3 *S3Spec `json:"s3,omitempty"`

	// gcs is a Google Cloud Storage bucket.
	// +optional
	GCS *GCSSpec `json:"gcs,omitempty"`

	// azure is an Azure Blob Storage container.
	// +optional
	Azure *AzureSpec `json:"azure,omitempty"`

	// b2 is a Backblaze B2 bucket.
	// +optional
	B2 *B2Spec `json:"b2,omitempty"`

	// swift is an OpenStack Swift container.
	// +optional
	Swift *SwiftSpec `json:"swift,omitempty"`

	// rest is a restic REST server (rest-server).
	// +optional
	Rest *RestServerSpec `json:"rest,omitempty"`
}

// LocalSpec is a directory on a volume. Like Stash's, it takes the volume source inline;
// stashflow supports hostPath and persistentVolumeClaim, exactly one of them.
// +kubebuilder:validation:XValidation:rule="[has(self.hostPath), has(self.persistentVolumeClaim)].filter(x, x).size() == 1",message="exactly one of backend.local.hostPath or backend.local.persistentVolumeClaim must be set"
type LocalSpec struct {
	// hostPath is a directory on the node (or on this machine, for the local engine).
	// +optional
	HostPath *corev1.HostPathVolumeSource `json:"hostPath,omitempty"`

	// persistentVolumeClaim is a claim in the session's namespace.
	// +optional
	PersistentVolumeClaim *corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`

	// mountPath is where the volume is mounted in the step containers.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="backend.local.mountPath must be an absolute path"
	MountPath string `json:"mountPath,omitempty"`

	// subPath is the directory inside the volume that holds the repository.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	SubPath string `json:"subPath,omitempty"`
}

// S3Spec is an S3 bucket.
type S3Spec struct {
	// endpoint of the S3 service, e.g. "s3.amazonaws.com" or "http://minio.storage:9000".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Endpoint string `json:"endpoint,omitempty"`

	// bucket name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Bucket string `json:"bucket,omitempty"`

	// prefix is the directory inside the bucket.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`

	// region of the bucket.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Region string `json:"region,omitempty"`

	// insecureTLS skips verification of the endpoint's TLS certificate.
	// +optional
	InsecureTLS bool `json:"insecureTLS,omitempty"`
}

// GCSSpec is a Google Cloud Storage bucket.
type GCSSpec struct {
	// bucket name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=222
	Bucket string `json:"bucket,omitempty"`

	// prefix is the directory inside the bucket.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`

	// maxConnections limits restic's concurrent connections to the backend.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	MaxConnections *int64 `json:"maxConnections,omitempty"`
}

// AzureSpec is an Azure Blob Storage container.
type AzureSpec struct {
	// container name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Container string `json:"container,omitempty"`

	// prefix is the directory inside the container.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`

	// maxConnections limits restic's concurrent connections to the backend.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	MaxConnections *int64 `json:"maxConnections,omitempty"`
}

// B2Spec is a Backblaze B2 bucket.
type B2Spec struct {
	// bucket name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Bucket string `json:"bucket,omitempty"`

	// prefix is the directory inside the bucket.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`

	// maxConnections limits restic's concurrent connections to the backend.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	MaxConnections *int64 `json:"maxConnections,omitempty"`
}

// SwiftSpec is an OpenStack Swift container.
type SwiftSpec struct {
	// container name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Container string `json:"container,omitempty"`

	// prefix is the directory inside the container.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`
}

// RestServerSpec is a restic rest-server. Credentials never go into the url, where every
// step's environment, a rendered Workflow and a session's plan would show them: they come
// from the storage Secret, as in Stash.
// +kubebuilder:validation:XValidation:rule="!has(self.url) || !self.url.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@')",message="backend.rest.url must not hold credentials (user:password@host): put them in the storage Secret as REST_SERVER_USERNAME and REST_SERVER_PASSWORD",fieldPath=".url"
type RestServerSpec struct {
	// url of the repository on the server, e.g. "https://rest.backup:8000/etcd", without
	// credentials: the user name and password come from REST_SERVER_USERNAME and
	// REST_SERVER_PASSWORD in the storage Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('http://') || self.startsWith('https://')",message="backend.rest.url must start with http:// or https://"
	URL string `json:"url,omitempty"`
}

// UsagePolicy limits who may use a Repository.
type UsagePolicy struct {
	// allowedNamespaces are the namespaces whose objects may use the Repository.
	// +required
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces"`
}

// FromNamespaces chooses namespaces.
// +kubebuilder:validation:Enum=All;Same;Selector
type FromNamespaces string

const (
	// NamespacesFromAll allows every namespace.
	NamespacesFromAll FromNamespaces = "All"
	// NamespacesFromSame allows the Repository's own namespace only (the default).
	NamespacesFromSame FromNamespaces = "Same"
	// NamespacesFromSelector allows the namespaces matched by a label selector.
	NamespacesFromSelector FromNamespaces = "Selector"
)

// AllowedNamespaces chooses namespaces: all, the same one, or those matching a selector.
// +kubebuilder:validation:XValidation:rule="has(self.from) && self.from == 'Selector' ? has(self.selector) : !has(self.selector)",message="usagePolicy.allowedNamespaces.selector must be set when from is Selector, and only then"
type AllowedNamespaces struct {
	// from is All, Same (the default) or Selector.
	// +optional
	From FromNamespaces `json:"from,omitempty"`

	// selector matches the allowed namespaces by their labels, when from is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// TypedObjectReference names an object of any group, as Stash's status writes it.
type TypedObjectReference struct {
	// apiGroup of the object; empty for the core group.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	APIGroup string `json:"apiGroup,omitempty"`

	// kind of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`

	// namespace of the object.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// RepositoryStatus is what the operator last learned about the repository.
type RepositoryStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// firstBackupTime is when the first backup into this repository finished.
	// +optional
	FirstBackupTime *metav1.Time `json:"firstBackupTime,omitempty"`

	// lastBackupTime is when the last backup into this repository finished.
	// +optional
	LastBackupTime *metav1.Time `json:"lastBackupTime,omitempty"`

	// integrity is the result of the last `restic check` of the Repository controller's
	// integrity check (spec.integrityCheck or the stashflow.dev/check-requested annotation):
	// true when it found no error.
	// +optional
	Integrity *bool `json:"integrity,omitempty"`

	// lastIntegrityCheckTime is when the last integrity check started (its outcome is in the
	// IntegrityVerified condition).
	// +optional
	LastIntegrityCheckTime *metav1.Time `json:"lastIntegrityCheckTime,omitempty"`

	// checkRequest is the value of the stashflow.dev/check-requested annotation that the
	// last check requested on demand answered; a new value requests another check.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	CheckRequest string `json:"checkRequest,omitempty"`

	// totalSize is the repository's size on the backend, human readable (e.g. "1.2 GiB"), as in Stash.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TotalSize string `json:"totalSize,omitempty"`

	// snapshotCount is the number of snapshots in the repository.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SnapshotCount int64 `json:"snapshotCount,omitempty"`

	// snapshotsRemovedOnLastCleanup is how many snapshots the last retention run removed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	SnapshotsRemovedOnLastCleanup int64 `json:"snapshotsRemovedOnLastCleanup,omitempty"`

	// workflow is the run the Repository controller has on the engine, while it runs:
	// it initialises the repository, or reads its snapshots and size from the backend.
	// +optional
	Workflow *WorkflowRef `json:"workflow,omitempty"`

	// references are the objects that use this Repository, as a newer Stash lists them in
	// its status. Accepted so that a Repository exported from Stash applies; kept as
	// written: stashflow neither writes nor reads them (its sessions name their Repository).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	References []TypedObjectReference `json:"references,omitempty"`

	// refreshTime is when the last run that read this status from the backend started.
	// +optional
	RefreshTime *metav1.Time `json:"refreshTime,omitempty"`

	// conditions: Ready, BackendSecretFound, Initialized, IntegrityVerified.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=repositories,scope=Namespaced,shortName=repo,categories=stashflow
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Integrity",type="boolean",JSONPath=".status.integrity"
// +kubebuilder:printcolumn:name="Size",type="string",JSONPath=".status.totalSize"
// +kubebuilder:printcolumn:name="Snapshots",type="integer",JSONPath=".status.snapshotCount"
// +kubebuilder:printcolumn:name="Last-Backup",type="date",JSONPath=".status.lastBackupTime"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// Repository is a restic repository on a backend, with the Secret that opens it.
type Repository struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the repository's backend and usage policy.
	// +required
	Spec RepositorySpec `json:"spec"`

	// status is what the operator last learned about the repository.
	// +optional
	Status RepositoryStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RepositoryList is a list of Repositories.
type RepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Repositories.
	Items []Repository `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Repository{}, &RepositoryList{})
}

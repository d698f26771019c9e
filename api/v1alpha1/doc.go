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

// Package v1alpha1 holds the stashflow.dev/v1alpha1 API: the kinds a user writes to
// declare what to back up and restore (Repository, BackupConfiguration, BackupBatch,
// RestoreSession, RestoreBatch, BackupBlueprint, AppBinding), the catalog of steps
// (Function, Task), and the records the operator writes (BackupSession, Snapshot).
//
// Kinds and field names follow Stash (stash.appscode.com/v1beta1 and v1alpha1) so that a
// Stash manifest moves over by changing its apiVersion. Where stashflow departs from Stash
// the field's comment says so.
//
// The package holds types only. It imports apimachinery and k8s.io/api core types, never a
// client or controller-runtime. Validation lives in the CRD schema as markers: every field
// is +optional or +required, lists carry +listType, strings a MaxLength, numbers a Minimum,
// and cross-field rules are CEL (+kubebuilder:validation:XValidation) whose message names
// the field. There is no +kubebuilder:default: defaults are applied in code through small
// methods (see defaults.go) so that a stored object shows what the user wrote.
//
// +kubebuilder:object:generate=true
// +groupName=stashflow.dev
package v1alpha1

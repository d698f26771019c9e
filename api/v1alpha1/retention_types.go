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

// RetentionPolicy says which snapshots to keep after a backup (restic forget). The names
// are Stash's, which are restic's --keep-* flags.
// +kubebuilder:validation:XValidation:rule="has(self.keepLast) || has(self.keepHourly) || has(self.keepDaily) || has(self.keepWeekly) || has(self.keepMonthly) || has(self.keepYearly) || has(self.keepTags)",message="retentionPolicy must set at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly or keepTags"
type RetentionPolicy struct {
	// name of the policy, shown in events and metrics.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// keepLast keeps the last n snapshots.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepLast *int64 `json:"keepLast,omitempty"`

	// keepHourly keeps the last snapshot of each of the last n hours that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepHourly *int64 `json:"keepHourly,omitempty"`

	// keepDaily keeps the last snapshot of each of the last n days that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepDaily *int64 `json:"keepDaily,omitempty"`

	// keepWeekly keeps the last snapshot of each of the last n weeks that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepWeekly *int64 `json:"keepWeekly,omitempty"`

	// keepMonthly keeps the last snapshot of each of the last n months that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepMonthly *int64 `json:"keepMonthly,omitempty"`

	// keepYearly keeps the last snapshot of each of the last n years that have one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	KeepYearly *int64 `json:"keepYearly,omitempty"`

	// keepTags keeps every snapshot that has one of these tags. An entry
	// that lists several tags separated by commas keeps the snapshots that
	// have all of them (restic's --keep-tag a,b, as Stash passes it).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	KeepTags []string `json:"keepTags,omitempty"`

	// prune removes the data no kept snapshot refers to (restic forget --prune).
	// +optional
	Prune bool `json:"prune,omitempty"`

	// dryRun only reports what would be removed.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

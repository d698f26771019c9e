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
	"fmt"
	"time"
)

// The CRDs carry no +kubebuilder:default: a stored object shows what its author wrote, and
// the defaults below are applied by the code that reads it. Each method is safe on a nil
// receiver where that is natural.

// DefaultBackupHistoryLimit is the number of finished BackupSessions kept when
// backupHistoryLimit is not set (Stash's default).
const DefaultBackupHistoryLimit int32 = 1

// Order returns the batch's execution order, Parallel when not set.
func (s *BackupBatchSpec) Order() ExecutionOrder {
	if s == nil || s.ExecutionOrder == "" {
		return Parallel
	}
	return s.ExecutionOrder
}

// Order returns the batch's execution order, Parallel when not set.
func (s *RestoreBatchSpec) Order() ExecutionOrder {
	if s == nil || s.ExecutionOrder == "" {
		return Parallel
	}
	return s.ExecutionOrder
}

// Policy returns the hook's execution policy, Always when not set.
func (h *PostHook) Policy() HookExecutionPolicy {
	if h == nil || h.ExecutionPolicy == "" {
		return HookExecuteAlways
	}
	return h.ExecutionPolicy
}

// URIScheme returns the request's scheme, HTTP when not set.
func (a *HTTPGetAction) URIScheme() URIScheme {
	if a == nil || a.Scheme == "" {
		return URISchemeHTTP
	}
	return a.Scheme
}

// URIScheme returns the request's scheme, HTTP when not set.
func (a *HTTPPostAction) URIScheme() URIScheme {
	if a == nil || a.Scheme == "" {
		return URISchemeHTTP
	}
	return a.Scheme
}

// AllowedFrom returns which namespaces may use the Repository, Same when not set.
func (s *RepositorySpec) AllowedFrom() FromNamespaces {
	if s == nil || s.UsagePolicy == nil || s.UsagePolicy.AllowedNamespaces.From == "" {
		return NamespacesFromSame
	}
	return s.UsagePolicy.AllowedNamespaces.From
}

// Provider returns the name of the backend that is set: "local", "s3", "gcs", "azure",
// "b2", "swift" or "rest"; "" when none is (which validation forbids).
func (b *Backend) Provider() string {
	switch {
	case b == nil:
		return ""
	case b.Local != nil:
		return "local"
	case b.S3 != nil:
		return "s3"
	case b.GCS != nil:
		return "gcs"
	case b.Azure != nil:
		return "azure"
	case b.B2 != nil:
		return "b2"
	case b.Swift != nil:
		return "swift"
	case b.Rest != nil:
		return "rest"
	}
	return ""
}

// NamespaceOr returns the reference's namespace, or def when it is empty.
func (r ObjectRef) NamespaceOr(def string) string {
	if r.Namespace == "" {
		return def
	}
	return r.Namespace
}

// Group returns the invoker's API group, stashflow.dev when not set.
func (r BackupInvokerRef) Group() string {
	if r.APIGroup == "" {
		return GroupName
	}
	return r.APIGroup
}

// HistoryLimit returns backupHistoryLimit, DefaultBackupHistoryLimit when not set.
func (s *BackupConfigurationSpec) HistoryLimit() int32 {
	if s == nil || s.BackupHistoryLimit == nil {
		return DefaultBackupHistoryLimit
	}
	return *s.BackupHistoryLimit
}

// HistoryLimit returns backupHistoryLimit, DefaultBackupHistoryLimit when not set.
func (s *BackupBatchSpec) HistoryLimit() int32 {
	if s == nil || s.BackupHistoryLimit == nil {
		return DefaultBackupHistoryLimit
	}
	return *s.BackupHistoryLimit
}

// Retries returns maxRetry, 0 when retryConfig is not set.
func (c *RetryConfig) Retries() int32 {
	if c == nil || c.MaxRetry == nil {
		return 0
	}
	return *c.MaxRetry
}

// BlueprintAnnotation returns the annotation key that names the blueprint,
// AnnotationBackupBlueprint when not set.
func (s *BackupBlueprintSpec) BlueprintAnnotation() string {
	if s == nil || s.Annotations == nil || s.Annotations.Blueprint == "" {
		return AnnotationBackupBlueprint
	}
	return s.Annotations.Blueprint
}

// ScheduleAnnotation returns the annotation key that overrides the schedule,
// AnnotationSchedule when not set.
func (s *BackupBlueprintSpec) ScheduleAnnotation() string {
	if s == nil || s.Annotations == nil || s.Annotations.Schedule == "" {
		return AnnotationSchedule
	}
	return s.Annotations.Schedule
}

// ParseDuration parses a timeOut or delay field. The empty string is 0, meaning "none".
// The CRD's CEL rule admits exactly what time.ParseDuration accepts, less "µs" and signs.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	return d, nil
}

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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaults(t *testing.T) {
	seven := int32(7)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"batch order unset", (&BackupBatchSpec{}).Order(), Parallel},
		{"batch order set", (&BackupBatchSpec{ExecutionOrder: Sequential}).Order(), Sequential},
		{"restore batch order unset", (&RestoreBatchSpec{}).Order(), Parallel},
		{"post hook policy unset", (&PostHook{}).Policy(), HookExecuteAlways},
		{"post hook policy nil", (*PostHook)(nil).Policy(), HookExecuteAlways},
		{"post hook policy set", (&PostHook{ExecutionPolicy: HookExecuteOnFailure}).Policy(), HookExecuteOnFailure},
		{"http scheme unset", (&HTTPGetAction{}).URIScheme(), URISchemeHTTP},
		{"usage policy unset", (&RepositorySpec{}).AllowedFrom(), NamespacesFromSame},
		{"history limit unset", (&BackupConfigurationSpec{}).HistoryLimit(), DefaultBackupHistoryLimit},
		{"history limit set", (&BackupBatchSpec{BackupHistoryLimit: &seven}).HistoryLimit(), seven},
		{"retries unset", (*RetryConfig)(nil).Retries(), int32(0)},
		{"backend provider", (&Backend{B2: &B2Spec{}}).Provider(), "b2"},
		{"invoker group unset", BackupInvokerRef{}.Group(), GroupName},
		{"ref namespace unset", ObjectRef{Name: "r"}.NamespaceOr("demo"), "demo"},
		{"blueprint annotation unset", (&BackupBlueprintSpec{}).BlueprintAnnotation(), AnnotationBackupBlueprint},
		{"blueprint schedule annotation set", (&BackupBlueprintSpec{Annotations: &BlueprintAnnotations{Schedule: "x/y"}}).ScheduleAnnotation(), "x/y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "30m": 30 * time.Minute, "1h30m": 90 * time.Minute, "1.5s": 1500 * time.Millisecond} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseDuration("1d"); err == nil {
		t.Error(`ParseDuration("1d") succeeded; want an error`)
	}
}

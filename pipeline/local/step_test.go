package local

import (
	"testing"
	"time"

	"github.com/stashflow/stashflow/pipeline"
)

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	tcs := []struct {
		name   string
		policy pipeline.RetryPolicy
		want   []time.Duration // for retries 1, 2, 3, 4
	}{
		{"default factor 2", pipeline.RetryPolicy{Backoff: 10 * ms}, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms}},
		{"factor 3, capped", pipeline.RetryPolicy{Backoff: 10 * ms, Factor: 3, MaxBackoff: 50 * ms}, []time.Duration{10 * ms, 30 * ms, 50 * ms, 50 * ms}},
		{"factor 1", pipeline.RetryPolicy{Backoff: 10 * ms, Factor: 1}, []time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms}},
		{"no backoff", pipeline.RetryPolicy{}, []time.Duration{0, 0, 0, 0}},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				if got := backoff(tc.policy, i+1); got != want {
					t.Errorf("backoff(retry %d) = %s, want %s", i+1, got, want)
				}
			}
		})
	}
	if got := backoff(pipeline.RetryPolicy{Backoff: time.Hour, Factor: 10}, 100); got <= 0 {
		t.Errorf("backoff of a long chain = %s, want no overflow", got)
	}
}

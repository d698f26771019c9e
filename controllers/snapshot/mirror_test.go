package snapshot

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
)

// TestGone: an object missing from a listing is taken for forgotten only
// when an earlier listing saw it, the listing covers its snapshot's time
// and began well after the object was created.
func TestGone(t *testing.T) {
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	since := start.Add(-time.Hour)
	obj := func(created, taken time.Time) *v1alpha1.Snapshot {
		s := &v1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)},
			Status: v1alpha1.SnapshotStatus{Tree: "seen"}}
		if !taken.IsZero() {
			s.Spec.Time = &metav1.Time{Time: taken}
		}
		return s
	}
	complete := &outputs.SnapshotList{Complete: true}
	partial := &outputs.SnapshotList{Since: &since}
	old := start.Add(-time.Minute)
	for _, tc := range []struct {
		name string
		snap *v1alpha1.Snapshot
		list *outputs.SnapshotList
		want bool
	}{
		{"complete listing, old object", obj(old, old), complete, true},
		{"no listing", obj(old, old), nil, false},
		{"never seen by a listing", func() *v1alpha1.Snapshot { s := obj(old, old); s.Status.Tree = ""; return s }(), complete, false},
		{"object created just before the listing", obj(start.Add(-time.Second), old), complete, false},
		{"object created after the listing began", obj(start.Add(time.Second), old), complete, false},
		{"partial listing covering its time", obj(old, old), partial, true},
		{"partial listing, snapshot older than it covers", obj(old, since.Add(-time.Second)), partial, false},
		{"partial listing, snapshot of its oldest second", obj(old, since), partial, false},
		{"partial listing, no snapshot time", obj(old, time.Time{}), partial, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Mirror{}
			if got := m.gone(tc.snap, Listing{List: tc.list, Started: start}); got != tc.want {
				t.Errorf("gone = %v, want %v", got, tc.want)
			}
		})
	}
}

package snapshot

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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

// TestPending: of the deleted objects with the finalizer, those owned by
// the Repository (or by none) wait to be forgotten; those owned by an
// earlier Repository of the same name are orphans, released without
// forgetting anything.
func TestPending(t *testing.T) {
	repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Name: "repo", UID: "now"}}
	now := metav1.Now()
	obj := func(name string, deleted bool, owner types.UID, finalizer bool) *v1alpha1.Snapshot {
		s := &v1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.SnapshotSpec{SnapshotID: name + "0000"}}
		if deleted {
			s.DeletionTimestamp = &now
		}
		if owner != "" {
			s.OwnerReferences = []metav1.OwnerReference{{Kind: "Repository", Name: "repo", UID: owner}}
		}
		if finalizer {
			s.Finalizers = []string{Finalizer}
		}
		return s
	}
	pending, orphans := Pending(repo, []*v1alpha1.Snapshot{
		obj("mine", true, "now", true), obj("unowned", true, "", true), obj("orphan", true, "before", true),
		obj("kept", false, "now", true), obj("released", true, "now", false),
	})
	names := func(l []*v1alpha1.Snapshot) (out []string) {
		for _, s := range l {
			out = append(out, s.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"mine", "unowned"}, names(pending)); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"orphan"}, names(orphans)); diff != "" {
		t.Errorf("orphans (-want +got):\n%s", diff)
	}
}

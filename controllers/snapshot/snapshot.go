package snapshot

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/internal/names"
	"github.com/stashflow/stashflow/outputs"
)

// Finalizer is on every Snapshot object the operator writes: deleting the
// object forgets its snapshot in restic (see the package doc).
const Finalizer = "stashflow.dev/forget-snapshot"

// Limits of the Snapshot kind's fields (api/v1alpha1/snapshot_types.go).
const (
	maxSpecPaths   = 64
	maxSpecTags    = 32
	maxSpecTagLen  = 128
	maxStatusPaths = 256
	maxStatusTags  = 64
	maxStatusTag   = 253
	maxPathLen     = 4096
)

// Name is the name of the Snapshot object of a restic snapshot:
// <repository>-<first 8 characters of the id>.
func Name(repository, snapshotID string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, snapshotID)
	if len(id) > 8 {
		id = id[:8]
	}
	if id == "" {
		id = names.Hash(snapshotID)
	}
	return names.Join(repository, id)
}

// Facts are what is known of a snapshot when its object is created.
type Facts struct {
	ID       string
	Time     time.Time
	Hostname string
	Paths    []string
	Tags     []string
	Size     *int64
	Session  string
	Username string
	UID, GID *int64
	// Labels are more labels (invoker, target); invalid values are dropped.
	Labels map[string]string
}

// FromRecord are the facts of restic's record of a snapshot.
func FromRecord(r *outputs.SnapshotRecord) Facts {
	f := Facts{ID: r.ID, Time: r.Time, Hostname: r.Hostname, Paths: r.Paths, Tags: r.Tags,
		Size: SizeOf(r.Size), Username: r.Username, UID: r.UID, GID: r.GID}
	for _, t := range r.Tags {
		if k, v, ok := strings.Cut(t, "="); ok && k == "session" {
			f.Session = v
		}
	}
	return f
}

// New is the Snapshot object of f in repo: in repo's namespace, owned by it
// (Snapshots go with their Repository), with Finalizer, labelled by
// repository, hostname and session.
func New(repo *v1alpha1.Repository, f Facts, scheme *runtime.Scheme) *v1alpha1.Snapshot {
	labels := map[string]string{
		v1alpha1.LabelRepository: repo.Name,
		v1alpha1.LabelHostname:   f.Hostname,
		v1alpha1.LabelSession:    f.Session,
		v1alpha1.LabelManagedBy:  v1alpha1.ManagedByValue,
	}
	for k, v := range f.Labels {
		labels[k] = v
	}
	snap := &v1alpha1.Snapshot{
		ObjectMeta: metav1.ObjectMeta{
			Name:       Name(repo.Name, f.ID),
			Namespace:  repo.Namespace,
			Labels:     validLabels(labels),
			Finalizers: []string{Finalizer},
		},
		Spec: v1alpha1.SnapshotSpec{
			Repository: v1alpha1.ObjectRef{Name: repo.Name, Namespace: repo.Namespace},
			SnapshotID: f.ID,
			Hostname:   f.Hostname,
			Paths:      clip(f.Paths, maxSpecPaths, maxPathLen),
			Tags:       clip(f.Tags, maxSpecTags, maxSpecTagLen),
			Size:       f.Size,
			Session:    f.Session,
			Username:   f.Username,
			UID:        f.UID,
			GID:        f.GID,
		},
	}
	if !f.Time.IsZero() {
		snap.Spec.Time = ptr.To(metav1.NewTime(f.Time))
	}
	_ = controllerutil.SetOwnerReference(repo, snap, scheme)
	return snap
}

// SetSpec corrects the spec fields of snap that a listing of the repository
// derives from restic's record r, and reports whether any changed. A
// session writes spec.time from what its step reported (the step's end when
// the Function reports no snapshotTime, or, before snapshotTime existed,
// always): it becomes restic's time, to the second the API keeps. The
// owner and numbers restic recorded (username, uid, gid), its tags (which
// a session does not know) and the size a session did not report are
// filled in where the spec lacks them. Paths, hostname and session stay as
// written: a session writes its target's paths, which a listing does not
// know.
func SetSpec(snap *v1alpha1.Snapshot, r *outputs.SnapshotRecord) bool {
	sp := &snap.Spec
	changed := false
	if !r.Time.IsZero() && (sp.Time == nil || sp.Time.Unix() != r.Time.Unix()) {
		sp.Time = ptr.To(metav1.NewTime(r.Time.Truncate(time.Second)))
		changed = true
	}
	if sp.Username == "" && r.Username != "" {
		sp.Username, changed = r.Username, true
	}
	if sp.UID == nil && r.UID != nil {
		sp.UID, changed = ptr.To(*r.UID), true
	}
	if sp.GID == nil && r.GID != nil {
		sp.GID, changed = ptr.To(*r.GID), true
	}
	if sp.Size == nil && r.Size != nil {
		sp.Size, changed = SizeOf(r.Size), true
	}
	if tags := clip(r.Tags, maxSpecTags, maxSpecTagLen); len(sp.Tags) == 0 && len(tags) > 0 {
		sp.Tags, changed = tags, true
	}
	return changed
}

// SetStatus writes restic's record of the snapshot into the Stash status
// fields of snap, and reports whether they changed.
func SetStatus(snap *v1alpha1.Snapshot, r *outputs.SnapshotRecord) bool {
	st := &snap.Status
	before := st.DeepCopy()
	st.Repository = snap.Spec.Repository.Name
	st.Tree = r.Tree
	st.Hostname = r.Hostname
	st.Paths = clip(r.Paths, maxStatusPaths, maxPathLen)
	st.Username = r.Username
	st.UID, st.GID = r.UID, r.GID
	st.Tags = clip(r.Tags, maxStatusTags, maxStatusTag)
	st.ObservedGeneration = snap.Generation
	return !equalStatus(before, st)
}

func equalStatus(a, b *v1alpha1.SnapshotStatus) bool {
	return a.Repository == b.Repository && a.Tree == b.Tree && a.Hostname == b.Hostname && a.Username == b.Username &&
		ptr.Equal(a.UID, b.UID) && ptr.Equal(a.GID, b.GID) && equalStrings(a.Paths, b.Paths) && equalStrings(a.Tags, b.Tags) &&
		a.ObservedGeneration == b.ObservedGeneration
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clip keeps at most n entries of in, each of at most maxLen bytes.
func clip(in []string, n, maxLen int) []string {
	var out []string
	for _, s := range in {
		if len(out) == n {
			break
		}
		if s != "" && len(s) <= maxLen {
			out = append(out, s)
		}
	}
	return out
}

// validLabels drops the labels whose value cannot be a label value.
func validLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if v != "" && len(validation.IsValidLabelValue(v)) == 0 {
			out[k] = v
		}
	}
	return out
}

// SizeOf converts a byte count for a Snapshot's spec.size.
func SizeOf(n *uint64) *int64 {
	if n == nil || *n > math.MaxInt64 {
		return nil
	}
	return ptr.To(int64(*n))
}

// Release removes Finalizer from snap: it goes without forgetting anything.
func Release(ctx context.Context, c client.Client, snap *v1alpha1.Snapshot) error {
	if !controllerutil.ContainsFinalizer(snap, Finalizer) {
		return nil
	}
	base := snap.DeepCopy()
	controllerutil.RemoveFinalizer(snap, Finalizer)
	if err := c.Patch(ctx, snap, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("releasing Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
	}
	return nil
}

// DeleteGone deletes the object of a snapshot the backend no longer holds
// (retention forgot it): released first, so that nothing is forgotten again.
func DeleteGone(ctx context.Context, c client.Client, snap *v1alpha1.Snapshot) error {
	if err := Release(ctx, c, snap); err != nil {
		return err
	}
	if err := c.Delete(ctx, snap); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
	}
	return nil
}

// Of lists the Snapshot objects of the Repository repo (by spec.repository).
func Of(ctx context.Context, c client.Reader, namespace, repo string) ([]*v1alpha1.Snapshot, error) {
	list := &v1alpha1.SnapshotList{}
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the Snapshots of Repository %s/%s: %w", namespace, repo, err)
	}
	var out []*v1alpha1.Snapshot
	for i := range list.Items {
		s := &list.Items[i]
		if s.Spec.Repository.Name == repo && s.Spec.Repository.NamespaceOr(s.Namespace) == namespace {
			out = append(out, s)
		}
	}
	return out, nil
}

package snapshot

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/outputs"
)

// CreationMargin is how long before a listing started an object must have
// been created for the listing to delete it: a younger one may be of a
// snapshot committed after the listing began (object times are known to
// the second).
const CreationMargin = 2 * time.Second

// Mirror makes a Repository's Snapshot objects mirror its backend.
type Mirror struct {
	Client   client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
}

// Listing is what one run of the Repository read of its backend.
type Listing struct {
	// List is the run's snapshots output.
	List *outputs.SnapshotList
	// Forgotten are the ids the run was asked to forget that the backend no
	// longer holds.
	Forgotten []string
	// Started is when the run was named: the listing began after it.
	Started time.Time
}

// Sync applies l to repo's Snapshot objects: it releases the deleted ones
// whose snapshot is gone, deletes those whose snapshot the backend no longer
// holds, creates those of listed snapshots without one, and writes the
// status of each listed one.
func (m *Mirror) Sync(ctx context.Context, repo *v1alpha1.Repository, l Listing) error {
	objs, err := Of(ctx, m.Client, repo.Namespace, repo.Name)
	if err != nil {
		return err
	}
	records := map[string]*outputs.SnapshotRecord{}
	if l.List != nil {
		for i := range l.List.Items {
			records[l.List.Items[i].ID] = &l.List.Items[i]
		}
	}
	have := map[string]bool{}
	for _, snap := range objs {
		id := snap.Spec.SnapshotID
		if id == "" {
			continue // a Snapshot exported from Stash: not the mirror's
		}
		rec := lookup(records, id)
		if rec != nil {
			have[rec.ID] = true
		}
		if err := m.syncOne(ctx, repo, snap, rec, l); err != nil {
			return err
		}
	}
	if l.List == nil {
		return nil
	}
	for i := range l.List.Items {
		rec := &l.List.Items[i]
		if !have[rec.ID] {
			if err := m.create(ctx, repo, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncOne mirrors one object; rec is its snapshot's record, if listed.
func (m *Mirror) syncOne(ctx context.Context, repo *v1alpha1.Repository, snap *v1alpha1.Snapshot, rec *outputs.SnapshotRecord, l Listing) error {
	log := ctrl.LoggerFrom(ctx)
	deleting := snap.DeletionTimestamp != nil
	switch {
	case rec != nil && deleting:
		return nil // still held: forgotten by a next run
	case rec != nil:
		return m.update(ctx, repo, snap, rec)
	case deleting && (contains(l.Forgotten, snap.Spec.SnapshotID) || m.gone(snap, l)):
		log.Info("Snapshot forgotten", "snapshot", snap.Name, "id", snap.Spec.SnapshotID)
		m.event(snap, corev1.EventTypeNormal, conditions.ReasonSnapshotGone,
			fmt.Sprintf("snapshot %.8s is no longer in Repository %s/%s: the object goes", snap.Spec.SnapshotID, repo.Namespace, repo.Name))
		return Release(ctx, m.Client, snap)
	case !deleting && m.gone(snap, l):
		log.Info("Snapshot gone from the backend, object deleted", "snapshot", snap.Name, "id", snap.Spec.SnapshotID)
		m.event(repo, corev1.EventTypeNormal, conditions.ReasonSnapshotGone,
			fmt.Sprintf("snapshot %.8s (Snapshot %s) is no longer in the repository (forgotten elsewhere): its object is deleted", snap.Spec.SnapshotID, snap.Name))
		return DeleteGone(ctx, m.Client, snap)
	}
	return nil
}

// gone says whether the listing shows that snap's snapshot was forgotten:
// an earlier listing saw it (its status holds restic's record), this one
// covers its time, does not hold it, and began well after the object was
// created. An object no listing ever saw (a session reported an id the
// backend never held) is left alone.
func (m *Mirror) gone(snap *v1alpha1.Snapshot, l Listing) bool {
	if l.List == nil || snap.Status.Tree == "" || !snap.CreationTimestamp.Add(CreationMargin).Before(l.Started) {
		return false
	}
	if l.List.Complete {
		return true
	}
	return snap.Spec.Time != nil && l.List.Covers(snap.Spec.Time.Time)
}

// update writes the object's status from rec, and puts Finalizer on an
// object that lacks it (one written before the operator had it).
func (m *Mirror) update(ctx context.Context, repo *v1alpha1.Repository, snap *v1alpha1.Snapshot, rec *outputs.SnapshotRecord) error {
	if !ownedByAnother(repo, snap) {
		base := snap.DeepCopy()
		finalizer := controllerutil.AddFinalizer(snap, Finalizer)
		before := snap.Spec.Time
		spec := SetSpec(snap, rec)
		if finalizer || spec {
			if err := m.Client.Patch(ctx, snap, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
				return fmt.Errorf("correcting Snapshot %s/%s from the repository's listing: %w", snap.Namespace, snap.Name, err)
			}
		}
		if spec {
			ctrl.LoggerFrom(ctx).Info("Snapshot spec corrected from the repository's listing", "snapshot", snap.Name, "id", snap.Spec.SnapshotID,
				"oldTime", before, "time", snap.Spec.Time)
		}
	}
	base := snap.DeepCopy()
	if !SetStatus(snap, rec) {
		return nil
	}
	if err := m.Client.Status().Patch(ctx, snap, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("writing the status of Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
	}
	return nil
}

// create creates the object of a snapshot made elsewhere.
func (m *Mirror) create(ctx context.Context, repo *v1alpha1.Repository, rec *outputs.SnapshotRecord) error {
	snap := New(repo, FromRecord(rec), m.Scheme)
	err := m.Client.Create(ctx, snap)
	switch {
	case apierrors.IsAlreadyExists(err):
		// A session recorded it meanwhile, or a name collision of the
		// first 8 characters: the next listing writes its status.
		return nil
	case apierrors.IsInvalid(err):
		// Trying again cannot help; the others are mirrored.
		ctrl.LoggerFrom(ctx).Info("Snapshot object refused", "snapshot", snap.Name, "error", err.Error())
		return nil
	case err != nil:
		return fmt.Errorf("creating Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Snapshot found in the backend", "snapshot", snap.Name, "id", rec.ID)
	m.event(repo, corev1.EventTypeNormal, conditions.ReasonSnapshotFound,
		fmt.Sprintf("snapshot %.8s (host %s) is in the repository without a Snapshot object: recorded as %s", rec.ID, rec.Hostname, snap.Name))
	base := snap.DeepCopy()
	SetStatus(snap, rec)
	if err := m.Client.Status().Patch(ctx, snap, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("writing the status of Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
	}
	return nil
}

// Pending are the deleted objects of repo's snapshots that wait to be
// forgotten (they carry Finalizer), and the deleted objects owned by an
// earlier Repository of the same name, which the garbage collector deletes
// with their owner: those are orphans, to be released, never forgotten.
func Pending(repo *v1alpha1.Repository, objs []*v1alpha1.Snapshot) (pending, orphans []*v1alpha1.Snapshot) {
	for _, s := range objs {
		if s.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(s, Finalizer) || s.Spec.SnapshotID == "" {
			continue
		}
		if ownedByAnother(repo, s) {
			orphans = append(orphans, s)
			continue
		}
		pending = append(pending, s)
	}
	return pending, orphans
}

// ownedByAnother says whether snap's owner is an earlier Repository of
// repo's name (deleted, or deleted and created again).
func ownedByAnother(repo *v1alpha1.Repository, snap *v1alpha1.Snapshot) bool {
	for _, o := range snap.OwnerReferences {
		if o.Kind == "Repository" && o.Name == repo.Name && o.UID != repo.UID {
			return true
		}
	}
	return false
}

// Wait says on each of pending why it is not forgotten yet (condition
// Forgotten False, and an event when that changes).
func (m *Mirror) Wait(ctx context.Context, pending []*v1alpha1.Snapshot, reason conditions.Reason, why string) error {
	for _, snap := range pending {
		base := snap.DeepCopy()
		msg := fmt.Sprintf("Snapshot %s/%s: restic forget of snapshot %.8s %s", snap.Namespace, snap.Name, snap.Spec.SnapshotID, why)
		if !conditions.False(&snap.Status.Conditions, snap.Generation, conditions.Forgotten, reason, msg) {
			continue
		}
		if err := m.Client.Status().Patch(ctx, snap, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("writing the status of Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
		}
		m.event(snap, corev1.EventTypeNormal, reason, msg)
	}
	return nil
}

// ReleaseAll releases every object of repo (or, with deletingOnly, every
// deleted one): the Repository or its namespace is being deleted, and its
// Snapshot objects go without forgetting anything.
func (m *Mirror) ReleaseAll(ctx context.Context, namespace, repo string, deletingOnly bool) error {
	objs, err := Of(ctx, m.Client, namespace, repo)
	if err != nil {
		return err
	}
	for _, snap := range objs {
		if deletingOnly && snap.DeletionTimestamp == nil {
			continue
		}
		if err := Release(ctx, m.Client, snap); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mirror) event(obj runtime.Object, kind string, reason conditions.Reason, msg string) {
	if m.Recorder != nil {
		m.Recorder.Event(obj, kind, string(reason), conditions.Truncate(msg, 1024))
	}
}

// lookup finds the record of id (a full id, or a prefix of one).
func lookup(records map[string]*outputs.SnapshotRecord, id string) *outputs.SnapshotRecord {
	if r := records[id]; r != nil {
		return r
	}
	var found *outputs.SnapshotRecord
	for full, r := range records {
		if strings.HasPrefix(full, id) {
			if found != nil {
				return nil
			}
			found = r
		}
	}
	return found
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id || strings.HasPrefix(id, x) && len(x) >= 8 {
			return true
		}
	}
	return false
}

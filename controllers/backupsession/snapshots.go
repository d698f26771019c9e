package backupsession

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/controllers/snapshot"
	"github.com/stashflow/stashflow/outputs"
)

// SnapshotName is the name of the Snapshot object of a restic snapshot
// (snapshot.Name).
func SnapshotName(repository, snapshotID string) string { return snapshot.Name(repository, snapshotID) }

// recordSnapshots creates a Snapshot for every host that reported a
// snapshot id, in the Repository's namespace and owned by it. Creating an existing Snapshot is not an error, so a
// reconcile that repeats this after a failed status write changes nothing.
func (r *Reconciler) recordSnapshots(ctx context.Context, s *scope) error {
	o := s.Outcome
	var any bool
	for _, t := range o.Targets {
		for _, h := range t.Hosts {
			any = any || h.SnapshotID != ""
		}
	}
	if !any {
		return nil
	}
	repoRef, _ := invokerReferences(s)
	repo := &v1alpha1.Repository{}
	key := types.NamespacedName{Namespace: repoRef.NamespaceOr(s.session.Namespace), Name: repoRef.Name}
	if err := r.Client.Get(ctx, key, repo); err != nil {
		if apierrors.IsNotFound(err) {
			r.reportUnrecorded(ctx, s, key)
			return nil
		}
		return fmt.Errorf("reading Repository %s: %w", key, err)
	}
	created := sets.New[string]()
	now := r.Now()
	for i, t := range o.Targets {
		for _, h := range t.Hosts {
			if h.SnapshotID == "" {
				continue
			}
			snap := r.snapshot(s, repo, i, &t, &h)
			if snap.Spec.Time == nil {
				snap.Spec.Time = ptr.To(metav1.NewTime(now))
			}
			if err := r.Client.Create(ctx, snap); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
			}
			created.Insert(snap.Name)
		}
	}
	if err := r.syncSnapshots(ctx, s, repo, created); err != nil {
		return err
	}
	r.recordRetentionMetrics(repo, o)
	return nil
}

// recordRetentionMetrics exports what the session's retention and check
// steps reported of the repository (Stash's snapshot_cleaned and integrity
// gauges). The Repository's status is the Repository controller's, which
// reads it from the backend after the session.
func (r *Reconciler) recordRetentionMetrics(repo *v1alpha1.Repository, o *sessionstatus.Outcome) {
	if r.Metrics == nil {
		return
	}
	for _, tg := range o.Targets {
		if n := sessionstatus.Int(tg.Outputs[outputs.Removed]); n != nil {
			r.Metrics.RepositorySnapshotsGone.WithLabelValues(repo.Namespace, repo.Name).Set(float64(*n))
		}
		if v, err := strconv.ParseBool(tg.Outputs[outputs.Integrity]); err == nil {
			r.Metrics.RepositoryIntegrity.WithLabelValues(repo.Namespace, repo.Name).Set(metrics.Bool(v))
		}
	}
}

// syncSnapshots mirrors what a target's retention step saw of the
// repository, for the target's host: a kept snapshot without a Snapshot
// object gets one (a run that was lost after restic committed it, the
// operator killed, a Workflow deleted: recorded now, once, with a
// SnapshotFound event), and the Snapshot objects of snapshots the policy
// removed are deleted. Only a retention step that succeeded is read.
func (r *Reconciler) syncSnapshots(ctx context.Context, s *scope, repo *v1alpha1.Repository, created sets.Set[string]) error {
	log := ctrl.LoggerFrom(ctx)
	for _, t := range s.Outcome.Targets {
		if t.Retention == nil || t.Retention.Phase != v1alpha1.StepSucceeded {
			continue
		}
		var kept []outputs.KeptSnapshot
		if v := t.Outputs[outputs.KeptSnapshots]; v != "" {
			if err := json.Unmarshal([]byte(v), &kept); err != nil {
				log.Info("Unreadable keptSnapshots output", "step", t.Retention.Name, "error", err.Error())
			}
		}
		for _, k := range kept {
			name := SnapshotName(repo.Name, k.ID)
			if k.ID == "" || created.Has(name) {
				continue
			}
			snap := snapshot.New(repo, snapshot.Facts{ID: k.ID, Time: k.Time, Hostname: k.Hostname, Paths: k.Paths,
				Session: k.Session, Size: snapshot.SizeOf(k.Size)}, r.Scheme)
			err := r.Client.Create(ctx, snap)
			switch {
			case apierrors.IsAlreadyExists(err):
				continue
			case err != nil:
				return fmt.Errorf("creating Snapshot %s/%s: %w", snap.Namespace, snap.Name, err)
			}
			created.Insert(name)
			msg := fmt.Sprintf("snapshot %.8s (host %s, session %s) was in the repository without a Snapshot object (its run did not report it); recorded as %s",
				k.ID, k.Hostname, cmp.Or(k.Session, "unknown"), name)
			log.Info("Snapshot found in the repository", "snapshot", name, "session", k.Session)
			r.Recorder.Event(s.session, corev1.EventTypeNormal, "SnapshotFound", msg)
		}
		var forgotten []string
		if v := t.Outputs[outputs.ForgottenSnapshots]; v != "" {
			if err := json.Unmarshal([]byte(v), &forgotten); err != nil {
				log.Info("Unreadable forgottenSnapshots output", "step", t.Retention.Name, "error", err.Error())
			}
		}
		for _, id := range forgotten {
			snap := &v1alpha1.Snapshot{}
			key := types.NamespacedName{Namespace: repo.Namespace, Name: SnapshotName(repo.Name, id)}
			if err := r.Client.Get(ctx, key, snap); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return fmt.Errorf("reading Snapshot %s: %w", key, err)
			}
			if snap.Spec.SnapshotID != id || snap.Spec.Repository.Name != repo.Name {
				continue // a name collision of the first 8 characters: not this snapshot
			}
			// Released first: retention forgot it, nothing is to forget again.
			if err := snapshot.DeleteGone(ctx, r.Client, snap); err != nil {
				return err
			}
			created.Delete(key.Name)
			log.V(1).Info("Snapshot object of a forgotten snapshot deleted", "snapshot", key.Name)
		}
	}
	return nil
}

// reportUnrecorded says, on the session, which snapshots the run committed
// that get no Snapshot object because their Repository was deleted during
// the session: they are in the backend, and nobody should have to guess.
func (r *Reconciler) reportUnrecorded(ctx context.Context, s *scope, repo types.NamespacedName) {
	var ids []string
	for _, t := range s.Outcome.Targets {
		for _, h := range t.Hosts {
			if h.SnapshotID != "" {
				ids = append(ids, fmt.Sprintf("%.8s (host %s)", h.SnapshotID, h.Hostname))
			}
		}
	}
	msg := fmt.Sprintf("Repository %s was deleted during the session: snapshot(s) %s are in the backend but have no Snapshot object", repo, strings.Join(ids, ", "))
	ctrl.LoggerFrom(ctx).Info("Repository deleted, snapshots not recorded", "repository", repo, "snapshots", ids)
	conditions.Set(&s.session.Status.Conditions, s.session.Generation, conditions.SnapshotsRecorded, metav1.ConditionFalse, conditions.ReasonRepositoryDeleted, msg)
	r.Recorder.Event(s.session, corev1.EventTypeWarning, string(conditions.ReasonRepositoryDeleted), conditions.Truncate(msg, 1024))
}

// snapshot is the Snapshot object of a host's snapshot (snapshot.New:
// spec from the session's outcome; the Repository controller writes its
// status from the backend's record). Its time is the one restic recorded,
// as the step reported it (outputs.SnapshotTime), so that it is what a
// listing of the repository shows; the step's end only when the step's
// Function does not report it.
func (r *Reconciler) snapshot(s *scope, repo *v1alpha1.Repository, i int, t *sessionstatus.Target, h *sessionstatus.Host) *v1alpha1.Snapshot {
	inv := s.session.Spec.Invoker
	f := snapshot.Facts{
		ID: h.SnapshotID, Time: h.FinishedAt, Hostname: h.Hostname, Paths: targetPaths(s, i), Size: h.Size, Session: s.session.Name,
		Labels: map[string]string{v1alpha1.LabelInvoker: inv.Name, v1alpha1.LabelInvokerKind: inv.Kind},
	}
	if !h.SnapshotTime.IsZero() {
		f.Time = h.SnapshotTime
	}
	if t.Ref != nil {
		f.Labels[v1alpha1.LabelTarget], f.Labels[v1alpha1.LabelTargetKind] = t.Ref.Name, t.Ref.Kind
	}
	return snapshot.New(repo, f, r.Scheme)
}

func targetPaths(s *scope, i int) []string {
	switch {
	case s.config != nil && s.config.Spec.Target != nil:
		return s.config.Spec.Target.Paths
	case s.batch != nil && i < len(s.batch.Spec.Members) && s.batch.Spec.Members[i].Target != nil:
		return s.batch.Spec.Members[i].Target.Paths
	}
	return nil
}

package repository

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/snapshot"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// finished writes the outcome of a run that ended, and mirrors the
// snapshots it listed into Snapshot objects.
func (r *Reconciler) finished(ctx context.Context, s *scope, run *engine.Run) error {
	node := runNode(run)
	switch {
	case run.Failure != "":
		r.runFailed(s, run.Failure)
		return nil
	case node.Phase != pipeline.PhaseSucceeded:
		msg := node.Message
		if msg == "" {
			msg = fmt.Sprintf("the step ended %s", node.Phase)
		}
		r.runFailed(s, msg)
		return nil
	}
	repo, st := s.repo, &s.repo.Status
	out := node.Outputs
	log := ctrl.LoggerFrom(ctx)
	if err := r.mirror.Sync(ctx, repo, listing(ctx, out, lastRun(st))); err != nil {
		return err
	}
	if out[outputs.RepositoryExists] == "false" {
		msg := fmt.Sprintf("Repository %s/%s: the backend holds no restic repository at %s; it is initialised when a BackupConfiguration or BackupBatch backs up into it (a restore never creates one)",
			repo.Namespace, repo.Name, translators.ResticRepository(&repo.Spec.Backend))
		conditions.False(&st.Conditions, repo.Generation, conditions.Initialized, conditions.ReasonNotInitialized, msg)
		conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonNotInitialized, msg)
		log.Info("No repository in the backend")
		return nil
	}
	if !r.initialized(repo) {
		reason, msg := conditions.ReasonRepositoryExists, "the backend holds the restic repository; opened with the Repository's Secret"
		if out[outputs.RepositoryCreated] == "true" {
			reason, msg = conditions.ReasonInitialized, "restic repository initialised by run "+nameOf(st.Workflow)
		}
		conditions.True(&st.Conditions, repo.Generation, conditions.Initialized, reason, msg)
		r.event(repo, false, reason, msg)
		log.Info("Repository initialised", "reason", reason)
	}
	if n, err := strconv.ParseInt(out[outputs.SnapshotCount], 10, 64); err == nil {
		st.SnapshotCount = n
	}
	if n, err := strconv.ParseUint(out[outputs.TotalSize], 10, 64); err == nil {
		st.TotalSize = humanize.IBytes(n)
		if r.Metrics != nil {
			r.Metrics.RepositorySizeBytes.WithLabelValues(repo.Namespace, repo.Name).Set(float64(n))
		}
	}
	if t, ok := parseTime(out[outputs.LastSnapshotTime]); ok && (st.LastBackupTime == nil || st.LastBackupTime.Time.Before(t)) {
		st.LastBackupTime = &metav1.Time{Time: t} // never backwards
	}
	if t, ok := parseTime(out[outputs.FirstSnapshotTime]); ok && st.FirstBackupTime == nil {
		st.FirstBackupTime = &metav1.Time{Time: t}
	}
	conditions.True(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, conditions.ReasonRefreshed,
		fmt.Sprintf("the repository holds %d snapshot(s), %s", st.SnapshotCount, st.TotalSize))
	return nil
}

// listing decodes what a run read of the backend: its snapshots (none
// when the backend holds no repository, or the output is unreadable: then
// no object is deleted) and the ids it forgot.
func listing(ctx context.Context, out map[string]string, started time.Time) snapshot.Listing {
	l := snapshot.Listing{Started: started}
	log := ctrl.LoggerFrom(ctx)
	if v := out[outputs.Snapshots]; v != "" && out[outputs.RepositoryExists] == "true" {
		l.List = &outputs.SnapshotList{}
		if err := json.Unmarshal([]byte(v), l.List); err != nil {
			log.Info("Unreadable snapshots output", "error", err.Error())
			l.List = nil
		}
	}
	if v := out[outputs.ForgottenIDs]; v != "" {
		if err := json.Unmarshal([]byte(v), &l.Forgotten); err != nil {
			log.Info("Unreadable forgottenIDs output", "error", err.Error())
		}
	}
	return l
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func nameOf(ref *v1alpha1.WorkflowRef) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}

// runFailed writes why a run failed: the message names the Repository and
// its Secret (a wrong password is the usual cause), never a secret value.
func (r *Reconciler) runFailed(s *scope, cause string) {
	repo, st := s.repo, &s.repo.Status
	reason := conditions.ReasonRefreshFailed
	msg := fmt.Sprintf("Repository %s/%s: reading the restic repository at %s with Secret %s/%s failed: %s",
		repo.Namespace, repo.Name, translators.ResticRepository(&repo.Spec.Backend), repo.Namespace, repo.Spec.Backend.StorageSecretName, cause)
	if !r.initialized(repo) {
		reason = conditions.ReasonOpenFailed
		msg = fmt.Sprintf("Repository %s/%s: opening the restic repository at %s with the RESTIC_PASSWORD of Secret %s/%s failed: %s",
			repo.Namespace, repo.Name, translators.ResticRepository(&repo.Spec.Backend), repo.Namespace, repo.Spec.Backend.StorageSecretName, cause)
		conditions.False(&st.Conditions, repo.Generation, conditions.Initialized, reason, msg)
	}
	conditions.False(&st.Conditions, repo.Generation, v1alpha1.ConditionReady, reason, msg)
	r.event(repo, true, reason, msg)
}

// exportMetrics exports the Repository's readiness, snapshot count and
// integrity from its status (also after the operator restarts, not only after the next run).
func (r *Reconciler) exportMetrics(repo *v1alpha1.Repository) {
	if r.Metrics == nil || !repo.DeletionTimestamp.IsZero() {
		return
	}
	r.Metrics.RepositoryReady.WithLabelValues(repo.Namespace, repo.Name).Set(
		metrics.Bool(conditions.IsTrue(repo.Status.Conditions, v1alpha1.ConditionReady)))
	if repo.Status.RefreshTime != nil || repo.Status.FirstBackupTime != nil {
		r.Metrics.RepositorySnapshots.WithLabelValues(repo.Namespace, repo.Name).Set(float64(repo.Status.SnapshotCount))
	}
	if repo.Status.Integrity != nil {
		r.Metrics.RepositoryIntegrity.WithLabelValues(repo.Namespace, repo.Name).Set(metrics.Bool(*repo.Status.Integrity))
	}
}

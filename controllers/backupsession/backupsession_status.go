package backupsession

import (
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/internal/names"
	"github.com/stashflow/stashflow/controllers/metrics"
)

// Annotations on retry sessions.
const (
	// AnnotationRetryOf names the first session of a chain of retries.
	AnnotationRetryOf = v1alpha1.GroupName + "/retry-of"
	// AnnotationRetryAttempt is the retry's number in its chain, from 1.
	AnnotationRetryAttempt = v1alpha1.GroupName + "/retry-attempt"
)

// recordMetrics exports the ended session: the invoker's, each target's
// and each host's gauges (metrics.Metrics, under stashflow's and Stash's
// names).
func (r *Reconciler) recordMetrics(sess *v1alpha1.BackupSession, now time.Time) {
	m := r.Metrics
	if m == nil {
		return
	}
	inv := []string{sess.Namespace, sess.Spec.Invoker.Kind, sess.Spec.Invoker.Name}
	ok := sess.Status.Phase == v1alpha1.BackupSessionSucceeded
	m.BackupSessionSuccess.WithLabelValues(inv...).Set(metrics.Bool(ok))
	m.BackupSessionDuration.WithLabelValues(inv...).Set(now.Sub(sess.CreationTimestamp.Time).Seconds())
	if ok {
		m.BackupLastSuccessTime.WithLabelValues(inv...).Set(float64(now.Unix()))
	}
	for _, t := range sess.Status.Targets {
		target := append(slices.Clone(inv), "", "")
		if t.Ref != nil {
			target[3], target[4] = t.Ref.Kind, t.Ref.Name
		}
		m.BackupTargetSuccess.WithLabelValues(target...).Set(metrics.Bool(t.Phase == v1alpha1.TargetSucceeded))
		if t.Phase == v1alpha1.TargetSucceeded {
			m.BackupTargetLastSuccess.WithLabelValues(target...).Set(float64(now.Unix()))
		}
		for _, h := range t.Stats {
			host := append(slices.Clone(target), h.Hostname)
			m.HostBackupSuccess.WithLabelValues(host...).Set(metrics.Bool(h.Phase == v1alpha1.HostSucceeded))
			if h.Phase != v1alpha1.HostSucceeded {
				continue
			}
			for g, v := range map[*metrics.Gauge]*int64{m.HostDataSizeBytes: h.Size, m.HostDataUploadedBytes: h.Uploaded, m.HostFilesTotal: h.Files} {
				if v != nil {
					g.WithLabelValues(host...).Set(float64(*v))
				}
			}
			if d, err := time.ParseDuration(h.Duration); err == nil {
				m.HostBackupDuration.WithLabelValues(host...).Set(d.Seconds())
			}
		}
	}
}

func retryConfig(s *scope) *v1alpha1.RetryConfig {
	switch {
	case s.config != nil:
		return s.config.Spec.RetryConfig
	case s.batch != nil:
		return s.batch.Spec.RetryConfig
	}
	return nil
}

// retryLeft is spec.retryLeft, or the invoker's maxRetry for a session
// created without it (by hand).
func retryLeft(s *v1alpha1.BackupSession, cfg *v1alpha1.RetryConfig) int32 {
	if s.Spec.RetryLeft != nil {
		return *s.Spec.RetryLeft
	}
	return cfg.Retries()
}

// retrySession is the session that retries s: deterministic, so that
// creating it twice is harmless.
func retrySession(s *v1alpha1.BackupSession, left int32) *v1alpha1.BackupSession {
	first, attempt := s.Name, 1
	if of := s.Annotations[AnnotationRetryOf]; of != "" {
		first = of
		if n, err := strconv.Atoi(s.Annotations[AnnotationRetryAttempt]); err == nil {
			attempt = n + 1
		}
	}
	retry := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{
			Name:      names.Join(first, "retry-"+strconv.Itoa(attempt)),
			Namespace: s.Namespace,
			Labels:    map[string]string{},
			Annotations: map[string]string{
				v1alpha1.AnnotationTrigger: v1alpha1.TriggerRetry,
				AnnotationRetryOf:          first,
				AnnotationRetryAttempt:     strconv.Itoa(attempt),
			},
			OwnerReferences: s.OwnerReferences,
		},
		Spec: v1alpha1.BackupSessionSpec{Invoker: s.Spec.Invoker, RetryLeft: ptr.To(left)},
	}
	for _, k := range []string{v1alpha1.LabelInvoker, v1alpha1.LabelInvokerKind, v1alpha1.LabelManagedBy} {
		if v, ok := s.Labels[k]; ok {
			retry.Labels[k] = v
		}
	}
	return retry
}

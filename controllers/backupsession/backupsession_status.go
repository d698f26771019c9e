package backupsession

import (
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

// recordMetrics exports the ended session.
func (r *Reconciler) recordMetrics(sess *v1alpha1.BackupSession, now time.Time) {
	if r.Metrics == nil {
		return
	}
	inv := sess.Spec.Invoker
	ok := sess.Status.Phase == v1alpha1.BackupSessionSucceeded
	r.Metrics.BackupSessionSuccess.WithLabelValues(sess.Namespace, inv.Kind, inv.Name).Set(metrics.Bool(ok))
	r.Metrics.BackupSessionDuration.WithLabelValues(sess.Namespace, inv.Kind, inv.Name).Set(now.Sub(sess.CreationTimestamp.Time).Seconds())
	for _, t := range sess.Status.Targets {
		kind, name := "", ""
		if t.Ref != nil {
			kind, name = t.Ref.Kind, t.Ref.Name
		}
		r.Metrics.BackupTargetSuccess.WithLabelValues(sess.Namespace, inv.Kind, inv.Name, kind, name).Set(metrics.Bool(t.Phase == v1alpha1.TargetSucceeded))
		for _, h := range t.Stats {
			if h.Uploaded != nil {
				r.Metrics.HostDataUploadedBytes.WithLabelValues(sess.Namespace, inv.Kind, inv.Name, kind, name, h.Hostname).Set(float64(*h.Uploaded))
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

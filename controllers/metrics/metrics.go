// Package metrics holds stashflow's Prometheus metrics, registered on
// controller-runtime's metrics.Registry so that they are served with the
// controller metrics (reconcile counts and latency) on the manager's metrics
// endpoint.
//
// The gauges describe the last finished session of each invoker (Stash's
// metrics, renamed to stashflow_*), so an alert reads
// `stashflow_backup_session_success == 0`.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Label names.
const (
	LabelNamespace   = "namespace"
	LabelInvokerKind = "invoker_kind"
	LabelInvoker     = "invoker"
	LabelTargetKind  = "target_kind"
	LabelTarget      = "target"
	LabelHostname    = "hostname"
	LabelRepository  = "repository"
	LabelKind        = "kind"
	LabelName        = "name"
)

// Metrics are stashflow's collectors.
type Metrics struct {
	BackupSessionSuccess   *prometheus.GaugeVec
	BackupSessionDuration  *prometheus.GaugeVec
	BackupTargetSuccess    *prometheus.GaugeVec
	HostDataUploadedBytes  *prometheus.GaugeVec
	RepositorySizeBytes    *prometheus.GaugeVec
	RepositorySnapshots    *prometheus.GaugeVec
	RestoreSessionSuccess  *prometheus.GaugeVec
	RestoreSessionDuration *prometheus.GaugeVec
}

func newMetrics() *Metrics {
	invoker := []string{LabelNamespace, LabelInvokerKind, LabelInvoker}
	target := append(append([]string{}, invoker...), LabelTargetKind, LabelTarget)
	host := append(append([]string{}, target...), LabelHostname)
	repo := []string{LabelNamespace, LabelRepository}
	restore := []string{LabelNamespace, LabelKind, LabelName}
	return &Metrics{
		BackupSessionSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_backup_session_success",
			Help: "1 if the last finished BackupSession of the invoker succeeded, 0 if it failed.",
		}, invoker),
		BackupSessionDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_backup_session_duration_seconds",
			Help: "How long the last finished BackupSession of the invoker ran.",
		}, invoker),
		BackupTargetSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_backup_target_success",
			Help: "1 if the target's backup succeeded in the last finished BackupSession of the invoker, 0 if not.",
		}, target),
		HostDataUploadedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_backup_host_data_uploaded_bytes",
			Help: "Bytes the last backup of the host added to the repository.",
		}, host),
		RepositorySizeBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_repository_size_bytes",
			Help: "Size of the repository on its backend, as last reported by a backup step.",
		}, repo),
		RepositorySnapshots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_repository_snapshot_count",
			Help: "Number of snapshots in the repository.",
		}, repo),
		RestoreSessionSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_restore_session_success",
			Help: "1 if the RestoreSession or RestoreBatch succeeded, 0 if it failed.",
		}, restore),
		RestoreSessionDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stashflow_restore_session_duration_seconds",
			Help: "How long the RestoreSession or RestoreBatch ran.",
		}, restore),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.BackupSessionSuccess, m.BackupSessionDuration, m.BackupTargetSuccess, m.HostDataUploadedBytes,
		m.RepositorySizeBytes, m.RepositorySnapshots, m.RestoreSessionSuccess, m.RestoreSessionDuration,
	}
}

var (
	once     sync.Once
	defaults *Metrics
)

// Default returns the collectors registered on controller-runtime's
// metrics.Registry, registering them on first use. Managers started in the
// same process (tests) share them.
func Default() *Metrics {
	once.Do(func() {
		defaults = newMetrics()
		ctrlmetrics.Registry.MustRegister(defaults.collectors()...)
	})
	return defaults
}

// Bool is 1 for true, 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ForgetInvoker drops the series of a deleted BackupConfiguration or BackupBatch.
func (m *Metrics) ForgetInvoker(namespace, kind, name string) {
	match := prometheus.Labels{LabelNamespace: namespace, LabelInvokerKind: kind, LabelInvoker: name}
	m.BackupSessionSuccess.DeletePartialMatch(match)
	m.BackupSessionDuration.DeletePartialMatch(match)
	m.BackupTargetSuccess.DeletePartialMatch(match)
	m.HostDataUploadedBytes.DeletePartialMatch(match)
}

// ForgetRepository drops the series of a deleted Repository.
func (m *Metrics) ForgetRepository(namespace, name string) {
	match := prometheus.Labels{LabelNamespace: namespace, LabelRepository: name}
	m.RepositorySizeBytes.DeletePartialMatch(match)
	m.RepositorySnapshots.DeletePartialMatch(match)
}

// ForgetRestore drops the series of a deleted RestoreSession or RestoreBatch.
func (m *Metrics) ForgetRestore(namespace, kind, name string) {
	match := prometheus.Labels{LabelNamespace: namespace, LabelKind: kind, LabelName: name}
	m.RestoreSessionSuccess.DeletePartialMatch(match)
	m.RestoreSessionDuration.DeletePartialMatch(match)
}

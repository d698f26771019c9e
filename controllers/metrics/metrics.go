// Package metrics holds stashflow's Prometheus metrics, registered on
// controller-runtime's metrics.Registry so that they are served with the
// controller metrics (reconcile counts and latency) on the manager's metrics
// endpoint.
//
// The gauges describe the last finished session of each invoker. Each is
// exported twice: as stashflow_* with stashflow's label names, and under
// Stash's metric name and label names (stash_*, invoker_name, target_name,
// host, …), so that the dashboards and alerts Stash users have keep working,
// e.g. `stash_backup_session_success == 0`.
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

// stashLabel is Stash's name of each of our labels (a restore is its own
// invoker in Stash's metrics).
var stashLabel = map[string]string{
	LabelNamespace:   "namespace",
	LabelInvokerKind: "invoker_kind",
	LabelInvoker:     "invoker_name",
	LabelTargetKind:  "target_kind",
	LabelTarget:      "target_name",
	LabelHostname:    "host",
	LabelRepository:  "repository",
	LabelKind:        "invoker_kind",
	LabelName:        "invoker_name",
}

// Gauge is one of stashflow's gauges (the embedded GaugeVec) and the same
// gauge under Stash's name and label names; both are set and deleted
// together.
type Gauge struct {
	*prometheus.GaugeVec
	stash *prometheus.GaugeVec
	// names are the gauge's name and, if it has one, Stash's.
	names []string
}

func newGauge(name, stashName, help string, labels []string) *Gauge {
	g := &Gauge{GaugeVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels), names: []string{name}}
	if stashName != "" {
		renamed := make([]string, len(labels))
		for i, l := range labels {
			renamed[i] = stashLabel[l]
		}
		g.stash = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: stashName, Help: help + " (Stash's name of " + name + ")"}, renamed)
		g.names = append(g.names, stashName)
	}
	return g
}

// Names are the names of every gauge stashflow exports, its own and Stash's,
// so that the chart's alerts and dashboard can be checked against them.
func Names() []string {
	var names []string
	for _, g := range newMetrics().gauges() {
		names = append(names, g.names...)
	}
	return names
}

// Setter sets one series; the controllers only ever set a gauge.
type Setter interface{ Set(float64) }

// pair sets two gauges at once.
type pair struct{ ours, stash prometheus.Gauge }

func (p pair) Set(v float64) {
	p.ours.Set(v)
	p.stash.Set(v)
}

// WithLabelValues returns the series of the label values (in our label
// order); setting it sets Stash's too. Read a series through the embedded
// GaugeVec.
func (g *Gauge) WithLabelValues(lvs ...string) Setter {
	ours := g.GaugeVec.WithLabelValues(lvs...)
	if g.stash == nil {
		return ours
	}
	return pair{ours: ours, stash: g.stash.WithLabelValues(lvs...)}
}

// DeletePartialMatch deletes the series that match labels (our names) in
// both gauges.
func (g *Gauge) DeletePartialMatch(labels prometheus.Labels) int {
	n := g.GaugeVec.DeletePartialMatch(labels)
	if g.stash != nil {
		renamed := prometheus.Labels{}
		for k, v := range labels {
			renamed[stashLabel[k]] = v
		}
		g.stash.DeletePartialMatch(renamed)
	}
	return n
}

func (g *Gauge) collectors() []prometheus.Collector {
	if g.stash == nil {
		return []prometheus.Collector{g.GaugeVec}
	}
	return []prometheus.Collector{g.GaugeVec, g.stash}
}

// Metrics are stashflow's collectors.
type Metrics struct {
	BackupSessionSuccess    *Gauge
	BackupSessionDuration   *Gauge
	BackupLastSuccessTime   *Gauge
	BackupTargetSuccess     *Gauge
	BackupTargetLastSuccess *Gauge
	HostBackupSuccess       *Gauge
	HostDataSizeBytes       *Gauge
	HostDataUploadedBytes   *Gauge
	HostFilesTotal          *Gauge
	HostBackupDuration      *Gauge
	RepositorySizeBytes     *Gauge
	RepositorySnapshots     *Gauge
	RepositorySnapshotsGone *Gauge
	RepositoryIntegrity     *Gauge
	RepositoryReady         *Gauge
	RestoreSessionSuccess   *Gauge
	RestoreSessionDuration  *Gauge
}

func newMetrics() *Metrics {
	invoker := []string{LabelNamespace, LabelInvokerKind, LabelInvoker}
	target := append(append([]string{}, invoker...), LabelTargetKind, LabelTarget)
	host := append(append([]string{}, target...), LabelHostname)
	repo := []string{LabelNamespace, LabelRepository}
	restore := []string{LabelNamespace, LabelKind, LabelName}
	return &Metrics{
		BackupSessionSuccess: newGauge("stashflow_backup_session_success", "stash_backup_session_success",
			"1 if the last finished BackupSession of the invoker succeeded, 0 if it failed.", invoker),
		BackupSessionDuration: newGauge("stashflow_backup_session_duration_seconds", "stash_backup_session_duration_seconds",
			"How long the last finished BackupSession of the invoker ran.", invoker),
		BackupLastSuccessTime: newGauge("stashflow_backup_last_success_time_seconds", "stash_backup_last_success_time_seconds",
			"When the last BackupSession of the invoker that succeeded ended (Unix time).", invoker),
		BackupTargetSuccess: newGauge("stashflow_backup_target_success", "stash_backup_target_success",
			"1 if the target's backup succeeded in the last finished BackupSession of the invoker, 0 if not.", target),
		BackupTargetLastSuccess: newGauge("stashflow_backup_target_last_success_time_seconds", "stash_backup_target_last_success_time_seconds",
			"When the target was last backed up successfully (Unix time).", target),
		HostBackupSuccess: newGauge("stashflow_backup_host_backup_success", "stash_backup_host_backup_success",
			"1 if the last backup of the host succeeded, 0 if not.", host),
		HostDataSizeBytes: newGauge("stashflow_backup_host_data_size_bytes", "stash_backup_host_data_size_bytes",
			"Bytes the last backup of the host read.", host),
		HostDataUploadedBytes: newGauge("stashflow_backup_host_data_uploaded_bytes", "stash_backup_host_data_uploaded_bytes",
			"Bytes the last backup of the host added to the repository.", host),
		HostFilesTotal: newGauge("stashflow_backup_host_files_total", "stash_backup_host_files_total",
			"Files in the last snapshot of the host.", host),
		HostBackupDuration: newGauge("stashflow_backup_host_backup_duration_seconds", "stash_backup_host_backup_duration_seconds",
			"How long the last backup of the host took.", host),
		RepositorySizeBytes: newGauge("stashflow_repository_size_bytes", "stash_repository_size_bytes",
			"Size of the repository on its backend, as last reported by a retention step.", repo),
		RepositorySnapshots: newGauge("stashflow_repository_snapshot_count", "stash_repository_snapshot_count",
			"Number of snapshots in the repository.", repo),
		RepositorySnapshotsGone: newGauge("stashflow_repository_snapshot_cleaned", "stash_repository_snapshot_cleaned",
			"Snapshots the last retention step removed from the repository.", repo),
		RepositoryIntegrity: newGauge("stashflow_repository_integrity", "stash_repository_integrity",
			"1 if the last integrity check of the repository found no error, 0 if it found one.", repo),
		RepositoryReady: newGauge("stashflow_repository_ready", "",
			"1 if the Repository's Ready condition is True, 0 if not (Stash has no such metric).", repo),
		RestoreSessionSuccess: newGauge("stashflow_restore_session_success", "stash_restore_session_success",
			"1 if the RestoreSession or RestoreBatch succeeded, 0 if it failed.", restore),
		RestoreSessionDuration: newGauge("stashflow_restore_session_duration_seconds", "stash_restore_session_duration_seconds",
			"How long the RestoreSession or RestoreBatch ran.", restore),
	}
}

func (m *Metrics) gauges() []*Gauge {
	return []*Gauge{
		m.BackupSessionSuccess, m.BackupSessionDuration, m.BackupLastSuccessTime, m.BackupTargetSuccess, m.BackupTargetLastSuccess,
		m.HostBackupSuccess, m.HostDataSizeBytes, m.HostDataUploadedBytes, m.HostFilesTotal, m.HostBackupDuration,
		m.RepositorySizeBytes, m.RepositorySnapshots, m.RepositorySnapshotsGone, m.RepositoryIntegrity, m.RepositoryReady,
		m.RestoreSessionSuccess, m.RestoreSessionDuration,
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
		for _, g := range defaults.gauges() {
			ctrlmetrics.Registry.MustRegister(g.collectors()...)
		}
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
	for _, g := range []*Gauge{
		m.BackupSessionSuccess, m.BackupSessionDuration, m.BackupLastSuccessTime, m.BackupTargetSuccess, m.BackupTargetLastSuccess,
		m.HostBackupSuccess, m.HostDataSizeBytes, m.HostDataUploadedBytes, m.HostFilesTotal, m.HostBackupDuration,
	} {
		g.DeletePartialMatch(match)
	}
}

// ForgetRepository drops the series of a deleted Repository.
func (m *Metrics) ForgetRepository(namespace, name string) {
	match := prometheus.Labels{LabelNamespace: namespace, LabelRepository: name}
	for _, g := range []*Gauge{m.RepositorySizeBytes, m.RepositorySnapshots, m.RepositorySnapshotsGone, m.RepositoryIntegrity, m.RepositoryReady} {
		g.DeletePartialMatch(match)
	}
}

// ForgetRestore drops the series of a deleted RestoreSession or RestoreBatch.
func (m *Metrics) ForgetRestore(namespace, kind, name string) {
	match := prometheus.Labels{LabelNamespace: namespace, LabelKind: kind, LabelName: name}
	m.RestoreSessionSuccess.DeletePartialMatch(match)
	m.RestoreSessionDuration.DeletePartialMatch(match)
}

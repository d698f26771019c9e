package repository_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/controllers/metrics"
)

// TestRepositoryMetrics: a Repository's snapshot count is exported from
// its status; when it is deleted its size and snapshot-count series go,
// and another Repository's stay.
func TestRepositoryMetrics(t *testing.T) {
	ns := ot.Namespace(t, c, nil)
	gone, goneSecret := ot.Repository(ns, "gone", t.TempDir())
	kept, keptSecret := ot.Repository(ns, "kept", t.TempDir())
	ot.Create(t, c, gone, goneSecret, kept, keptSecret)
	for _, r := range []*v1alpha1.Repository{gone, kept} {
		r.Status.SnapshotCount = 3
		ot.BackedUp(t, c, r)
	}
	m := metrics.Default()
	m.RepositorySizeBytes.WithLabelValues(ns, "gone").Set(4096) // as a backup would
	ot.Start(t, env, ns, controllers.Config{})

	ot.Eventually(t, 10*time.Second, func() string {
		for _, name := range []string{"gone", "kept"} {
			if v, ok := value(m.RepositorySnapshots.GaugeVec, ns, name); !ok || v != 3 {
				return fmt.Sprintf("snapshot count of %s: %v (exported: %v), want 3 from its status", name, v, ok)
			}
		}
		return ""
	})
	if err := c.Delete(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	ot.Eventually(t, 10*time.Second, func() string {
		for _, vec := range []*prometheus.GaugeVec{m.RepositorySnapshots.GaugeVec, m.RepositorySizeBytes.GaugeVec} {
			if _, ok := value(vec, ns, "gone"); ok {
				return "the deleted Repository's series are still exported"
			}
		}
		return ""
	})
	if _, ok := value(m.RepositorySnapshots.GaugeVec, ns, "kept"); !ok {
		t.Error("the other Repository's series were dropped too")
	}
}

// value is the Repository's series in vec, if it is exported.
func value(vec *prometheus.GaugeVec, ns, name string) (v float64, found bool) {
	ch := make(chan prometheus.Metric, 64)
	go func() { vec.Collect(ch); close(ch) }()
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels[metrics.LabelNamespace] == ns && labels[metrics.LabelRepository] == name {
			v, found = d.GetGauge().GetValue(), true
		}
	}
	return v, found
}

package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/conformance"
	"github.com/stashflow/stashflow/pipeline/local"
)

// TestConformance runs the shared table on the local engine.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			g := c.Graph(t.TempDir())
			e := local.New(local.Options{WorkDir: t.TempDir(), GracePeriod: time.Second})
			got, err := e.Run(context.Background(), g, nil)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			// The local engine has no run phase of its own: the model of
			// Argo's, which e2e checks against the real controller.
			conformance.Check(t, c, got, pipeline.RunPhase(g, got))
			if t.Failed() {
				t.Logf("drawing:%s\nsteps:\n%s", c.Drawing, conformance.Describe(got))
			}
		})
	}
}

package local_test

import (
	"context"
	"testing"
	"time"

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
			start := time.Now()
			got, err := e.Run(context.Background(), g, nil)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			conformance.Check(t, c, got)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("case took %s, want it well under 2s", d)
			}
			if t.Failed() {
				t.Logf("drawing:%s\nsteps:\n%s", c.Drawing, conformance.Describe(got))
			}
		})
	}
}

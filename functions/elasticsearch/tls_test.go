package elasticsearch

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// TestAppBindingTLS: a cluster behind TLS with its own CA is reached with
// the AppBinding's caBundle (the step's TARGET_CA_BUNDLE), refused without
// it, and reached with insecureSkipTLSVerify.
func TestAppBindingTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		_, _ = io.WriteString(w, `{"version":{"number":"8.0.0"}}`)
	}))
	t.Cleanup(srv.Close)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	for _, tt := range []struct {
		name    string
		environ []string
		wantOK  bool
	}{
		{"the caBundle", []string{outputs.TargetCABundleEnv + "=" + ca}, true},
		{"no CA", nil, false},
		{"insecureSkipTLSVerify", []string{outputs.TargetInsecureSkipTLSVerifyEnv + "=true"}, true},
		{"a server name the certificate does not have", []string{outputs.TargetCABundleEnv + "=" + ca, outputs.TargetServerNameEnv + "=elsewhere.internal"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := step.NewEnv(io.Discard)
			env.Environ = tt.environ
			c, err := connect([]string{srv.URL}, env, env.Logger())
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "/", nil)
			res, err := c.tp.Perform(req)
			if err == nil {
				_ = res.Body.Close()
			}
			if ok := err == nil; ok != tt.wantOK || (err != nil && !strings.Contains(err.Error(), "certificate")) {
				t.Errorf("request: err = %v, want success %v (or a certificate error)", err, tt.wantOK)
			}
		})
	}
}

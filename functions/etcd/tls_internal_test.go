package etcd

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

// TestAppBindingTLS: the AppBinding's caBundle, serverName and
// insecureSkipTLSVerify (the translators give them to the step as
// environment) shape the etcd client's TLS; a caBundle that is not PEM is
// an error naming it.
func TestAppBindingTLS(t *testing.T) {
	ca := testservers.NewTLS(t).CA
	env := step.NewEnv(io.Discard)
	env.Environ = []string{outputs.TargetCABundleEnv + "=" + ca, outputs.TargetServerNameEnv + "=etcd.internal"}
	c := &connFlags{dialTimeout: time.Second}
	cfg, err := c.clientConfig(env, []string{"http://127.0.0.1:2379"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS == nil || cfg.TLS.RootCAs == nil || cfg.TLS.ServerName != "etcd.internal" || cfg.TLS.InsecureSkipVerify {
		t.Fatalf("TLS = %+v, want the caBundle as roots and the server name", cfg.TLS)
	}
	env.Environ = []string{outputs.TargetInsecureSkipTLSVerifyEnv + "=true"}
	if cfg, err = c.clientConfig(env, []string{"http://127.0.0.1:2379"}); err != nil || cfg.TLS == nil || !cfg.TLS.InsecureSkipVerify {
		t.Fatalf("TLS = %+v (err %v), want verification skipped", cfg.TLS, err)
	}
	env.Environ = []string{outputs.TargetCABundleEnv + "=not pem"}
	if _, err := c.clientConfig(env, []string{"https://127.0.0.1:2379"}); err == nil || !strings.Contains(err.Error(), "caBundle") {
		t.Errorf("a caBundle that is not PEM: err = %v", err)
	}
}

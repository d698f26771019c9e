package testservers

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stashflow/stashflow/internal/testproc"
)

// EtcdMember is one etcd process.
type EtcdMember struct {
	Name, DataDir, ClientURL, PeerURL string
	logFile                           string
	cmd                               *exec.Cmd
	done                              chan struct{}
}

// Etcd is a planned or running etcd cluster.
type Etcd struct {
	Members []*EtcdMember
	TLS     *TLS
	Token   string
	// Extra are extra flags for every member.
	Extra []string
}

// PlanEtcd allocates names, ports and data directories for n members; it
// starts nothing.
func PlanEtcd(t testing.TB, n int, tl *TLS) *Etcd {
	t.Helper()
	scheme := "http"
	if tl != nil {
		scheme = "https"
	}
	e := &Etcd{TLS: tl, Token: fmt.Sprintf("tok-%d", time.Now().UnixNano())}
	for i := range n {
		cp, err := testproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		pp, err := testproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		e.Members = append(e.Members, &EtcdMember{
			Name:      fmt.Sprintf("m%d", i),
			DataDir:   filepath.Join(t.TempDir(), "data"),
			ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, cp),
			PeerURL:   fmt.Sprintf("%s://127.0.0.1:%d", scheme, pp),
		})
	}
	return e
}

// StartEtcd plans and starts an n-member cluster and waits until it serves.
func StartEtcd(t testing.TB, n int, tl *TLS) *Etcd {
	t.Helper()
	e := PlanEtcd(t, n, tl)
	e.Start(t)
	return e
}

// InitialCluster is the --initial-cluster value.
func (e *Etcd) InitialCluster() string {
	var parts []string
	for _, m := range e.Members {
		parts = append(parts, m.Name+"="+m.PeerURL)
	}
	return strings.Join(parts, ",")
}

// Endpoints are the members' client URLs.
func (e *Etcd) Endpoints() []string {
	var eps []string
	for _, m := range e.Members {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

// Start starts every member (on its existing data directory, if any) and
// waits until the cluster serves a linearizable read.
func (e *Etcd) Start(t testing.TB) {
	t.Helper()
	for _, m := range e.Members {
		e.startMember(t, m)
	}
	e.WaitReady(t)
}

func (e *Etcd) startMember(t testing.TB, m *EtcdMember) {
	t.Helper()
	args := []string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", e.InitialCluster(),
		"--initial-cluster-token", e.Token,
		"--initial-cluster-state", "new",
		"--log-level", "warn",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
	}
	if e.TLS != nil {
		args = append(args,
			"--cert-file", e.TLS.ServerCertFile, "--key-file", e.TLS.ServerKeyFile,
			"--trusted-ca-file", e.TLS.CAFile, "--client-cert-auth",
			"--peer-cert-file", e.TLS.ServerCertFile, "--peer-key-file", e.TLS.ServerKeyFile,
			"--peer-trusted-ca-file", e.TLS.CAFile, "--peer-client-cert-auth",
		)
	}
	args = append(args, e.Extra...)
	m.logFile = filepath.Join(filepath.Dir(m.DataDir), m.Name+"-etcd.log")
	logf, err := os.OpenFile(m.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("etcd", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start etcd (run make tools if it is missing): %v", err)
	}
	logf.Close()
	m.cmd = cmd
	m.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.done) }()
	t.Cleanup(m.Stop)
}

// Stop stops the member (SIGTERM, then SIGKILL after 10s) and waits.
func (m *EtcdMember) Stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// Stop stops every member.
func (e *Etcd) Stop() {
	for _, m := range e.Members {
		m.Stop()
	}
}

// Log returns the tail of a member's log.
func (m *EtcdMember) Log() string {
	b, _ := os.ReadFile(m.logFile)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// ClientTLS returns the client TLS configuration (nil without TLS).
func (e *Etcd) ClientTLS(t testing.TB) *tls.Config {
	if e.TLS == nil {
		return nil
	}
	pair, err := tls.X509KeyPair([]byte(e.TLS.ClientCert), []byte(e.TLS.ClientKey))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(e.TLS.CA))
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// Client returns a client for all members, closed at cleanup.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:          e.Endpoints(),
		DialTimeout:        5 * time.Second,
		TLS:                e.ClientTLS(t),
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 8 << 20,
		MaxCallRecvMsgSize: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// WaitReady waits until every member answers Status and the cluster serves
// a linearizable read.
func (e *Etcd) WaitReady(t testing.TB) {
	t.Helper()
	cli := e.Client(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := func() error {
			for _, m := range e.Members {
				if _, err := cli.Status(ctx, m.ClientURL); err != nil {
					return fmt.Errorf("%s: %w", m.Name, err)
				}
			}
			_, err := cli.Get(ctx, "health")
			return err
		}()
		cancel()
		if err == nil {
			return
		}
		for _, m := range e.Members {
			select {
			case <-m.done:
				t.Fatalf("etcd %s exited:\n%s", m.Name, m.Log())
			default:
			}
		}
		if time.Now().After(deadline) {
			var logs bytes.Buffer
			for _, m := range e.Members {
				fmt.Fprintf(&logs, "--- %s\n%s\n", m.Name, m.Log())
			}
			t.Fatalf("etcd not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Env returns the ETCD_* variables the Functions read, for this cluster.
func (e *Etcd) Env() []string {
	if e.TLS == nil {
		return nil
	}
	return []string{"ETCD_CACERT=" + e.TLS.CA, "ETCD_CERT=" + e.TLS.ClientCert, "ETCD_KEY=" + e.TLS.ClientKey}
}

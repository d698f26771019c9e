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

// NewEtcd allocates names, ports and data directories under dir for n
// members; it starts nothing. Programs (bench/) use it with Launch, Serve
// and Stop; tests use PlanEtcd or StartEtcd.
func NewEtcd(dir string, n int, tl *TLS) (*Etcd, error) {
	scheme := "http"
	if tl != nil {
		scheme = "https"
	}
	e := &Etcd{TLS: tl, Token: fmt.Sprintf("tok-%d", time.Now().UnixNano())}
	for i := range n {
		cp, err := testproc.FreePort()
		if err != nil {
			return nil, err
		}
		pp, err := testproc.FreePort()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("m%d", i)
		e.Members = append(e.Members, &EtcdMember{
			Name:      name,
			DataDir:   filepath.Join(dir, name, "data"),
			ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, cp),
			PeerURL:   fmt.Sprintf("%s://127.0.0.1:%d", scheme, pp),
		})
	}
	return e, nil
}

// PlanEtcd is NewEtcd in the test's temporary directory.
func PlanEtcd(t testing.TB, n int, tl *TLS) *Etcd {
	t.Helper()
	e, err := NewEtcd(t.TempDir(), n, tl)
	if err != nil {
		t.Fatal(err)
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
// waits until the cluster serves a linearizable read; the members stop at
// the test's cleanup.
func (e *Etcd) Start(t testing.TB) {
	t.Helper()
	for _, m := range e.Members {
		if err := e.launchMember(m); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Stop)
	}
	e.WaitReady(t)
}

// Launch starts every member; Serve waits until they serve, Stop ends them.
func (e *Etcd) Launch() error {
	for _, m := range e.Members {
		if err := e.launchMember(m); err != nil {
			e.Stop()
			return err
		}
	}
	return nil
}

func (e *Etcd) launchMember(m *EtcdMember) error {
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
	if err := os.MkdirAll(filepath.Dir(m.DataDir), 0o700); err != nil {
		return err
	}
	m.logFile = filepath.Join(filepath.Dir(m.DataDir), m.Name+"-etcd.log")
	logf, err := os.OpenFile(m.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("etcd", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start etcd (run make tools if it is missing): %w", err)
	}
	m.cmd = cmd
	m.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.done) }()
	return nil
}

// Pid is the member's process id, 0 when it is not running.
func (m *EtcdMember) Pid() int {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
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
	c, err := e.clientTLS()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *Etcd) clientTLS() (*tls.Config, error) {
	if e.TLS == nil {
		return nil, nil
	}
	pair, err := tls.X509KeyPair([]byte(e.TLS.ClientCert), []byte(e.TLS.ClientKey))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(e.TLS.CA))
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// Client returns a client for all members, closed at cleanup.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := e.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// NewClient returns a client for all members; the caller closes it.
func (e *Etcd) NewClient() (*clientv3.Client, error) {
	tc, err := e.clientTLS()
	if err != nil {
		return nil, err
	}
	return clientv3.New(clientv3.Config{
		Endpoints:          e.Endpoints(),
		DialTimeout:        5 * time.Second,
		TLS:                tc,
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 16 << 20,
		MaxCallRecvMsgSize: 1 << 30,
	})
}

// WaitReady waits until every member answers Status and the cluster serves
// a linearizable read.
func (e *Etcd) WaitReady(t testing.TB) {
	t.Helper()
	if err := e.Serve(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// Serve waits up to timeout until every member answers Status and the
// cluster serves a linearizable read; the error holds the members' logs.
func (e *Etcd) Serve(timeout time.Duration) error {
	cli, err := e.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
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
			return nil
		}
		for _, m := range e.Members {
			select {
			case <-m.done:
				return fmt.Errorf("etcd %s exited:\n%s", m.Name, m.Log())
			default:
			}
		}
		if time.Now().After(deadline) {
			var logs bytes.Buffer
			for _, m := range e.Members {
				fmt.Fprintf(&logs, "--- %s\n%s\n", m.Name, m.Log())
			}
			return fmt.Errorf("etcd not ready: %w\n%s", err, logs.String())
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

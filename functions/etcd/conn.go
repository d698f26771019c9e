package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Environment variables holding the etcd client's TLS material and
// credentials — their content, not file names (they come from the
// AppBinding's Secret through secretKeyRef).
const (
	EnvCACert   = "ETCD_CACERT"   // PEM CA bundle that signed the server certificates
	EnvCert     = "ETCD_CERT"     // PEM client certificate
	EnvKey      = "ETCD_KEY"      // PEM client private key
	EnvUsername = "ETCD_USERNAME" // etcd user (RBAC)
	EnvPassword = "ETCD_PASSWORD" // its password
)

// connFlags are the connection flags shared by the etcd Functions.
type connFlags struct {
	endpoints             []string
	dialTimeout           time.Duration
	insecureSkipTLSVerify bool
}

func (c *connFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&c.endpoints, "endpoints", nil, "etcd client URLs, comma separated (https:// for TLS; TLS material and credentials come from $ETCD_CACERT, $ETCD_CERT, $ETCD_KEY, $ETCD_USERNAME, $ETCD_PASSWORD)")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 5*time.Second, "timeout for connecting to and probing each endpoint")
	fs.BoolVar(&c.insecureSkipTLSVerify, "insecure-skip-tls-verify", false, "do not verify the server certificates")
}

func (c *connFlags) validate() error {
	if len(c.endpoints) == 0 {
		return errors.New("--endpoints: at least one endpoint is required")
	}
	for _, ep := range c.endpoints {
		if err := validateEndpoint(ep); err != nil {
			return fmt.Errorf("--endpoints: %q: %w", ep, err)
		}
	}
	if c.dialTimeout <= 0 {
		return errors.New("--dial-timeout: must be positive")
	}
	return nil
}

func validateEndpoint(ep string) error {
	if ep == "" {
		return errors.New("empty endpoint")
	}
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return err
		}
		switch u.Scheme {
		case "http", "https", "unix", "unixs":
		default:
			return fmt.Errorf("scheme %q is not http or https", u.Scheme)
		}
		if u.Host == "" && !strings.HasPrefix(u.Scheme, "unix") {
			return errors.New("no host")
		}
		return nil
	}
	if !strings.Contains(ep, ":") {
		return errors.New("want host:port or a URL")
	}
	return nil
}

// clientConfig builds the etcd client configuration for endpoints from the
// flags and the environment.
func (c *connFlags) clientConfig(env *step.Env, endpoints []string) (clientv3.Config, error) {
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: c.dialTimeout,
		Username:    env.Getenv(EnvUsername),
		Password:    env.Getenv(EnvPassword),
		Logger:      zap.NewNop(),
		// The snapshot stream is the bulk of the traffic: a fixed 1 MiB
		// flow-control window (instead of 64 KiB grown by BDP probing) and
		// a larger read buffer mean fewer window updates and syscalls. The
		// window bounds what gRPC buffers, so it also bounds memory.
		DialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(1 << 20),
			grpc.WithInitialConnWindowSize(1 << 20),
			grpc.WithReadBufferSize(128 << 10),
		},
		MaxCallSendMsgSize: 4 << 20,
	}
	if cfg.Password != "" && cfg.Username == "" {
		return cfg, fmt.Errorf("%s is set but %s is not", EnvPassword, EnvUsername)
	}
	ca, cert, key := env.Getenv(EnvCACert), env.Getenv(EnvCert), env.Getenv(EnvKey)
	if ca == "" {
		ca = env.Getenv(outputs.TargetCABundleEnv) // the AppBinding's caBundle
	}
	insecure := c.insecureSkipTLSVerify || env.Getenv(outputs.TargetInsecureSkipTLSVerifyEnv) == "true"
	useTLS := ca != "" || cert != "" || insecure
	for _, ep := range endpoints {
		if strings.HasPrefix(ep, "https://") || strings.HasPrefix(ep, "unixs://") {
			useTLS = true
		}
	}
	if !useTLS {
		return cfg, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure, ServerName: env.Getenv(outputs.TargetServerNameEnv)} //nolint:gosec // an explicit flag or AppBinding field
	if ca != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return cfg, fmt.Errorf("%s (or the AppBinding's caBundle) holds no PEM certificate", EnvCACert)
		}
		tc.RootCAs = pool
	}
	switch {
	case cert != "" && key != "":
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return cfg, fmt.Errorf("%s/%s: %w", EnvCert, EnvKey, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	case cert != "" || key != "":
		return cfg, fmt.Errorf("%s and %s must be set together", EnvCert, EnvKey)
	}
	cfg.TLS = tc
	return cfg, nil
}

// member is one endpoint's answer to Status.
type member struct {
	endpoint string
	id       uint64
	name     string
	revision int64
	dbSize   int64
	leader   bool
	learner  bool
	err      error
}

func (m member) label() string {
	if m.name != "" {
		return m.name
	}
	return fmt.Sprintf("%x", m.id)
}

// pickMember asks every endpoint for its status (in parallel, each bounded
// by the dial timeout) and returns a client connected to the first healthy
// one in the given order: it answers Status without errors, is not a
// learner (unless only learners answer), and serves a linearizable read.
// It returns the statuses of all endpoints for messages.
func (c *connFlags) pickMember(ctx context.Context, env *step.Env) (*clientv3.Client, member, error) {
	type result struct {
		m   member
		cli *clientv3.Client
	}
	results := make([]result, len(c.endpoints))
	var wg sync.WaitGroup
	for i, ep := range c.endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, cli := c.probe(ctx, env, ep)
			results[i] = result{m, cli}
		}()
	}
	wg.Wait()
	chosen := -1
	for pass := 0; pass < 2 && chosen < 0; pass++ {
		for i, r := range results {
			if r.m.err == nil && (pass == 1 || !r.m.learner) {
				chosen = i
				break
			}
		}
	}
	for i, r := range results {
		if i != chosen && r.cli != nil {
			_ = r.cli.Close()
		}
	}
	if chosen < 0 {
		var reasons []string
		for _, r := range results {
			reasons = append(reasons, fmt.Sprintf("%s: %v", r.m.endpoint, r.m.err))
		}
		return nil, member{}, fmt.Errorf("no healthy etcd member: %s", strings.Join(reasons, "; "))
	}
	for _, r := range results {
		if r.m.err != nil {
			env.Logger().Warn("skipping unhealthy etcd member", "endpoint", r.m.endpoint, "err", r.m.err.Error())
		}
	}
	return results[chosen].cli, results[chosen].m, nil
}

// probe connects to one endpoint and checks its health.
func (c *connFlags) probe(ctx context.Context, env *step.Env, ep string) (member, *clientv3.Client) {
	m := member{endpoint: ep}
	cfg, err := c.clientConfig(env, []string{ep})
	if err != nil {
		m.err = err
		return m, nil
	}
	cfg.Context = ctx
	cli, err := clientv3.New(cfg)
	if err != nil {
		m.err = describeDialError(err)
		return m, nil
	}
	fail := func(err error) (member, *clientv3.Client) {
		_ = cli.Close()
		m.err = describeDialError(err)
		return m, nil
	}
	sctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
	defer cancel()
	st, err := cli.Status(sctx, ep)
	if err != nil {
		return fail(err)
	}
	if len(st.Errors) > 0 {
		return fail(fmt.Errorf("member reports errors: %s", strings.Join(st.Errors, ", ")))
	}
	m.id, m.revision, m.dbSize = st.Header.MemberId, st.Header.Revision, st.DbSize
	m.leader, m.learner = st.Leader == st.Header.MemberId, st.IsLearner
	// A linearizable read proves the member is part of a quorum.
	if _, err := cli.Get(sctx, "health"); err != nil && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		return fail(fmt.Errorf("linearizable read failed: %w", err))
	}
	if ml, err := cli.MemberList(sctx); err == nil {
		for _, mem := range ml.Members {
			if mem.ID == m.id {
				m.name = mem.Name
			}
		}
	}
	return m, cli
}

// describeDialError shortens the client's errors for one-line messages.
func describeDialError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("unreachable (timed out)")
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return errors.New("authentication failed (check ETCD_USERNAME/ETCD_PASSWORD)")
	}
	return err
}

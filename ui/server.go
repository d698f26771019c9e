package ui

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

//go:embed templates static
var assets embed.FS

// DefaultBindAddress is where the UI listens unless told otherwise: this
// machine only.
const DefaultBindAddress = "127.0.0.1:8090"

// Options are the UI's flags.
type Options struct {
	// BindAddress is host:port to listen on; empty turns the UI off.
	BindAddress string
	// TLSCertFile and TLSKeyFile serve HTTPS; both or neither.
	TLSCertFile string
	TLSKeyFile  string
	// TokenFile holds a bearer token every request must present; empty
	// means no token.
	TokenFile string
}

// AddFlags registers the UI's flags on fs.
func (o *Options) AddFlags(flags *pflag.FlagSet) {
	flags.StringVar(&o.BindAddress, "ui-bind-address", DefaultBindAddress, "address of the read-only web UI (sessions, their DAGs, repositories); empty turns it off")
	flags.StringVar(&o.TLSCertFile, "ui-tls-cert", "", "web UI: PEM certificate file; with --ui-tls-key the UI serves HTTPS")
	flags.StringVar(&o.TLSKeyFile, "ui-tls-key", "", "web UI: PEM private key file of --ui-tls-cert")
	flags.StringVar(&o.TokenFile, "ui-token-file", "", "web UI: file holding a bearer token that every request must present (header, or ?token= once in a browser)")
}

// Config is everything the UI needs.
type Config struct {
	Options
	// Client reads sessions, repositories, snapshots and what sessions
	// refer to; the manager's cached client. Secrets are never read.
	Client client.Reader
	// ArgoUIBaseURL links Argo workflows whose status has no uiURL.
	ArgoUIBaseURL string
	// LocalWorkDir is the local engine's work directory (the operator's
	// --work-dir): the session page shows the step logs and outputs that
	// local-engine runs left there. Empty shows none.
	LocalWorkDir string
	// RefreshInterval is how often open pages refresh; 0 means 3s.
	RefreshInterval time.Duration
	// Logger logs the server's errors.
	Logger logr.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Server is the web UI. It is a manager.Runnable that runs on every replica
// (it only reads).
type Server struct {
	cfg     Config
	pages   *pages
	handler http.Handler

	mu   sync.Mutex
	addr net.Addr
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

// New checks cfg and builds the server; it reads the token file.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("ui: a client is required")
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("--ui-tls-cert and --ui-tls-key go together: set both or neither")
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg}
	p, err := newPages(s)
	if err != nil {
		return nil, err
	}
	s.pages = p
	var h http.Handler = s.routes()
	if cfg.TokenFile != "" {
		token, err := readToken(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		h = newTokenAuth(token, cfg.TLSCertFile != "").wrap(h)
	}
	s.handler = securityHeaders(h)
	return s, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--ui-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--ui-token-file: %s is empty", path)
	}
	return token, nil
}

// Setup adds the UI to mgr, reading through its cached client, and returns
// it; nil if cfg.BindAddress is empty (the UI is off). Client and Logger
// default to mgr's.
func Setup(mgr manager.Manager, cfg Config) (*Server, error) {
	if cfg.BindAddress == "" {
		return nil, nil
	}
	if cfg.Client == nil {
		cfg.Client = mgr.GetClient()
	}
	if cfg.Logger.GetSink() == nil {
		cfg.Logger = mgr.GetLogger().WithName("ui")
	}
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler serves the UI's pages, the token check included.
func (s *Server) Handler() http.Handler { return s.handler }

// NeedLeaderElection implements manager.LeaderElectionRunnable: the UI
// serves on every replica.
func (s *Server) NeedLeaderElection() bool { return false }

// Addr is the address the server listens on, nil before Start listens.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start implements manager.Runnable: it serves until ctx ends, then shuts
// down within five seconds.
func (s *Server) Start(ctx context.Context) error {
	log := s.cfg.Logger
	ln, err := net.Listen("tcp", s.cfg.BindAddress)
	if err != nil {
		return fmt.Errorf("ui: listening on %s: %w", s.cfg.BindAddress, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// net/http's own complaints (a TLS handshake from a port scan,
		// a client gone) are debug messages.
		ErrorLog: stdlog.New(serverLog{log}, "", 0),
	}
	scheme := "http"
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("ui: loading --ui-tls-cert and --ui-tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	if !isLoopback(ln.Addr()) {
		switch {
		case s.cfg.TokenFile == "":
			log.Info("The web UI listens beyond this machine without a token: anyone who reaches it sees every session", "address", ln.Addr().String())
		case s.cfg.TLSCertFile == "":
			log.Info("The web UI listens beyond this machine without TLS: its token travels in clear", "address", ln.Addr().String())
		}
	}
	log.Info("Serving the web UI", "url", scheme+"://"+ln.Addr().String()+"/")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ui: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("ui: shutting down: %w", err)
	}
	return nil
}

// serverLog writes net/http's error log into the UI's logger at V(1).
type serverLog struct{ log logr.Logger }

func (w serverLog) Write(p []byte) (int, error) {
	w.log.V(1).Info("HTTP server", "message", strings.TrimSpace(string(p)))
	return len(p), nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// routes are the UI's pages; every one answers GET (and HEAD) only.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/sessions", http.StatusFound)
	})
	mux.HandleFunc("GET /sessions", s.pages.sessions)
	mux.HandleFunc("GET /sessions/{kind}/{namespace}/{name}", s.pages.session)
	mux.HandleFunc("GET /schedules", s.pages.schedules)
	mux.HandleFunc("GET /repositories", s.pages.repositories)
	mux.HandleFunc("GET /repositories/{namespace}/{name}", s.pages.repository)
	mux.HandleFunc("GET /api/sessions", s.pages.sessionsJSON)
	mux.HandleFunc("GET /api/sessions/{kind}/{namespace}/{name}", s.pages.sessionJSON)
	return mux
}

// securityHeaders keeps the pages to themselves: scripts and styles from
// the UI only, no framing, no sniffing, no referrer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

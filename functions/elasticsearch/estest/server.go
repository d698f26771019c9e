package estest

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is the Elasticsearch version the test server claims to be.
const Version = "8.19.0"

// maxContentLength is Elasticsearch's default http.max_content_length.
const maxContentLength = 100 << 20

// Options configure a TestServer.
type Options struct {
	// Username and Password, when set, are required as HTTP basic
	// authentication.
	Username, Password string
	// APIKeys are accepted as "Authorization: ApiKey <key>" (the base64 of
	// id:secret, as the create API key API returns it in "encoded").
	APIKeys []string
	// NoPIT answers the point-in-time APIs with 404 (Elasticsearch before
	// 7.10, OpenSearch's other API).
	NoPIT bool
	// NoScroll answers requests with ?scroll= with 400.
	NoScroll bool
	// TLS serves HTTPS with a self-signed certificate; see CACertPEM.
	TLS bool
	// DefaultShards is number_of_shards when an index does not say (1, as in
	// Elasticsearch 8).
	DefaultShards int
}

// TestServer is a running test double of the Elasticsearch 8 REST API on a
// loopback port. Start one with New; Close it when done.
type TestServer struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string

	opts Options
	srv  *httptest.Server

	mu          sync.RWMutex
	indices     map[string]*index
	dataStreams map[string]*dataStream
	pits        map[string]*searchContext
	scrolls     map[string]*searchContext
	nextCtxID   int64

	hookMu sync.Mutex
	hooks  []Hook

	itemRejects atomic.Int64
	counts      sync.Map // string → *atomic.Int64
	now         func() time.Time
}

// Hook may answer a request instead of the server: it returns true when it
// wrote a response.
type Hook func(w http.ResponseWriter, r *http.Request) bool

// New starts a TestServer.
func New(opts Options) *TestServer {
	if opts.DefaultShards <= 0 {
		opts.DefaultShards = 1
	}
	s := &TestServer{
		opts:        opts,
		indices:     map[string]*index{},
		dataStreams: map[string]*dataStream{},
		pits:        map[string]*searchContext{},
		scrolls:     map[string]*searchContext{},
		now:         time.Now,
	}
	if opts.TLS {
		s.srv = httptest.NewTLSServer(s)
	} else {
		s.srv = httptest.NewServer(s)
	}
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *TestServer) Close() { s.srv.Close() }

// CACertPEM returns the PEM of the certificate a TLS server presents (it is
// its own CA), or nil.
func (s *TestServer) CACertPEM() []byte {
	if s.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// CertPool returns a pool holding the TLS server's certificate.
func (s *TestServer) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	if c := s.srv.Certificate(); c != nil {
		p.AddCert(c)
	}
	return p
}

// Do sends a request with the server's own client and credentials, for
// test setup: the body is JSON, or NDJSON for _bulk paths.
func (s *TestServer) Do(method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		ct := "application/json"
		if strings.Contains(path, "_bulk") {
			ct = "application/x-ndjson"
		}
		req.Header.Set("Content-Type", ct)
	}
	switch {
	case s.opts.Username != "":
		req.SetBasicAuth(s.opts.Username, s.opts.Password)
	case len(s.opts.APIKeys) > 0:
		req.Header.Set("Authorization", "ApiKey "+s.opts.APIKeys[0])
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// Hook adds h; hooks run in order before the server handles a request.
func (s *TestServer) Hook(h Hook) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.hooks = append(s.hooks, h)
}

// RejectRequests makes the next n requests whose path ends in pathSuffix
// (e.g. "/_bulk", "/_search") fail with 429 Too Many Requests, an
// es_rejected_execution_exception body and, when retryAfter > 0, a
// Retry-After header in whole seconds (rounded up).
func (s *TestServer) RejectRequests(pathSuffix string, n int, retryAfter time.Duration) {
	var left atomic.Int64
	left.Store(int64(n))
	s.Hook(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, pathSuffix) || left.Add(-1) < 0 {
			return false
		}
		s.count("rejected")
		if retryAfter > 0 {
			secs := int((retryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		_, _ = io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusTooManyRequests, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=0, max_coordinating_and_primary_bytes=0]", nil)
		return true
	})
}

// RejectBulkItems makes the next n bulk items fail with status 429 and an
// es_rejected_execution_exception inside a 200 bulk response, as a
// cluster whose write thread pool queue is full answers.
func (s *TestServer) RejectBulkItems(n int) { s.itemRejects.Add(int64(n)) }

// Count returns how many times an API was called; names are "pit.open",
// "pit.close", "search", "search.pit", "search.scroll", "scroll.clear",
// "bulk", "bulk.items", "count", "refresh", "cat.indices", "rejected",
// "create".
func (s *TestServer) Count(name string) int64 {
	if v, ok := s.counts.Load(name); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

func (s *TestServer) count(name string) { s.countN(name, 1) }

func (s *TestServer) countN(name string, n int64) {
	v, _ := s.counts.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(n)
}

// OpenContexts returns the number of open points in time and scrolls
// (expired ones excluded).
func (s *TestServer) OpenContexts() (pits, scrolls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	return len(s.pits), len(s.scrolls)
}

// ServeHTTP implements http.Handler.
func (s *TestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	if !s.authenticated(r) {
		s.unauthorized(w, r)
		return
	}
	s.hookMu.Lock()
	hooks := append([]Hook(nil), s.hooks...)
	s.hookMu.Unlock()
	for _, h := range hooks {
		if h(w, r) {
			return
		}
	}
	if r.ContentLength > maxContentLength {
		writeError(w, http.StatusRequestEntityTooLarge, "content_too_long_exception", "entity content is too long", nil)
		return
	}
	s.route(w, r)
}

func (s *TestServer) authenticated(r *http.Request) bool {
	if s.opts.Username == "" && len(s.opts.APIKeys) == 0 {
		return true
	}
	// Authentication schemes are case-insensitive (RFC 9110 §11.1); the Go
	// client sends "APIKey".
	auth := r.Header.Get("Authorization")
	if scheme, key, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "ApiKey") {
		for _, k := range s.opts.APIKeys {
			if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
				return true
			}
		}
		return false
	}
	if s.opts.Username == "" {
		return false
	}
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(s.opts.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.opts.Password)) == 1
}

// unauthorized answers like Elasticsearch's security layer.
func (s *TestServer) unauthorized(w http.ResponseWriter, r *http.Request) {
	reason := "missing authentication credentials for REST request [" + r.URL.RequestURI() + "]"
	if u, _, ok := r.BasicAuth(); ok {
		reason = "unable to authenticate user [" + u + "] for REST request [" + r.URL.RequestURI() + "]"
	} else if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "ApiKey") {
		reason = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
	}
	challenge := []string{`Basic realm="security" charset="UTF-8"`, "ApiKey"}
	for _, c := range challenge {
		w.Header().Add("WWW-Authenticate", c)
	}
	writeError(w, http.StatusUnauthorized, "security_exception", reason, map[string]any{
		"header": map[string]any{"WWW-Authenticate": challenge},
	})
}

// route dispatches on the path's segments.
func (s *TestServer) route(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	var seg []string
	if path != "" {
		for _, p := range strings.Split(path, "/") {
			u, err := url.PathUnescape(p)
			if err != nil {
				u = p
			}
			seg = append(seg, u)
		}
	}
	m := r.Method
	switch {
	case len(seg) == 0 && (m == http.MethodGet || m == http.MethodHead):
		s.info(w)
	case len(seg) == 1 && seg[0] == "_bulk" && (m == http.MethodPost || m == http.MethodPut):
		s.bulk(w, r, "")
	case len(seg) == 1 && seg[0] == "_search" && (m == http.MethodGet || m == http.MethodPost):
		s.search(w, r, "")
	case len(seg) >= 2 && seg[0] == "_search" && seg[1] == "scroll":
		id := ""
		if len(seg) == 3 {
			id = seg[2]
		}
		switch m {
		case http.MethodGet, http.MethodPost:
			s.scrollNext(w, r, id)
		case http.MethodDelete:
			s.clearScroll(w, r, id)
		default:
			methodNotAllowed(w, r)
		}
	case len(seg) == 1 && seg[0] == "_pit" && m == http.MethodDelete:
		s.closePIT(w, r)
	case len(seg) >= 2 && seg[0] == "_cat" && seg[1] == "indices" && m == http.MethodGet:
		target := ""
		if len(seg) == 3 {
			target = seg[2]
		}
		s.catIndices(w, r, target)
	case len(seg) == 1 && seg[0] == "_aliases" && m == http.MethodPost:
		s.updateAliases(w, r)
	case len(seg) >= 1 && seg[0] == "_alias" && m == http.MethodGet:
		name := ""
		if len(seg) == 2 {
			name = seg[1]
		}
		s.getAliases(w, r, "", name)
	case len(seg) >= 1 && seg[0] == "_data_stream" && m == http.MethodGet:
		name := ""
		if len(seg) == 2 {
			name = seg[1]
		}
		s.getDataStreams(w, r, name)
	case len(seg) == 1 && seg[0] == "_refresh" && (m == http.MethodPost || m == http.MethodGet):
		s.refresh(w, r, "")
	case len(seg) == 1 && seg[0] == "_count" && (m == http.MethodPost || m == http.MethodGet):
		s.countDocs(w, r, "")
	case len(seg) == 1 && seg[0] == "_settings" && m == http.MethodGet:
		s.getSettings(w, r, "_all")
	case len(seg) == 1 && seg[0] == "_mapping" && m == http.MethodGet:
		s.getMappings(w, r, "_all")
	case len(seg) == 1 && strings.HasPrefix(seg[0], "_"):
		writeError(w, http.StatusBadRequest, "invalid_index_name_exception",
			"Invalid index name ["+seg[0]+"], must not start with '_'.", nil)
	case len(seg) == 1:
		switch m {
		case http.MethodPut:
			s.createIndex(w, r, seg[0])
		case http.MethodHead:
			s.indexExists(w, seg[0])
		case http.MethodGet:
			s.getIndex(w, r, seg[0])
		case http.MethodDelete:
			s.deleteIndex(w, r, seg[0])
		default:
			methodNotAllowed(w, r)
		}
	case len(seg) == 2:
		target, op := seg[0], seg[1]
		switch {
		case op == "_bulk" && (m == http.MethodPost || m == http.MethodPut):
			s.bulk(w, r, target)
		case op == "_search" && (m == http.MethodGet || m == http.MethodPost):
			s.search(w, r, target)
		case op == "_pit" && m == http.MethodPost:
			s.openPIT(w, r, target)
		case op == "_count" && (m == http.MethodGet || m == http.MethodPost):
			s.countDocs(w, r, target)
		case op == "_refresh" && (m == http.MethodGet || m == http.MethodPost):
			s.refresh(w, r, target)
		case op == "_settings" && m == http.MethodGet:
			s.getSettings(w, r, target)
		case op == "_settings" && m == http.MethodPut:
			s.putSettings(w, r, target)
		case op == "_mapping" && m == http.MethodGet:
			s.getMappings(w, r, target)
		case op == "_alias" && m == http.MethodGet:
			s.getAliases(w, r, target, "")
		default:
			noHandler(w, r)
		}
	case len(seg) == 3 && seg[1] == "_doc" && (m == http.MethodPut || m == http.MethodPost):
		s.indexOne(w, r, seg[0], seg[2])
	case len(seg) == 3 && seg[1] == "_doc" && m == http.MethodGet:
		s.getDoc(w, seg[0], seg[2])
	default:
		noHandler(w, r)
	}
}

func (s *TestServer) info(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name":         "estest-0",
		"cluster_name": "estest",
		"cluster_uuid": "estest-cluster-uuid-00000",
		"version": map[string]any{
			"number":                              Version,
			"build_flavor":                        "default",
			"build_type":                          "tar",
			"build_hash":                          "test",
			"build_date":                          "2025-01-01T00:00:00.000Z",
			"build_snapshot":                      false,
			"lucene_version":                      "9.12.2",
			"minimum_wire_compatibility_version":  "7.17.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	})
}

// writeJSON writes v as the JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes Elasticsearch's error envelope:
// {"error":{"root_cause":[{...}],"type":...,"reason":...},"status":N}.
func writeError(w http.ResponseWriter, status int, typ, reason string, extra map[string]any) {
	cause := map[string]any{"type": typ, "reason": reason}
	for k, v := range extra {
		cause[k] = v
	}
	e := map[string]any{"root_cause": []any{cause}}
	for k, v := range cause {
		e[k] = v
	}
	writeJSON(w, status, map[string]any{"error": e, "status": status})
}

func indexNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]", map[string]any{
		"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name,
	})
}

func noHandler(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusBadRequest, "illegal_argument_exception",
		"request ["+r.URL.Path+"] contains unrecognized parameters or no handler found for uri ["+r.URL.Path+"] and method ["+r.Method+"]", nil)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET,POST,DELETE")
	writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
		"error":  "Incorrect HTTP method for uri [" + r.URL.RequestURI() + "] and method [" + r.Method + "]",
		"status": http.StatusMethodNotAllowed,
	})
}

func badRequest(w http.ResponseWriter, typ, format string, args ...any) {
	writeError(w, http.StatusBadRequest, typ, fmt.Sprintf(format, args...), nil)
}

// readBody reads a request body, bounded by http.max_content_length.
func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, maxContentLength+1))
}

// boolParam reads a boolean query parameter ("" and "true" are true when
// present, as in Elasticsearch).
func boolParam(r *http.Request, name string) bool {
	v, ok := r.URL.Query()[name]
	if !ok {
		return false
	}
	return len(v) == 0 || v[0] == "" || v[0] == "true"
}

// parseTimeValue parses an Elasticsearch time value: 500ms, 30s, 5m, 1h, 1d,
// plus micros and nanos.
func parseTimeValue(v string) (time.Duration, error) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 {
				break
			}
			return time.Duration(n) * u.d, nil
		}
	}
	return 0, fmt.Errorf("failed to parse setting [keep_alive] with value [%s] as a time value: unit is missing or unrecognized", v)
}

func newContextID(n int64) string {
	// Opaque like Elasticsearch's (base64 of a binary structure).
	return base64.URLEncoding.EncodeToString([]byte(fmt.Sprintf("estest-ctx-%016d-%d", n, time.Now().UnixNano())))
}

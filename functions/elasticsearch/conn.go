package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"

	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Environment variables holding credentials (their content, from the
// AppBinding's Secret through secretKeyRef).
const (
	EnvUsername = "ES_USERNAME"
	EnvPassword = "ES_PASSWORD"
	EnvAPIKey   = "ES_API_KEY"
	EnvCACert   = "ES_CA_CERT"
)

// conn is a client for one cluster. Requests go through elastictransport,
// the transport go-elasticsearch's client is built on (node pool, retries on
// 502/503/504 and connection errors), used on its own: without the client's
// product check, so that Elasticsearch 7 releases and API-compatible servers
// that do not send X-Elastic-Product can be backed up, and without the
// client's packages (go-elasticsearch/v8 links its whole typed API, ≈ 14 MiB
// of every step's binary; docs/functions.md). 429 is retried below it by
// retry429.
type conn struct {
	urls []string
	tp   *elastictransport.Client
	log  *slog.Logger
}

// userAgent is sent with every request.
const userAgent = "stashflow"

// connect builds a client for the comma-separated node URLs with the
// credentials in env.
func connect(urls []string, env *step.Env, log *slog.Logger) (*conn, error) {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// Elasticsearch compresses responses when asked; on the networks
		// between a step and its cluster the CPU it costs on both sides is
		// dearer than the bytes (CPU is the bound, see DESIGN.md).
		DisableCompression:    true,
		ResponseHeaderTimeout: 5 * time.Minute,
		ForceAttemptHTTP2:     true,
	}
	pemData := env.Getenv(EnvCACert)
	if strings.TrimSpace(pemData) == "" {
		pemData = env.Getenv(outputs.TargetCABundleEnv) // the AppBinding's caBundle
	}
	insecure := env.Getenv(outputs.TargetInsecureSkipTLSVerifyEnv) == "true"
	serverName := env.Getenv(outputs.TargetServerNameEnv)
	if strings.TrimSpace(pemData) != "" || insecure || serverName != "" {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure, ServerName: serverName} //nolint:gosec // the AppBinding's insecureSkipTLSVerify
	}
	if strings.TrimSpace(pemData) != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(pemData)) {
			return nil, fmt.Errorf("%s (or the AppBinding's caBundle) holds no PEM certificate", EnvCACert)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	addrs := make([]*url.URL, 0, len(urls))
	for _, u := range urls {
		pu, err := url.Parse(strings.TrimRight(u, "/"))
		if err != nil {
			return nil, fmt.Errorf("--url: %q: %w", redactURL(u), err)
		}
		addrs = append(addrs, pu)
	}
	// The client's metadata header and compatibility mode are not sent
	// (elastictransport has neither): requests must work on Elasticsearch 7
	// as well.
	tp, err := elastictransport.New(elastictransport.Config{
		UserAgent:    userAgent,
		URLs:         addrs,
		Username:     env.Getenv(EnvUsername),
		Password:     env.Getenv(EnvPassword),
		APIKey:       strings.TrimSpace(env.Getenv(EnvAPIKey)),
		Transport:    &retry429{next: tr, log: log},
		MaxRetries:   3,
		RetryOnError: retryableError,
		RetryBackoff: func(attempt int) time.Duration { return backoff(attempt, 250*time.Millisecond, 5*time.Second) },
	})
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	return &conn{urls: urls, tp: tp, log: log}, nil
}

// retryableError: connection errors are retried (on the next node), TLS
// verification failures are not.
func retryableError(_ *http.Request, err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return !errors.As(err, &cv) && !errors.As(err, &ua) && !errors.As(err, &hn) && !errors.As(err, &ci)
}

// backoff is exponential with full jitter: a random duration in
// [base·2^(attempt-1)/2, base·2^(attempt-1)], capped.
func backoff(attempt int, base, capd time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base << min(attempt-1, 20)
	if d > capd || d <= 0 {
		d = capd
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retry429 retries requests answered 429 Too Many Requests, waiting as long
// as Retry-After says (seconds or an HTTP date) or with exponential backoff.
type retry429 struct {
	next http.RoundTripper
	log  *slog.Logger
}

// Retry limits for 429.
const (
	max429Attempts = 12
	max429Wait     = 2 * time.Minute
	max429Total    = 10 * time.Minute
)

func (t *retry429) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		res, err := t.next.RoundTrip(req)
		if err != nil || res.StatusCode != http.StatusTooManyRequests || attempt >= max429Attempts ||
			(req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return res, err
		}
		wait := retryAfter(res.Header.Get("Retry-After"), time.Now())
		if wait <= 0 {
			wait = backoff(attempt, 200*time.Millisecond, 30*time.Second)
		}
		wait = min(wait, max429Wait)
		if time.Since(start)+wait > max429Total {
			return res, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if t.log != nil {
			t.log.Info("elasticsearch is busy (429 Too Many Requests), retrying", "path", req.URL.Path, "after", wait.String(), "attempt", attempt)
		}
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
	}
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// apiError is an error answer of the server.
type apiError struct {
	Method, Path string
	Status       int
	Type         string // Elasticsearch's error type, e.g. index_not_found_exception
	Reason       string
	RootCause    string // the root cause's type: reason, when it differs
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Type != "" {
		msg += " " + e.Type
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.RootCause != "" {
		msg += " (caused by " + e.RootCause + ")"
	}
	return msg
}

// missingAPI reports whether the server does not implement the endpoint
// (rather than refusing the request): 404/405/501 other than a missing
// index, or 400 "no handler found" / "unrecognized parameter".
func (e *apiError) missingAPI() bool {
	switch e.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return e.Type != "index_not_found_exception" && e.Type != "search_context_missing_exception" &&
			e.Type != "search_phase_execution_exception"
	case http.StatusBadRequest:
		r := strings.ToLower(e.Reason)
		return strings.Contains(r, "no handler found") || strings.Contains(r, "unrecognized parameter") ||
			strings.Contains(r, "unrecognized parameters")
	}
	return false
}

func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	ok := errors.As(err, &ae)
	return ae, ok
}

// authError is a 401/403 turned into one line that says what to check.
type authError struct {
	url    string
	status int
	reason string
}

func (e *authError) Error() string {
	if e.status == http.StatusForbidden {
		return fmt.Sprintf("elasticsearch %s: permission denied (HTTP 403): %s", e.url, e.reason)
	}
	return fmt.Sprintf("elasticsearch %s: authentication failed (HTTP 401): %s; check %s/%s or %s", e.url, e.reason, EnvUsername, EnvPassword, EnvAPIKey)
}

// parseError reads an error body: Elasticsearch's envelope
// ({"error":{"type","reason","root_cause":[...]},"status"}), a string
// error ({"error":"..."}) or any other JSON object or text.
func parseError(method, path string, status int, body []byte) *apiError {
	e := &apiError{Method: method, Path: path, Status: status}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		var obj struct {
			Type      string `json:"type"`
			Reason    string `json:"reason"`
			RootCause []struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"root_cause"`
			CausedBy *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"caused_by"`
		}
		var s string
		switch {
		case json.Unmarshal(env.Error, &obj) == nil && (obj.Type != "" || obj.Reason != ""):
			e.Type, e.Reason = obj.Type, obj.Reason
			if len(obj.RootCause) > 0 && (obj.RootCause[0].Type != obj.Type || obj.RootCause[0].Reason != obj.Reason) {
				e.RootCause = obj.RootCause[0].Type + ": " + obj.RootCause[0].Reason
				// search_phase_execution_exception says "all shards failed";
				// the root cause is the reason.
				if e.Type == "search_phase_execution_exception" {
					e.Type, e.Reason, e.RootCause = obj.RootCause[0].Type, obj.RootCause[0].Reason, ""
				}
			} else if obj.CausedBy != nil && obj.CausedBy.Reason != "" {
				e.RootCause = obj.CausedBy.Type + ": " + obj.CausedBy.Reason
			}
			return e
		case json.Unmarshal(env.Error, &s) == nil:
			e.Reason = s
			return e
		}
	}
	var any map[string]any
	if json.Unmarshal(body, &any) == nil {
		for _, v := range any {
			if s, ok := v.(string); ok {
				e.Reason = s
				return e
			}
		}
	}
	e.Reason = strings.TrimSpace(string(body))
	if len(e.Reason) > 300 {
		e.Reason = e.Reason[:300] + "…"
	}
	if e.Reason == "" {
		e.Reason = http.StatusText(status)
	}
	return e
}

// do sends one request. A status ≥ 400 is returned as *apiError (401/403 as
// *authError) with the body consumed; otherwise the caller owns the body.
func (c *conn) do(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Response, error) {
	u := &url.URL{Path: path}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.tp.Perform(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("elasticsearch %s: %s %s: %w", strings.Join(c.urls, ","), method, path, unwrapURLError(err))
	}
	if res.StatusCode < 400 {
		return res, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	ae := parseError(method, path, res.StatusCode, b)
	if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
		reason := ae.Reason
		if ae.Type != "" && res.StatusCode == http.StatusForbidden {
			reason = ae.Type + ": " + reason
		}
		return nil, &authError{url: strings.Join(c.urls, ","), status: res.StatusCode, reason: reason}
	}
	return nil, ae
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// getJSON sends a request and decodes the JSON answer into out.
func (c *conn) getJSON(ctx context.Context, method, path string, query url.Values, body []byte, out any) error {
	res, err := c.do(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: cannot parse the answer: %w", method, path, err)
	}
	return nil
}

// clusterInfo is GET /.
type clusterInfo struct {
	Name        string `json:"name"`
	ClusterName string `json:"cluster_name"`
	ClusterUUID string `json:"cluster_uuid"`
	Version     struct {
		Number       string `json:"number"`
		Distribution string `json:"distribution"`
	} `json:"version"`
	Tagline string `json:"tagline"`
	Product string `json:"-"`
	// ZincSearch is set when the server is ZincSearch (a "Zinc" version
	// header, or its node and cluster names).
	ZincSearch bool `json:"-"`
}

// info reads GET / and makes sure the server speaks the API.
func (c *conn) info(ctx context.Context) (clusterInfo, error) {
	var ci clusterInfo
	res, err := c.do(ctx, http.MethodGet, "/", nil, nil)
	if err != nil {
		return ci, err
	}
	defer res.Body.Close()
	ci.Product = res.Header.Get("X-Elastic-Product")
	if err := json.NewDecoder(res.Body).Decode(&ci); err != nil || ci.Version.Number == "" {
		return ci, fmt.Errorf("elasticsearch %s: GET / did not answer like Elasticsearch (no version.number)", strings.Join(c.urls, ","))
	}
	ci.ZincSearch = res.Header.Get("Zinc") != "" || (ci.Name == "zinc" && ci.ClusterUUID == "N/A")
	if ci.Version.Distribution == "" {
		ci.Version.Distribution = "elasticsearch"
	}
	return ci, nil
}

func pathEscape(name string) string { return url.PathEscape(name) }

package objectstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"

	"golang.org/x/net/http/httpproxy"
	"golang.org/x/sync/errgroup"

	"github.com/stashflow/stashflow/functions/repository"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// deleteWorkers bounds the concurrent deletes of the backends that delete
// one object per request.
const deleteWorkers = 8

// Open implements repository.OpenObjectStore for s3:, gs:, azure: and
// rest: locations.
func Open(ctx context.Context, location string, environ []string) (repository.ObjectStore, error) {
	e := env(environ)
	scheme, _, _ := strings.Cut(location, ":")
	switch scheme {
	case "s3":
		return openS3(location, e)
	case "gs":
		return openGCS(ctx, location, e)
	case "azure":
		return openAzure(location, e)
	case "rest":
		return openRest(location, e)
	}
	return nil, fmt.Errorf("%s: wiping a %s repository is not supported (local, s3, gs, azure and rest are)", restic.RedactLocation(location), scheme)
}

// env is a step's environment.
type env []string

// get is the value of key, as the step reads its environment.
func (e env) get(key string) string { return (&step.Env{Environ: e}).Getenv(key) }

// option is restic's extended option key (-o key=value) from stashflow's
// option variable, or "".
func (e env) option(key string) string {
	v := ""
	for _, o := range strings.Split(e.get(outputs.ResticOptionsEnv), ",") {
		if k, val, ok := strings.Cut(strings.TrimSpace(o), "="); ok && k == key {
			v = val
		}
	}
	return v
}

// httpClient is an HTTP client configured as restic's for this environment:
// the system's CAs plus SSL_CERT_FILE and RESTIC_CACERT's files (comma
// separated), no verification with --insecure-tls
// (outputs.ResticInsecureTLSEnv), and the proxy variables.
func (e env) httpClient() (*http.Client, error) {
	tr, err := e.transport()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

func (e env) transport() (*http.Transport, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	files := []string{e.get("SSL_CERT_FILE")}
	files = append(files, strings.Split(e.get(restic.EnvCACert), ",")...)
	for _, f := range files {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", f)
		}
	}
	proxy := (&httpproxy.Config{
		HTTPProxy:  first(e.get("HTTP_PROXY"), e.get("http_proxy")),
		HTTPSProxy: first(e.get("HTTPS_PROXY"), e.get("https_proxy")),
		NoProxy:    first(e.get("NO_PROXY"), e.get("no_proxy")),
	}).ProxyFunc()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12,
		InsecureSkipVerify: e.get(outputs.ResticInsecureTLSEnv) == "true"} //nolint:gosec // the Repository's insecureTLS asks for it, as restic's --insecure-tls
	return tr, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// cleanPrefix is a prefix as restic cleans it: no leading or trailing
// slash, "" for the root.
func cleanPrefix(p string) string {
	p = strings.Trim(path.Clean("/"+p), "/")
	return p
}

// under is the listing prefix of the objects under prefix ("" or "p/").
func under(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}

// join is an object's full name.
func join(prefix, name string) string {
	return under(prefix) + name
}

// deleteEach deletes names with del, deleteWorkers at a time; the first
// error stops the others.
func deleteEach(ctx context.Context, names []string, del func(ctx context.Context, name string) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(deleteWorkers)
	for _, n := range names {
		g.Go(func() error { return del(ctx, n) })
	}
	return g.Wait()
}

// describe is "<kind> bucket <bucket> prefix <prefix>" with an optional
// endpoint.
func describe(kind, bucketWord, bucket, prefix, endpoint string) string {
	var b strings.Builder
	b.WriteString(kind + " " + bucketWord + " " + bucket)
	if prefix != "" {
		b.WriteString(" prefix " + prefix)
	}
	if endpoint != "" {
		b.WriteString(" at " + endpoint)
	}
	return b.String()
}

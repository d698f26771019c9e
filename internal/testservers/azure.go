package testservers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/testproc"
)

// AzureServer is a running Azurite blob service (bin/azurite-blob,
// installed by hack/install-azurite.sh), Azure Blob Storage's emulator,
// with one storage account and one container, serving HTTPS with a test
// CA's certificate for the account's production-style host name.
//
// restic 0.18.1 reaches Azure only at https://<account>.blob.<suffix>/
// (AZURE_ENDPOINT_SUFFIX sets the suffix; there is no endpoint option and
// no plain HTTP). Azurite serves such names as <account>.blob.localhost,
// but Go's resolver does not resolve *.localhost to loopback, so restic
// dials through a CONNECT proxy of the test's (HTTPS_PROXY) that tunnels
// that one host name to Azurite; TLS runs end to end, verified against the
// test CA (SSL_CERT_FILE). Env has all of it.
type AzureServer struct {
	// Account and Key are the storage account's name and key.
	Account, Key string
	// Container exists when StartAzurite returns.
	Container string
	// Host is <Account>.blob.localhost:PORT, the name restic dials.
	Host string

	port   int
	proxy  string
	caFile string
	client *http.Client
}

// Env is the environment restic needs to reach Azurite instead of Azure:
// the endpoint suffix, the proxy, the test CA, and restic's
// azure.access-tier option through the step runtime's option variable
// (outputs.ResticOptionsEnv). restic 0.18.1 sends an empty x-ms-access-tier
// header when no tier is set, which Azure accepts and Azurite refuses
// (400 InvalidHeaderValue); a Repository without maxConnections sets no
// options of its own, so this one reaches restic.
func (s *AzureServer) Env() []string {
	return []string{
		"AZURE_ENDPOINT_SUFFIX=localhost:" + strconv.Itoa(s.port),
		"HTTPS_PROXY=" + s.proxy, "https_proxy=" + s.proxy, "NO_PROXY=", "no_proxy=",
		"SSL_CERT_FILE=" + s.caFile,
		"STASHFLOW_RESTIC_OPTIONS=azure.access-tier=Hot",
	}
}

// StartAzurite starts Azurite's blob service on a free loopback port with
// a fresh account key, its storage in a temporary directory, and the
// CONNECT proxy, and creates Container (a missing container makes restic
// retry, as a missing bucket does, so it is provisioned beforehand, as it
// is in practice). It runs <repo root>/bin/azurite-blob with node from
// PATH; a missing install fails the test.
func StartAzurite(t testing.TB) *AzureServer {
	t.Helper()
	bin := toolPath(t, "azurite-blob")
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &AzureServer{Account: "stashflowtest", Key: base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text())),
		Container: "stashflow-test", port: port}
	s.Host = fmt.Sprintf("%s.blob.localhost:%d", s.Account, port)
	tl := NewTLS(t, s.Account+".blob.localhost")
	s.caFile = tl.CAFile
	backend := fmt.Sprintf("127.0.0.1:%d", port)
	proxy := httptest.NewServer(connectProxy(s.Host, backend))
	t.Cleanup(proxy.Close)
	s.proxy = proxy.URL
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(tl.CA))
	s.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, backend)
		},
	}}

	dir := t.TempDir()
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", filepath.Join(dir, "data"),
		"--cert", tl.ServerCertFile, "--key", tl.ServerKeyFile, "--skipApiVersionCheck", "--disableTelemetry")
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+s.Account+":"+s.Key)
	logFile := filepath.Join(dir, "azurite.log")
	done := testproc.StartProcess(t, cmd, logFile)
	// Node starts Azurite in seconds, slower on a busy machine.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.createContainer()
		if err == nil {
			return s
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("azurite exited (is node on PATH?):\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("azurite not ready: %v\n%s", err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createContainer creates Container with Create Container.
func (s *AzureServer) createContainer() error {
	code, body, err := s.containerRequest(http.MethodPut, s.Container)
	if err != nil {
		return err
	}
	if code != http.StatusCreated {
		return fmt.Errorf("create container %s: %d: %s", s.Container, code, body)
	}
	return nil
}

// ContainerExists asks Azurite whether the container name exists (Get
// Container Properties).
func (s *AzureServer) ContainerExists(t testing.TB, name string) bool {
	t.Helper()
	code, body, err := s.containerRequest(http.MethodHead, name)
	switch {
	case err != nil:
		t.Fatalf("azurite: properties of container %s: %v", name, err)
	case code == http.StatusOK:
		return true
	case code != http.StatusNotFound:
		t.Fatalf("azurite: properties of container %s: %d %s", name, code, body)
	}
	return false
}

// containerRequest sends a container request (restype=container) signed
// with the account key (Shared Key authorization).
func (s *AzureServer) containerRequest(method, name string) (int, []byte, error) {
	const version = "2021-08-06"
	date := time.Now().UTC().Format(http.TimeFormat)
	// VERB, eleven standard headers (all empty), the x-ms- headers and the
	// resource with its query parameters.
	toSign := method + "\n\n\n\n\n\n\n\n\n\n\n\n" + "x-ms-date:" + date + "\nx-ms-version:" + version + "\n" +
		"/" + s.Account + "/" + name + "\nrestype:container"
	key, err := base64.StdEncoding.DecodeString(s.Key)
	if err != nil {
		return 0, nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(toSign))
	req, err := http.NewRequest(method, "https://"+s.Host+"/"+name+"?restype=container", nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", version)
	req.Header.Set("Authorization", "SharedKey "+s.Account+":"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, b, nil
}

// connectProxy is an HTTP proxy that tunnels CONNECT requests for host, and
// nothing else, to backend.
func connectProxy(host, backend string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != host {
			http.Error(w, "this proxy tunnels only CONNECT "+host, http.StatusForbidden)
			return
		}
		up, err := net.Dial("tcp", backend)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			_ = up.Close()
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() {
			_, _ = io.Copy(up, buf)
			_ = up.(*net.TCPConn).CloseWrite()
		}()
		_, _ = io.Copy(conn, up)
		_ = conn.Close()
		_ = up.Close()
	})
}

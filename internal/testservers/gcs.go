package testservers

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/testproc"
)

// GCSServer is a running fake-gcs-server (bin/fake-gcs-server, built by
// hack/build-tools.sh fake-gcs-server), a Google Cloud Storage emulator,
// with one bucket, behind a front that plays Google's part in
// authentication: an OAuth token endpoint that hands out an access token
// only for a JWT signed with the service account's key (as
// oauth2.googleapis.com/token does), and a check that every storage request
// carries a token it handed out (the emulator checks none).
//
// restic 0.18.1 reaches it through the Google Cloud Storage client's
// STORAGE_EMULATOR_HOST (Env), with the service account key file whose
// token_uri is the token endpoint (KeyJSON): the key's content is what a
// Stash user puts in GOOGLE_SERVICE_ACCOUNT_JSON_KEY.
type GCSServer struct {
	// Endpoint is the front's http://127.0.0.1:PORT.
	Endpoint string
	// Project and Bucket: Bucket exists when StartGCSServer returns.
	Project, Bucket string
	// DataDir is the emulator's storage: DataDir/<bucket>/<object name>.
	DataDir string
	// KeyJSON is a service account key file's content that the token
	// endpoint accepts.
	KeyJSON string

	tokenURL string
	key      *rsa.PrivateKey
	email    string
	mu       sync.Mutex
	tokens   map[string]bool
}

// Env is the environment restic needs to reach the emulator instead of
// Google: STORAGE_EMULATOR_HOST, honoured by cloud.google.com/go/storage.
func (s *GCSServer) Env() []string {
	return []string{"STORAGE_EMULATOR_HOST=" + s.Endpoint}
}

// OtherKeyJSON is a service account key file for the same account with a
// key the token endpoint does not know (a revoked or wrong key).
func (s *GCSServer) OtherKeyJSON(t testing.TB) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return s.keyFile(t, key)
}

func (s *GCSServer) keyFile(t testing.TB, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": s.Project, "private_key_id": "stashflow-test",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": s.email, "client_id": "1", "token_uri": s.tokenURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// StartGCSServer starts fake-gcs-server on a free loopback port with its
// storage in a temporary directory, its front, and creates Bucket (restic
// 0.18.1's init opens the repository before it would create a bucket, and
// fails on a missing one, so the bucket is provisioned beforehand, as it is
// in practice). It runs <repo root>/bin/fake-gcs-server whatever PATH says;
// a missing binary fails the test.
func StartGCSServer(t testing.TB) *GCSServer {
	t.Helper()
	bin := toolPath(t, "fake-gcs-server")
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &GCSServer{Project: "stashflow-test", Bucket: "stashflow-test", DataDir: filepath.Join(dir, "data"),
		key: key, email: "backup@stashflow-test.iam.gserviceaccount.com", tokens: map[string]bool{}}
	upstream := &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
	front := httptest.NewServer(s.front(httputil.NewSingleHostReverseProxy(upstream)))
	t.Cleanup(front.Close)
	s.Endpoint, s.tokenURL = front.URL, front.URL+"/token"
	s.KeyJSON = s.keyFile(t, key)

	// -public-host: path-style object reads (/<bucket>/<object>, the XML
	// API the client reads with) are served only for that host.
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port),
		"-backend", "filesystem", "-filesystem-root", s.DataDir, "-public-host", "127.0.0.1",
		"-external-url", s.Endpoint, "-log-level", "warn")
	logFile := filepath.Join(dir, "fake-gcs-server.log")
	done := testproc.StartProcess(t, cmd, logFile)
	body := fmt.Sprintf(`{"name":%q}`, s.Bucket)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(upstream.String()+"/storage/v1/b?project="+s.Project, "application/json", strings.NewReader(body))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
			err = fmt.Errorf("create bucket: %s", resp.Status)
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("fake-gcs-server exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("fake-gcs-server not ready: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// front serves the token endpoint at /token and passes every other request
// that carries a token it handed out to the emulator.
func (s *GCSServer) front(storage http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			s.token(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		ok = ok && s.tokens[tok]
		s.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}`))
			return
		}
		storage.ServeHTTP(w, r)
	})
}

// token answers an OAuth JWT bearer grant (RFC 7523) as Google does: an
// access token for an RS256 assertion signed with the account's key, issued
// by the account for this endpoint; otherwise 400 invalid_grant.
func (s *GCSServer) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if refused := s.verify(r.PostFormValue("assertion")); refused != "" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": refused})
		return
	}
	tok := rand.Text()
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

// verify returns why Google would refuse assertion, or "".
func (s *GCSServer) verify(assertion string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "Invalid JWT"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return "Invalid JWT Signature."
	}
	var claims struct {
		Iss, Aud, Scope string
		Exp             int64
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return "Invalid JWT"
	}
	switch {
	case claims.Iss != s.email || claims.Aud != s.tokenURL:
		return "Invalid JWT: wrong issuer or audience"
	case time.Unix(claims.Exp, 0).Before(time.Now()):
		return "Invalid JWT: Token must be a short-lived token"
	case !strings.Contains(claims.Scope, "devstorage"):
		return "Invalid JWT: no storage scope"
	}
	return ""
}

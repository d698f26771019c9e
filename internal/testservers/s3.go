package testservers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/testproc"
)

// S3Server is a running MinIO server (bin/minio, built by
// hack/build-tools.sh minio), an S3-compatible object store, with one
// root account and one bucket.
type S3Server struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Bucket exists when StartS3Server returns.
	Bucket string
	// DataDir is the server's drive.
	DataDir string
	// client reaches Endpoint (trusting the server's CA over TLS).
	client *http.Client
}

// S3Repo returns restic's environment for a repository under prefix in
// Bucket, with the server's credentials: RESTIC_REPOSITORY=
// s3:http://127.0.0.1:PORT/<Bucket>/<prefix>, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY.
func (s *S3Server) S3Repo(prefix string) []string {
	return []string{
		"RESTIC_REPOSITORY=s3:" + s.Endpoint + "/" + s.Bucket + "/" + prefix,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
	}
}

// MakeBucket creates a bucket with S3's CreateBucket (PUT /<name>), signed
// with AWS Signature Version 4 for region us-east-1.
func (s *S3Server) MakeBucket(name string) error {
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	u, err := url.Parse(s.Endpoint + "/" + name)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	amzDate, day := now.Format("20060102T150405Z"), now.Format("20060102")
	scope := day + "/us-east-1/s3/aws4_request"
	const signed = "host;x-amz-content-sha256;x-amz-date"
	canonical := strings.Join([]string{
		http.MethodPut, u.EscapedPath(), "",
		"host:" + u.Host, "x-amz-content-sha256:" + emptySHA256, "x-amz-date:" + amzDate, "",
		signed, emptySHA256,
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + s.SecretKey)
	for _, part := range []string{day, "us-east-1", "s3", "aws4_request", toSign} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	req, err := http.NewRequest(http.MethodPut, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("x-amz-content-sha256", emptySHA256)
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		s.AccessKey, scope, signed, hex.EncodeToString(key)))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("create bucket %s: %s: %s", name, resp.Status, b)
	}
	return nil
}

// StartS3Server starts MinIO on a free loopback port with a fresh drive
// in a temporary directory, waits until it is ready and creates Bucket
// (restic creates a missing bucket on init, but opening a repository in a
// missing bucket retries rather than saying "no repository", so the
// bucket is provisioned beforehand, as it is in practice). It runs
// <repo root>/bin/minio, the pinned build, whatever PATH says; a missing
// binary fails the test, like every other server here.
func StartS3Server(t testing.TB) *S3Server {
	t.Helper()
	return startS3Server(t, nil)
}

// StartS3ServerTLS is StartS3Server serving HTTPS with tl's server
// certificate (for 127.0.0.1, signed by tl.CA): Endpoint is
// https://127.0.0.1:PORT.
func StartS3ServerTLS(t testing.TB, tl *TLS) *S3Server {
	t.Helper()
	return startS3Server(t, tl)
}

func startS3Server(t testing.TB, tl *TLS) *S3Server {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	minio := filepath.Join(root, "bin", "minio")
	if _, err := os.Stat(minio); err != nil {
		t.Fatalf("%s is missing: run make test-tools (or hack/build-tools.sh minio)", minio)
	}
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &S3Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "stashflow-test",
		SecretKey: fmt.Sprintf("secret-%d", time.Now().UnixNano()),
		Bucket:    "stashflow-test",
		DataDir:   filepath.Join(dir, "data"),
		client:    http.DefaultClient,
	}
	logFile := filepath.Join(dir, "minio.log")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"server", "--quiet", "--address", addr}
	if tl != nil {
		certs := filepath.Join(dir, "certs")
		if err := os.MkdirAll(certs, 0o700); err != nil {
			t.Fatal(err)
		}
		for src, dst := range map[string]string{tl.ServerCertFile: "public.crt", tl.ServerKeyFile: "private.key"} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(certs, dst), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "--certs-dir", certs)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(tl.CA))
		s.Endpoint = "https://" + addr
		s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	cmd := exec.Command(minio, append(args, s.DataDir)...)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", // no web console (it would need a second port)
		"MINIO_UPDATE=off",  // no update checks
		"MINIO_CI_CD=on",    // CI mode: a drive on the root disk is accepted
		"HOME="+dir,         // its client config (~/.mc) stays in the temp dir
	)
	done := testproc.StartProcess(t, cmd, logFile)
	// Ready once it creates the bucket: /minio/health/ready answers 200
	// a moment before requests stop failing with XMinioServerNotInitialized.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.MakeBucket(s.Bucket)
		if err == nil {
			return s
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("minio exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("minio not ready: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package testservers

import (
	"path/filepath"
	"testing"

	"github.com/stashflow/stashflow/internal/testproc"
)

// StartRestServer starts restic's rest-server without authentication on
// a free loopback port and returns the base repository URL
// (rest:http://127.0.0.1:PORT/); append a name for a repository.
func StartRestServer(t testing.TB) string {
	t.Helper()
	url, _ := StartKillableRestServer(t)
	return url
}

// StartKillableRestServer is StartRestServer for a fault test: kill ends
// the server at once with SIGKILL, as a backend that dies.
func StartKillableRestServer(t testing.TB) (url string, kill func()) {
	t.Helper()
	addr, kill := testproc.StartRestServer(t, filepath.Join(t.TempDir(), "data"), "--no-auth")
	return "rest:http://" + addr + "/", kill
}

// StartRestServerTLS starts rest-server over HTTPS with tl's server
// certificate (for 127.0.0.1, signed by tl.CA) and extra arguments (e.g.
// --htpasswd-file, or --no-auth), and returns its base URL
// (https://127.0.0.1:PORT/, without "rest:").
func StartRestServerTLS(t testing.TB, tl *TLS, args ...string) string {
	t.Helper()
	args = append([]string{"--tls", "--tls-cert", tl.ServerCertFile, "--tls-key", tl.ServerKeyFile}, args...)
	addr, _ := testproc.StartRestServer(t, filepath.Join(t.TempDir(), "data"), args...)
	return "https://" + addr + "/"
}

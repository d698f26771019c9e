package testservers

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "rest-server.log")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command("rest-server", "--path", filepath.Join(dir, "data"), "--listen", addr, "--no-auth")
	done := testproc.StartProcess(t, cmd, logFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return "rest:http://" + addr + "/", func() { _ = cmd.Process.Kill(); <-done }
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("rest-server exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rest-server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package testproc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
)

// StartProcess starts cmd with its output in logFile and stops it at the
// end of the test: SIGTERM, then SIGKILL after 5 s. The channel closes when
// the process has exited. The process is also killed if the test binary
// dies (internal/deathsig).
func StartProcess(t testing.TB, cmd *exec.Cmd, logFile string) <-chan struct{} {
	t.Helper()
	logf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := deathsig.Start(cmd, syscall.SIGKILL)
	_ = logf.Close() // the child has its own descriptor
	if err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		_ = p.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return done
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// It is taken below Linux's ephemeral range (32768–60999 by default), where
// the kernel picks the local ports of outgoing connections and of ":0"
// listeners: a server started on a port from that range a little later
// (an etcd member restarted on the peer URL its restored data dir names)
// can find it taken by another test's connection.
func FreePort() (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartRestServer starts restic's rest-server (from PATH) on a free
// loopback port with its repositories under dataDir and the extra args
// (e.g. "--no-auth", or "--htpasswd-file", f), waits until it answers HTTP
// (any status: with authentication, 401), and returns its address
// (127.0.0.1:PORT) and a kill that ends it at once with SIGKILL, as a
// backend that dies. It is stopped at the end of the test otherwise.
func StartRestServer(t testing.TB, dataDir string, args ...string) (addr string, kill func()) {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(filepath.Dir(dataDir), "rest-server-"+strconv.Itoa(port)+".log")
	cmd := exec.Command("rest-server", append([]string{"--path", dataDir, "--listen", addr}, args...)...)
	done := StartProcess(t, cmd, logFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			_ = resp.Body.Close()
			return addr, func() { _ = cmd.Process.Kill(); <-done }
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
		time.Sleep(20 * time.Millisecond)
	}
}

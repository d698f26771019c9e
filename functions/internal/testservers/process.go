package testservers

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// startServer starts cmd with its output in logFile and stops it at the
// end of the test: SIGTERM, then SIGKILL after 5 s. The channel closes when
// the process has exited.
func startServer(t testing.TB, cmd *exec.Cmd, logFile string) <-chan struct{} {
	t.Helper()
	logf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	_ = logf.Close() // the child has its own descriptor
	if err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
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

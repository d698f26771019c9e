package deathsig_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
)

// TestMain lets the test binary play the parent that dies: run with
// DEATHSIG_PARENT=1 it starts `sleep 300` through Start, prints its pid and
// then blocks until it is killed.
func TestMain(m *testing.M) {
	if os.Getenv("DEATHSIG_PARENT") == "1" {
		p, err := deathsig.Start(exec.Command("sleep", "300"), 0)
		if err != nil {
			os.Exit(3)
		}
		_, _ = os.Stdout.WriteString(strconv.Itoa(p.Cmd.Process.Pid) + "\n")
		select {}
	}
	os.Exit(m.Run())
}

func TestChildDiesWithParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), "DEATHSIG_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("child pid %q: %v", buf[:n], err)
	}
	if err := syscall.Kill(child, 0); err != nil {
		t.Fatalf("child %d not running before its parent died: %v", child, err)
	}
	_ = parent.Process.Kill() // SIGKILL: the parent runs no cleanup
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The orphan is reaped by init once dead; a zombie counts as dead.
		st, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("child %d still alive 10s after its parent was killed", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExitedBeforeReap(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 7")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := deathsig.Start(cmd, 0)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited
	// Not reaped: the process group id is still ours to signal.
	if err := syscall.Kill(-cmd.Process.Pid, 0); err != nil {
		t.Fatalf("group signal after exit, before reap: %v", err)
	}
	err = p.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("Wait = %v, want exit code 7", err)
	}
	if !cmd.SysProcAttr.Setpgid {
		t.Fatal("Start dropped SysProcAttr.Setpgid")
	}
}

func TestFindGuard(t *testing.T) {
	dir := t.TempDir()
	exe := dir + "/stashflow"
	t.Setenv("PATH", t.TempDir()) // no guard on PATH
	if got := deathsig.FindGuard(exe); len(got) != 2 || got[0] != exe || got[1] != deathsig.GuardArg {
		t.Errorf("without %s: FindGuard = %v, want the stashflow binary with %s", deathsig.GuardBinary, got, deathsig.GuardArg)
	}
	guard := dir + "/" + deathsig.GuardBinary
	if err := os.WriteFile(guard, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := deathsig.FindGuard(exe); len(got) != 1 || got[0] != guard {
		t.Errorf("with %s beside stashflow: FindGuard = %v, want [%s]", deathsig.GuardBinary, got, guard)
	}
}

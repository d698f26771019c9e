package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStepsRunInStashflowFn: with the binaries BuildStashflow builds, a
// step that `stashflow run` starts on the local engine as `stashflow fn
// <function>` runs in the lean binary: while the step waits on a server
// that accepts connections and never answers, the process holding its
// arguments is dir/stashflow-fn (/proc/<pid>/exe), a descendant of the run.
// Without stashflow-fn beside stashflow, or with the Function left out of
// it (functions.HeavyNames), it would be stashflow itself.
func TestStepsRunInStashflowFn(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := BuildStashflow(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		appType, version, function string
	}{
		{appType: "etcd", version: "3.6", function: "etcd-backup"},
		{appType: "elasticsearch", version: "8.19", function: "elasticsearch-backup"},
	} {
		t.Run(tc.function, func(t *testing.T) {
			endpoint := silentServer(t)
			files := writeManifests(t, tc.appType, tc.version, endpoint)
			stepRunsIn(t, root, bin, files, tc.function, filepath.Join(dir, FnBinary))
		})
	}
}

// stepRunsIn runs `bin run -f files` until a descendant process runs
// function in the binary want, and fails if none does.
func stepRunsIn(t *testing.T, root, bin, files, function, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	run := exec.CommandContext(ctx, bin, "run", "-f", files, "-o", "none", "--work-dir", t.TempDir())
	run.Env = append(os.Environ(), "PATH="+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	run.Stdout, run.Stderr = &out, &out
	run.Cancel = func() error { return run.Process.Signal(syscall.SIGTERM) }
	run.WaitDelay = 30 * time.Second
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	defer func() {
		_ = run.Process.Signal(syscall.SIGTERM)
		<-done
	}()

	var seen []string
	for tick := time.NewTicker(10 * time.Millisecond); ; {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("stashflow run ended (%v) before a process of the step %s was seen running %s; processes seen: %q\n%s", err, function, want, seen, out.String())
		case <-ctx.Done():
			t.Fatalf("no process of the step %s ran %s within 2 min; processes seen: %q\n%s", function, want, seen, out.String())
		case <-tick.C:
		}
		for _, pid := range descendants(run.Process.Pid) {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			args := cmdline(pid)
			if p := exe + " " + strings.Join(args, " "); !slices.Contains(seen, p) {
				seen = append(seen, p)
			}
			if exe == want && len(args) > 1 && args[1] == function {
				return
			}
		}
	}
}

// silentServer listens on loopback, accepts connections and never answers,
// so that an etcd client waits there until its dial timeout.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-accepted
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// writeManifests writes a local Repository, an AppBinding of appType at
// endpoint and a BackupConfiguration of it (the built-in Task of that
// type), and returns the file.
func writeManifests(t *testing.T, appType, version, endpoint string) string {
	t.Helper()
	dir := t.TempDir()
	yaml := `apiVersion: v1
kind: Secret
metadata: {name: repo}
stringData: {RESTIC_PASSWORD: repo-test-password}
---
apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: repo}
spec:
  backend:
    storageSecretName: repo
    local: {mountPath: /stashflow/repository, hostPath: {path: ` + filepath.Join(dir, "repository") + `}}
---
apiVersion: stashflow.dev/v1alpha1
kind: AppBinding
metadata: {name: target}
spec:
  type: ` + appType + `
  version: "` + version + `"
  clientConfig: {url: "` + endpoint + `"}
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: target}
spec:
  repository: {name: repo}
  schedule: "@every 1h"
  target: {ref: {apiVersion: stashflow.dev/v1alpha1, kind: AppBinding, name: target}}
`
	path := filepath.Join(dir, "backup.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := ppid(p); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// ppid reads the parent of pid from /proc/<pid>/stat (the field after the
// command's closing parenthesis and the state).
func ppid(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command in stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, errors.New("short stat")
	}
	return strconv.Atoi(f[1])
}

func cmdline(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

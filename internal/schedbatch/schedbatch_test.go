package schedbatch

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// statPolicy reads the policy field (41) of /proc/<pid>/task/<tid>/stat.
func statPolicy(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	p, err := strconv.Atoi(fields[41-3])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestApply: every thread is SCHED_BATCH afterwards, and so are a thread
// the runtime makes later and a child process.
func TestApply(t *testing.T) {
	if _, err := Apply(); err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if p := statPolicy(t, "/proc/self/task/"+task.Name()+"/stat"); p != PolicyBatch {
			t.Errorf("thread %s: policy %d, want %d", task.Name(), p, PolicyBatch)
		}
	}

	// A goroutine locked to its thread while the others are busy makes
	// the runtime start threads; each must have inherited the policy.
	const n = 8
	started := make(chan struct{}, n)
	release := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			started <- struct{}{}
			<-release
		}()
	}
	for range n {
		<-started
	}
	tasks, err = os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < n {
		t.Fatalf("%d threads, want at least %d", len(tasks), n)
	}
	for _, task := range tasks {
		if p := statPolicy(t, "/proc/self/task/"+task.Name()+"/stat"); p != PolicyBatch {
			t.Errorf("thread %s made after Apply: policy %d, want %d", task.Name(), p, PolicyBatch)
		}
	}
	close(release)

	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if p := statPolicy(t, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/stat"); p != PolicyBatch {
		t.Errorf("child process: policy %d, want %d", p, PolicyBatch)
	}
	if n, err := Apply(); err != nil || n != 0 {
		t.Errorf("second Apply changed %d threads (%v), want 0", n, err)
	}
}

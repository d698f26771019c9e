package etcd

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/functions/membudget"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

// TestOverheadCoversBinaries: membudget.Overhead, the part of a step's
// memory limit that neither Go memory limit controls, holds what the step
// maps of its binaries (stashflow-fn's and restic's file-backed RSS, at
// their peaks, sampled from /proc while `stashflow fn etcd-backup` runs
// under a 256 MiB budget) plus the pipe between them. A binary that grows
// its mapped pages past that fails here before a step under a limit is
// OOM-killed.
func TestOverheadCoversBinaries(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	cli := src.Client(t)
	dataset{keys: 2_000, bigEvery: 5, prefixes: []string{"/o/"}, seed: 3}.load(t, cli)
	bin := stashflow(t)

	cmd := exec.Command(bin, "fn", "etcd-backup", "--endpoints", strings.Join(src.Endpoints(), ","))
	cmd.Env = append(append(os.Environ(), localRepo(t)...), "STASHFLOW_OUTPUT_DIR="+t.TempDir(), outputs.MemoryLimitEnv+"=256Mi")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peaks := map[string]int64{} // peak RssFile by command name
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("etcd-backup: %v: %s", err, stderr.String())
			}
			running = false
		case <-tick.C:
			for _, pid := range processTree(cmd.Process.Pid) {
				if name, file, ok := fileRSS(pid); ok {
					peaks[name] = max(peaks[name], file)
				}
			}
		}
	}
	fn, rs := peaks["stashflow-fn"], peaks["restic"]
	if fn == 0 || rs == 0 {
		t.Fatalf("sampled file-backed RSS by command: %v; want stashflow-fn's and restic's", peaks)
	}
	need := fn + rs + restic.DefaultPipeSize
	t.Logf("file-backed RSS: stashflow-fn %d MiB, restic %d MiB; with the pipe %d MiB, Overhead %d MiB", fn>>20, rs>>20, need>>20, membudget.Overhead>>20)
	if need > membudget.Overhead {
		t.Errorf("stashflow-fn's %d MiB + restic's %d MiB of mapped binary + the %d MiB pipe = %d MiB, over membudget.Overhead (%d MiB)",
			fn>>20, rs>>20, restic.DefaultPipeSize>>20, need>>20, membudget.Overhead>>20)
	}
}

// processTree returns pid and its descendants (children of any of their
// threads: a Go process starts its children from whichever thread runs).
func processTree(pid int) []int {
	pids := []int{pid}
	for i := 0; i < len(pids); i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pids[i]))
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					pids = append(pids, n)
				}
			}
		}
	}
	return pids
}

// fileRSS returns pid's command name and file-backed RSS in bytes.
func fileRSS(pid int) (string, int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", 0, false
	}
	defer f.Close()
	var name string
	var file int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			name = v
		case "RssFile":
			kb, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			file = kb << 10
		}
	}
	return name, file, name != ""
}

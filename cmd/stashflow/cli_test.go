package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/repo"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stashflow-cli")
	if err != nil {
		panic(err)
	}
	if binary, err = repo.BuildStashflow(dir); err != nil {
		println(err.Error())
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stashflow runs the built binary and returns stdout, stderr, exit code.
func stashflow(ctx context.Context, t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return stashflowEnv(ctx, t, nil, args...)
}

// stashflowEnv is stashflow with env added to the test's environment.
func stashflowEnv(ctx context.Context, t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case ctx.Err() != nil && cmd.ProcessState != nil:
		// Cancelled (interrupted) by the test: exec reports ctx.Err().
		return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
	}
	t.Fatalf("stashflow %v: %v", args, err)
	return "", "", -1
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunExitCodesAndErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/shell-backup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	failing := strings.Replace(string(base), "value: hello", "value: fail", 1)
	tests := []struct {
		name       string
		files      []string
		args       []string
		wantCode   int
		wantStderr []string
		wantStdout []string
	}{
		{
			name: "a session that succeeds", files: []string{"testdata/shell-backup.yaml"}, wantCode: 0,
			wantStdout: []string{"kind: BackupSession", "phase: Succeeded", "function: say"},
		},
		{
			name: "a session that fails", files: []string{write(t, "failing.yaml", failing)}, wantCode: 1,
			wantStdout: []string{"phase: Failed"}, wantStderr: []string{"say", "Failed", "exit code 1", "1 session(s) did not succeed"},
		},
		{
			name: "a session that fails, -q -o none: the reason is still said", files: []string{write(t, "failing-quiet.yaml", failing)}, args: []string{"-q", "-o", "none"}, wantCode: 1,
			wantStderr: []string{"BackupSession every-second-", ": Failed: ", "exit code 1", "1 session(s) did not succeed"},
		},
		{
			name: "an unknown field", files: []string{write(t, "typo.yaml", strings.Replace(string(base), "schedule:", "schedul:", 1))}, wantCode: 2,
			wantStderr: []string{"typo.yaml#5", `unknown field "spec.schedul"`},
		},
		{
			name: "a missing Repository", files: []string{write(t, "norepo.yaml", strings.Replace(string(base), "repository: {name: repo}", "repository: {name: elsewhere}", 1))}, wantCode: 2,
			wantStderr: []string{"BackupConfiguration default/every-second", "spec.repository: Repository default/elsewhere is not in the given files"},
		},
		{
			// The second BackupConfiguration would silently replace the
			// first; the namespace defaults to the same one.
			name: "the same object twice, across files", files: []string{"testdata/shell-backup.yaml", write(t, "again.yaml", "apiVersion: stashflow.dev/v1alpha1\nkind: BackupConfiguration\n"+
				"metadata: {name: every-second, namespace: default}\nspec: {repository: {name: repo}, schedule: '@daily', task: {name: say}}\n")}, wantCode: 2,
			wantStderr: []string{"BackupConfiguration default/every-second: given twice, differently, in testdata/shell-backup.yaml#5 and ", "again.yaml#1"},
		},
		{
			name: "nothing to run", files: []string{write(t, "empty.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")}, wantCode: 2,
			wantStderr: []string{"the files hold no BackupSession"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"run", "--work-dir", t.TempDir()}, tt.args...)
			for _, f := range tt.files {
				args = append(args, "-f", f)
			}
			stdout, stderr, code := stashflow(context.Background(), t, args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestRunSchedule: --schedule fires a BackupConfiguration on its cron until
// interrupted, each firing a session of its own.
func TestRunSchedule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
	defer cancel()
	stdout, stderr, code := stashflow(ctx, t, "run", "--schedule", "-f", "testdata/shell-backup.yaml", "--work-dir", t.TempDir(), "-o", "json")
	if code != 0 && code != exitInterrupted {
		t.Fatalf("exit code %d\nstderr:\n%s", code, stderr)
	}
	fired := strings.Count(stdout, `"phase": "Succeeded"`)
	if fired < 2 {
		t.Fatalf("%d sessions succeeded in 4.5 s of @every 1s, want at least 2\nstdout:\n%s\nstderr:\n%s", fired, stdout, stderr)
	}
	if !strings.Contains(stderr, "BackupConfiguration default/every-second: next backup at") {
		t.Errorf("stderr does not announce the next backup:\n%s", stderr)
	}
}

func TestVersionAndPluginName(t *testing.T) {
	out, _, code := stashflow(context.Background(), t, "version")
	if code != 0 || !strings.HasPrefix(out, "stashflow ") {
		t.Fatalf("version: %q, code %d", out, code)
	}
	plugin := filepath.Join(filepath.Dir(binary), "kubectl-stashflow")
	if err := os.Symlink(binary, plugin); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--help"}, {"describe", "--help"}} {
		help, err := exec.Command(plugin, args...).CombinedOutput()
		want := "kubectl stashflow " + map[bool]string{true: "[command]", false: "describe"}[len(args) == 1]
		if err != nil || !strings.Contains(string(help), want) || strings.Contains(string(help), "kubectl-stashflow") {
			t.Errorf("kubectl-stashflow %v: %v; want %q (and never kubectl-stashflow) in\n%s", args, err, want, help)
		}
	}
}

// TestUsageExitCodes: every way of calling a command wrongly exits 2 with
// the reason, and --version answers like the version command.
func TestUsageExitCodes(t *testing.T) {
	otherSecret := write(t, "secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: repo}\nstringData: {RESTIC_PASSWORD: another}\n")
	for _, tt := range []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{[]string{"bogus"}, exitUsage, "", `unknown command "bogus"`},
		{[]string{"run", "--nope"}, exitUsage, "", "unknown flag: --nope"},
		{[]string{"version", "extra"}, exitUsage, "", `unknown command "extra"`},
		{[]string{"trigger"}, exitUsage, "", "accepts 1 arg(s), received 0"},
		{[]string{"describe", "a", "b"}, exitUsage, "", "accepts at most 1 arg(s), received 2"},
		{[]string{"catalog", "list", "x"}, exitUsage, "", `unknown command "x"`},
		{[]string{"run"}, exitUsage, "", `required flag(s) "filename" not set`},
		{[]string{"plan"}, exitUsage, "", `required flag(s) "filename" not set`},
		{[]string{"plan", "-f", "testdata/shell-backup.yaml", "extra"}, exitUsage, "", `unknown command "extra"`},
		{[]string{"plan", "-f", "testdata/shell-backup.yaml", "-o", "wide"}, exitUsage, "", `--output: "wide" is not text, yaml, json, argo or none`},
		{[]string{"snapshots", "-o", "table"}, exitUsage, "", `--output: "table" is not one of wide, json, yaml, name, go-template=…`},
		{[]string{"catalog", "list", "-o", "tree"}, exitUsage, "", `--output: "tree" is not one of wide, json, yaml, name,`},
		{[]string{"catalog", "show", "volume-backup", "-o", "wide"}, exitUsage, "", `--output: "wide" is not one of json, yaml, name,`},
		{[]string{"run", "-f", "testdata/shell-backup.yaml", "-o", "wide"}, exitUsage, "", `--output: "wide" is not one of none, json, yaml, name,`},
		{[]string{"trigger", "bc/x", "-o", "wide"}, exitUsage, "", `--output: "wide" is not one of json, yaml, name,`},
		{[]string{"restore", "bc/x", "--snapshot", "latest", "-o", "jsonpath={.spec"}, exitUsage, "", "--output jsonpath={.spec: error parsing jsonpath"},
		{[]string{"catalog", "list", "-o", "name"}, exitOK, "function.stashflow.dev/volume-backup\n", ""},
		{[]string{"catalog", "show", "volume-backup", "-o", "jsonpath={.items[*].kind}"}, exitOK, "Task Function Function", ""},
		{[]string{"plan", "-f", "testdata/shell-backup.yaml", "--volume", "nodir"}, exitUsage, "", `--volume: "nodir" is not name=dir`},
		{[]string{"run", "--dry-run", "--schedule", "-f", "testdata/shell-backup.yaml"}, exitUsage, "", "--dry-run and --schedule"},
		{[]string{"plan", "-f", "testdata/shell-backup.yaml", "-o", "none"}, exitOK, "", ""},
		{[]string{"plan", "-f", "testdata/shell-backup.yaml", "-f", "testdata/shell-backup.yaml"}, exitOK, "BackupSession every-second-", ""},
		{[]string{"plan", "-f", "testdata/shell-backup.yaml", "-f", otherSecret}, exitUsage, "",
			"Secret default/repo: given twice, differently, in testdata/shell-backup.yaml#1 and " + otherSecret + "#1"},
		{[]string{"convert"}, exitUsage, "", `required flag(s) "filename" not set`},
		{[]string{"convert", "-f", "testdata/no-such-file.yaml"}, exitUsage, "", "testdata/no-such-file.yaml: no such file or directory"},
		{[]string{"convert", "-f", "testdata/describe"}, exitUsage, "", "-f testdata/describe: no .yaml, .yml or .json file"},
		{[]string{"convert", "-f", "testdata/shell-backup.yaml", "-o", "testdata"}, exitUsage, "", "--output-dir: testdata/shell-backup.yaml is an input file; write into another directory"},
		{[]string{"convert", "-f", "testdata/shell-backup.yaml", "-f", "testdata/../testdata/shell-backup.yaml", "-o", "testdata/not-created"}, exitUsage, "",
			"--output-dir: testdata/shell-backup.yaml and testdata/../testdata/shell-backup.yaml would both be written to testdata/not-created/shell-backup.yaml"},
		{[]string{"convert", "-f", "testdata/shell-backup.yaml"}, exitOK, "kind: BackupConfiguration", ""},
		{[]string{"fn", "verdict", "--memory-limit", "lots"}, exitUsage, "", `--memory-limit: "lots" is not a size`},
		{[]string{"completion", "tcsh"}, exitUsage, "", `unknown command "tcsh" for "stashflow completion"`},
		{[]string{"catalog", "bogus"}, exitUsage, "", `unknown command "bogus" for "stashflow catalog"`},
		{[]string{"catalog"}, exitOK, "Available Commands:", ""},
		{[]string{"completion", "bash"}, exitOK, "# bash completion V2 for stashflow", ""},
		{[]string{"download", "--to", "x"}, exitUsage, "", "--snapshot and --to are required"},
		{[]string{"describe", "pod/x"}, exitUsage, "", `"pod": not a kind describe knows`},
		{[]string{"pause", "bs/x"}, exitUsage, "", `"bs": not backupconfiguration or backupbatch`},
		{[]string{"snapshots", "-A", "-f", "testdata/shell-backup.yaml"}, exitUsage, "", "-A lists a cluster's Snapshots"},
		{[]string{"run", "-f", "testdata/shell-backup.yaml", "--volume"}, exitUsage, "", "flag needs an argument: --volume"},
		{[]string{"trigger", "bc/x", "--timeout", "soon"}, exitUsage, "", `invalid argument "soon" for "--timeout"`},
		{[]string{"operator", "--appcatalog-poll-interval=0s"}, exitUsage, "", "--appcatalog-poll-interval=0s: want a duration greater than 0, such as 30s or 1m"},
		{[]string{"operator", "--appcatalog-poll-interval=-1m"}, exitUsage, "", "--appcatalog-poll-interval=-1m0s: want a duration greater than 0"},
		{[]string{"operator", "--appcatalog-poll-interval=often"}, exitUsage, "", `invalid argument "often" for "--appcatalog-poll-interval"`},
		{[]string{"--version"}, exitOK, "stashflow ", ""},
		{[]string{"version"}, exitOK, "stashflow ", ""},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := stashflow(context.Background(), t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

// TestConvertStdin: `kubectl get -o yaml | stashflow convert -f -`: a List
// from standard input becomes documents on stdout, a line per change on
// stderr; a document that is not YAML is bad input (exit 2).
func TestConvertStdin(t *testing.T) {
	list := `apiVersion: v1
kind: List
items:
- apiVersion: stash.appscode.com/v1beta1
  kind: BackupConfiguration
  metadata: {name: etcd, namespace: demo, uid: 5d3c, resourceVersion: "7"}
  spec:
    schedule: "@daily"
    repository: {name: repo}
    task: {name: etcd-backup-3.5.0}
    target: {ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: etcd}}
- apiVersion: v1
  kind: Secret
  metadata: {name: repo-secret, namespace: demo}
  stringData: {RESTIC_PASSWORD: x}
`
	convertStdin := func(in string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(binary, "convert", "-f", "-")
		cmd.Stdin = strings.NewReader(in)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
	}
	stdout, stderr, code := convertStdin(list)
	wantOut := `apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata:
  name: etcd
  namespace: demo
spec:
  repository:
    name: repo
  schedule: '@daily'
  target:
    ref:
      apiVersion: stashflow.dev/v1alpha1
      kind: AppBinding
      name: etcd
  task:
    name: etcd-backup
---
apiVersion: v1
kind: Secret
metadata:
  name: repo-secret
  namespace: demo
stringData:
  RESTIC_PASSWORD: x
`
	wantErr := `BackupConfiguration/etcd: apiVersion: stash.appscode.com/v1beta1 → stashflow.dev/v1alpha1
BackupConfiguration/etcd: metadata.uid: dropped (set by the apiserver)
BackupConfiguration/etcd: metadata.resourceVersion: dropped (set by the apiserver)
BackupConfiguration/etcd: spec.task.name: etcd-backup-3.5.0 → etcd-backup (stashflow's catalog Task, see docs/catalog.md)
BackupConfiguration/etcd: spec.target.ref.apiVersion: appcatalog.appscode.com/v1alpha1 → stashflow.dev/v1alpha1
`
	if code != 0 || stdout != wantOut || stderr != wantErr {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s\nwant stderr:\n%s", code, stdout, stderr, wantOut, wantErr)
	}
	if _, stderr, code := convertStdin("kind: [unclosed\n"); code != exitUsage || !strings.Contains(stderr, "stdin.yaml: document 1") {
		t.Errorf("bad YAML: exit %d, stderr %q; want %d naming stdin.yaml", code, stderr, exitUsage)
	}
}

// TestFnExecsTheLeanBinary: `stashflow fn <light Function>` execs the
// stashflow-fn next to the binary with the same arguments (here a script
// that echoes them); a heavy Function, --list, or a missing stashflow-fn
// run in this binary.
func TestFnExecsTheLeanBinary(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "stashflow")
	if err := os.Link(binary, full); err != nil {
		t.Skipf("cannot link the binary into a directory of its own: %v", err)
	}
	lean := filepath.Join(dir, fnBinary)
	if err := os.WriteFile(lean, []byte("#!/bin/sh\necho lean \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		out, _ := exec.Command(full, args...).CombinedOutput()
		return string(out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fn", "verdict", "--outcome", "x"}, "lean verdict --outcome x\n"},
		{[]string{"fn", "etcd-backup", "--help"}, "lean etcd-backup --help\n"},
		{[]string{"fn", "elasticsearch-backup", "--help"}, "lean elasticsearch-backup --help\n"},
		{[]string{"fn", "elasticsearch-restore", "--help"}, "lean elasticsearch-restore --help\n"},
	} {
		if got := run(tc.args...); got != tc.want {
			t.Errorf("stashflow %q printed %q, want stashflow-fn's %q", tc.args, got, tc.want)
		}
	}
	for _, args := range [][]string{{"fn", "hook", "--help"}, {"fn", "repository-wipe", "--help"}, {"fn", "--list"}, {"fn", "nope"}} {
		if got := run(args...); strings.HasPrefix(got, "lean") {
			t.Errorf("stashflow %q ran stashflow-fn: %q", args, got)
		}
	}
	if err := os.Chmod(lean, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := run("fn", "verdict", "--memory-limit", "lots"); !strings.Contains(got, `--memory-limit: "lots" is not a size`) {
		t.Errorf("without an executable stashflow-fn: %q, want the step run here", got)
	}
}

package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
)

// sh is a step running script with sh -c; $0 is the step's name.
func sh(name, script string, deps ...pipeline.Dependency) pipeline.Step {
	return pipeline.Step{
		Name:         name,
		Process:      pipeline.Process{Command: []string{"sh", "-c", script, name}},
		Dependencies: deps,
	}
}

func on(step string, when pipeline.Condition) pipeline.Dependency {
	return pipeline.Dependency{Step: step, When: when}
}

// recorder collects events; it is not locked, so the race detector checks
// that the engine serialises its calls.
type recorder struct{ events []local.Event }

func (r *recorder) record(ev local.Event) { r.events = append(r.events, ev) }

func run(ctx context.Context, t *testing.T, opts local.Options, steps ...pipeline.Step) (map[string]pipeline.NodeStatus, *recorder) {
	t.Helper()
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	rec := &recorder{}
	got, err := local.New(opts).Run(ctx, &pipeline.Graph{Name: t.Name(), Steps: steps}, rec.record)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if len(got) != len(steps) {
		t.Fatalf("Run() returned %d statuses for %d steps", len(got), len(steps))
	}
	byName := make(map[string]pipeline.NodeStatus, len(got))
	for _, st := range got {
		byName[st.Step] = st
	}
	return byName, rec
}

// phaseAndMessage is what most tests compare.
type phaseAndMessage struct {
	Phase   pipeline.Phase
	Message string
}

func summary(got map[string]pipeline.NodeStatus) map[string]phaseAndMessage {
	out := make(map[string]phaseAndMessage, len(got))
	for name, st := range got {
		out[name] = phaseAndMessage{st.Phase, st.Message}
	}
	return out
}

// alive reports whether pid is a live process (a zombie is not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func waitForFile(t *testing.T, name string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(name); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", name)
	return ""
}

func requireGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCancelKillsTheProcessGroup(t *testing.T) {
	scratch := t.TempDir()
	pidFile := filepath.Join(scratch, "grandchild")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var statuses []pipeline.NodeStatus
	var runErr error
	go func() {
		defer close(done)
		g := &pipeline.Graph{Name: "cancel", Steps: []pipeline.Step{
			sh("parent", `sleep 30 & echo $! > `+pidFile+`; wait`),
			sh("after", "true", on("parent", pipeline.OnEnd)),
		}}
		statuses, runErr = local.New(local.Options{WorkDir: t.TempDir(), GracePeriod: 2 * time.Second}).Run(ctx, g, nil)
	}()
	pid, err := strconv.Atoi(waitForFile(t, pidFile))
	if err != nil || !alive(pid) {
		t.Fatalf("grandchild pid %d (%v) is not alive", pid, err)
	}
	start := time.Now()
	cancel()
	<-done
	if runErr != nil {
		t.Fatalf("Run() error = %v", runErr)
	}
	got := map[string]pipeline.NodeStatus{}
	for _, st := range statuses {
		got[st.Step] = st
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %s to end after cancel, want it at once (sleep dies of SIGTERM)", d)
	}
	requireGone(t, pid)
	want := map[string]phaseAndMessage{
		"parent": {pipeline.PhaseFailed, "run cancelled: stopped with SIGTERM"},
		"after":  {pipeline.PhaseOmitted, "run cancelled before the step started"},
	}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
}

func TestLeftoverProcessesEndWithTheMainProcess(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild")
	got, _ := run(context.Background(), t, local.Options{},
		sh("spawner", `sleep 30 & echo $! > `+pidFile),
	)
	if p := got["spawner"].Phase; p != pipeline.PhaseSucceeded {
		t.Fatalf("phase = %s, want Succeeded", p)
	}
	pid, err := strconv.Atoi(waitForFile(t, pidFile))
	if err != nil {
		t.Fatal(err)
	}
	requireGone(t, pid)
}

func TestSIGTERMIgnoredGetsSIGKILLAfterGrace(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	stubborn := sh("stubborn", `trap '' TERM; sleep 30 & echo $! > `+pidFile+`; wait`)
	stubborn.Timeout = 300 * time.Millisecond
	start := time.Now()
	got, _ := run(context.Background(), t, local.Options{GracePeriod: 400 * time.Millisecond}, stubborn)
	elapsed := time.Since(start)
	want := map[string]phaseAndMessage{"stubborn": {
		pipeline.PhaseFailed, "exceeded its timeout of 300ms: killed with SIGKILL after a grace period of 400ms",
	}}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if elapsed < 700*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("run took %s, want timeout + grace ≈ 700ms", elapsed)
	}
	pid, _ := strconv.Atoi(waitForFile(t, pidFile))
	requireGone(t, pid)
}

func TestGraphTimeout(t *testing.T) {
	g := &pipeline.Graph{Name: "slow", Timeout: 300 * time.Millisecond, Steps: []pipeline.Step{
		sh("first", "sleep 30"),
		sh("second", "true", on("first", pipeline.OnEnd)),
	}}
	got, err := local.New(local.Options{WorkDir: t.TempDir()}).Run(context.Background(), g, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]pipeline.NodeStatus{}
	for _, st := range got {
		byName[st.Step] = st
	}
	want := map[string]phaseAndMessage{
		"first":  {pipeline.PhaseFailed, "run exceeded its timeout of 300ms: stopped with SIGTERM"},
		"second": {pipeline.PhaseOmitted, "run exceeded its timeout of 300ms before the step started"},
	}
	if diff := cmp.Diff(want, summary(byName)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
}

func TestAlreadyCancelledRunStartsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, rec := run(ctx, t, local.Options{}, sh("a", "true"), sh("b", "true", on("a", pipeline.OnEnd)))
	want := map[string]phaseAndMessage{
		"a": {pipeline.PhaseOmitted, "run cancelled before the step started"},
		"b": {pipeline.PhaseOmitted, "run cancelled before the step started"},
	}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if len(rec.events) != 2 {
		t.Errorf("got %d events, want one per step", len(rec.events))
	}
}

func TestLargeOutputStaysInTheLogFile(t *testing.T) {
	const size = 12 << 20
	workDir := t.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, _ := run(context.Background(), t, local.Options{WorkDir: workDir},
		sh("chatty", `head -c `+strconv.Itoa(size)+` /dev/zero | tr '\0' x; echo; echo 'the last line' >&2; echo >&2; exit 4`),
	)
	runtime.ReadMemStats(&after)
	want := map[string]phaseAndMessage{"chatty": {pipeline.PhaseFailed, "exit code 4: the last line"}}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(workDir, "chatty", "attempt-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < size {
		t.Errorf("log file has %d bytes, want at least %d", fi.Size(), size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("the run allocated %d bytes for a %d-byte output, want it bounded (< 2 MiB)", alloc, size)
	}
}

type countingSecrets struct {
	local.StaticSecrets
	mu    sync.Mutex
	calls int
}

func (c *countingSecrets) SecretValue(ctx context.Context, name, key string) (string, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.StaticSecrets.SecretValue(ctx, name, key)
}

func TestSecrets(t *testing.T) {
	const secret = "s3cr3t-value"
	secrets := &countingSecrets{StaticSecrets: local.StaticSecrets{"repo": {"password": secret}}}
	withEnv := func(s pipeline.Step, env ...pipeline.EnvVar) pipeline.Step {
		s.Process.Env = env
		return s
	}
	pw := pipeline.EnvVar{Name: "PW", SecretKeyRef: &pipeline.SecretKeyRef{Name: "repo", Key: "password"}}
	got, rec := run(context.Background(), t, local.Options{Secrets: secrets},
		withEnv(sh("uses", `[ "$PW" = '`+secret+`' ] && [ -z "${OPT+set}" ]`), pw,
			pipeline.EnvVar{Name: "OPT", SecretKeyRef: &pipeline.SecretKeyRef{Name: "repo", Key: "nope", Optional: true}}),
		withEnv(sh("leaks", `echo "the password is $PW" >&2; exit 1`, on("uses", pipeline.OnSuccess)), pw),
		withEnv(sh("missing", "true"), pipeline.EnvVar{Name: "X", SecretKeyRef: &pipeline.SecretKeyRef{Name: "other", Key: "k"}}),
	)
	want := map[string]phaseAndMessage{
		"uses":    {pipeline.PhaseSucceeded, ""},
		"leaks":   {pipeline.PhaseFailed, "exit code 1: the password is [redacted]"},
		"missing": {pipeline.PhaseError, `env X: key "k" of secret "other": secret or key not found`},
	}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	for _, ev := range rec.events {
		if strings.Contains(ev.Message, secret) {
			t.Errorf("event %+v shows the secret", ev)
		}
	}
	if secrets.calls != 4 {
		t.Errorf("resolver called %d times, want 4", secrets.calls)
	}

	// Without a resolver, a step with a secret ends in Error.
	got, _ = run(context.Background(), t, local.Options{}, withEnv(sh("a", "true"), pw))
	if diff := cmp.Diff(map[string]phaseAndMessage{"a": {
		pipeline.PhaseError, `env PW: secret "repo": the engine has no secret resolver`,
	}}, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
}

func TestMissingOutputFailsTheStep(t *testing.T) {
	lazy := sh("lazy", "true")
	lazy.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
	lazy.Retry = pipeline.RetryPolicy{Limit: 2}
	got, _ := run(context.Background(), t, local.Options{},
		lazy,
		sh("on-failure", "true", on("lazy", pipeline.OnFailure)),
	)
	want := map[string]phaseAndMessage{
		"lazy":       {pipeline.PhaseError, `output "id": /tmp/stashflow/outputs/id was not written`},
		"on-failure": {pipeline.PhaseSucceeded, ""},
	}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
	if n := got["lazy"].Attempts; n != 1 {
		t.Errorf("attempts = %d, want 1: an Error is not retried", n)
	}
}

func TestParallelismLimit(t *testing.T) {
	scratch := t.TempDir()
	var steps []pipeline.Step
	for i := range 6 {
		steps = append(steps, sh("s"+strconv.Itoa(i), `cd `+scratch+` && mkdir -p running && touch running/$0 &&
ls running | wc -l >> counts && sleep 0.1 && rm running/$0`))
	}
	got, rec := run(context.Background(), t, local.Options{Parallelism: 2}, steps...)
	for name, st := range got {
		if st.Phase != pipeline.PhaseSucceeded {
			t.Errorf("step %s: %s %s", name, st.Phase, st.Message)
		}
	}
	counts, _ := os.ReadFile(filepath.Join(scratch, "counts"))
	for _, c := range strings.Fields(string(counts)) {
		if n, _ := strconv.Atoi(c); n > 2 {
			t.Errorf("a step saw %d steps running, want at most 2", n)
		}
	}
	running, peak := map[string]bool{}, 0
	for _, ev := range rec.events {
		if ev.Phase.Completed() {
			delete(running, ev.Step)
		} else {
			running[ev.Step] = true
		}
		peak = max(peak, len(running))
	}
	if peak != 2 {
		t.Errorf("peak of running steps from events = %d, want 2", peak)
	}
}

func TestRetriesWithBackoff(t *testing.T) {
	workDir := t.TempDir()
	s := sh("always-fails", `echo "attempt failed" >&2; exit 2`)
	s.Retry = pipeline.RetryPolicy{Limit: 2, Backoff: 20 * time.Millisecond, Factor: 3}
	got, rec := run(context.Background(), t, local.Options{WorkDir: workDir}, s)
	st := got["always-fails"]
	if st.Phase != pipeline.PhaseFailed || st.Attempts != 3 || st.Message != "exit code 2: attempt failed" {
		t.Errorf("status = %+v, want Failed after 3 attempts", st)
	}
	var msgs []string
	for _, ev := range rec.events {
		msgs = append(msgs, ev.Message)
	}
	wantMsgs := []string{
		"",
		"attempt 1 failed: exit code 2: attempt failed; retrying in 20ms",
		"",
		"attempt 2 failed: exit code 2: attempt failed; retrying in 60ms",
		"",
		"exit code 2: attempt failed",
	}
	if diff := cmp.Diff(wantMsgs, msgs); diff != "" {
		t.Errorf("event messages mismatch (-want +got):\n%s", diff)
	}
	if last := rec.events[len(rec.events)-1]; last.LogPath != filepath.Join(workDir, "always-fails", "attempt-3.log") || last.Attempt != 3 {
		t.Errorf("last event = %+v, want attempt 3 and its log", last)
	}
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(filepath.Join(workDir, "always-fails", "attempt-"+strconv.Itoa(i)+".log")); err != nil {
			t.Error(err)
		}
	}
}

func TestEnvironmentCommandsAndOutputs(t *testing.T) {
	workDir := t.TempDir()
	s := sh("env", `echo "$FOO $BAR" > "$STASHFLOW_OUTPUT_DIR/foo"
echo "$STASHFLOW_OUTPUT_DIR" > /tmp/stashflow/outputs/dir
pwd > /tmp/stashflow/outputs/pwd
printf 'a\n\n' > /tmp/stashflow/outputs/sub-newlines`)
	s.Process.Env = []pipeline.EnvVar{{Name: "FOO", Value: "step"}, {Name: outputs.DirEnv, Value: "/ignored"}}
	s.Outputs = []pipeline.Output{
		{Name: "foo", Path: outputs.Dir + "/foo"},
		{Name: "dir", Path: outputs.Dir + "/dir"},
		{Name: "pwd", Path: outputs.Dir + "/pwd"},
		{Name: "newlines", Path: outputs.Dir + "/sub-newlines"},
	}
	mapped := pipeline.Step{Name: "mapped", Process: pipeline.Process{Command: []string{"stashflow", "hello", "from", "$(steps.env.outputs.foo)"}},
		Dependencies: []pipeline.Dependency{on("env", pipeline.OnSuccess)}}
	got, _ := run(context.Background(), t, local.Options{
		WorkDir:  workDir,
		BaseEnv:  []string{"PATH=/usr/bin:/bin", "FOO=base", "BAR=base"},
		Commands: map[string]string{"stashflow": "/bin/echo"},
	}, s, mapped, sh("nowhere", "true"))
	outDir := filepath.Join(workDir, "env", "outputs")
	if diff := cmp.Diff(map[string]string{
		"foo": "step base", "dir": outDir, "pwd": filepath.Join(workDir, "env"), "newlines": "a\n",
	}, got["env"].Outputs); diff != "" {
		t.Errorf("outputs mismatch (-want +got):\n%s", diff)
	}
	log, err := os.ReadFile(filepath.Join(workDir, "mapped", "attempt-1.log"))
	if err != nil || string(log) != "hello from step base\n" {
		t.Errorf("mapped command log = %q, %v; want the echo of its args", log, err)
	}

	// A command found nowhere fails the step.
	got, _ = run(context.Background(), t, local.Options{BaseEnv: []string{"PATH=/nonexistent"}},
		pipeline.Step{Name: "lost", Process: pipeline.Process{Command: []string{"no-such-command"}}})
	want := map[string]phaseAndMessage{"lost": {pipeline.PhaseFailed, `exec: "no-such-command": executable file not found in $PATH`}}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
}

// TestMemoryLimitEnv: a step's memory limit reaches its process as the
// budget variable the Function runtime reads (bytes); without a limit there
// is none, and a value the step sets itself is kept.
func TestMemoryLimitEnv(t *testing.T) {
	limited := func(name string, env ...pipeline.EnvVar) pipeline.Step {
		s := sh(name, `echo "${`+outputs.MemoryLimitEnv+`:-unset}" > /tmp/stashflow/outputs/limit`)
		s.Process.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
		s.Process.Env = env
		s.Outputs = []pipeline.Output{{Name: "limit", Path: outputs.Dir + "/limit"}}
		return s
	}
	unlimited := limited("unlimited")
	unlimited.Process.Resources = corev1.ResourceRequirements{}
	got, _ := run(context.Background(), t, local.Options{BaseEnv: []string{"PATH=/usr/bin:/bin"}},
		limited("limited"), unlimited, limited("own", pipeline.EnvVar{Name: outputs.MemoryLimitEnv, Value: "1Gi"}))
	want := map[string]string{"limited": "268435456", "unlimited": "unset", "own": "1Gi"}
	for name, v := range want {
		if g := got[name].Outputs["limit"]; g != v {
			t.Errorf("step %s: $%s = %q, want %q", name, outputs.MemoryLimitEnv, g, v)
		}
	}
}

func TestVolumes(t *testing.T) {
	host := t.TempDir()
	pvcDir := t.TempDir()
	volumes := []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host}}},
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "etcd-data"}}},
	}
	mount := func(s pipeline.Step, mounts ...corev1.VolumeMount) pipeline.Step {
		s.Process.VolumeMounts = mounts
		return s
	}
	writer := mount(sh("writer", `echo shared > /scratch/file && echo "$TARGET" > /backup/target && cp /data/db /backup/db.copy`),
		corev1.VolumeMount{Name: "scratch", MountPath: "/scratch"},
		corev1.VolumeMount{Name: "host", MountPath: "/backup/"},
		corev1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true},
	)
	writer.Process.Env = []pipeline.EnvVar{{Name: "TARGET", Value: "/data/db"}}
	reader := mount(sh("reader", `cat file > /tmp/stashflow/outputs/seen`, on("writer", pipeline.OnSuccess)),
		corev1.VolumeMount{Name: "scratch", MountPath: "/scratch"})
	reader.Process.WorkingDir = "/scratch"
	reader.Outputs = []pipeline.Output{{Name: "seen", Path: outputs.Dir + "/seen"}}
	g := &pipeline.Graph{Name: "volumes", Volumes: volumes, Steps: []pipeline.Step{writer, reader}}

	// A PVC without a host directory fails the run before anything starts.
	_, err := local.New(local.Options{WorkDir: t.TempDir()}).Run(context.Background(), g, nil)
	if err == nil || !strings.Contains(err.Error(), `volume "data" (persistentVolumeClaim "etcd-data") has no host directory`) {
		t.Errorf("Run() error = %v, want the unmapped PVC named", err)
	}

	if err := os.WriteFile(filepath.Join(pvcDir, "db"), []byte("database"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := local.New(local.Options{WorkDir: t.TempDir(), Volumes: map[string]string{"data": pvcDir}}).Run(context.Background(), g, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range got {
		if st.Phase != pipeline.PhaseSucceeded {
			t.Fatalf("step %s: %s %s", st.Step, st.Phase, st.Message)
		}
	}
	if diff := cmp.Diff(map[string]string{"seen": "shared"}, got[1].Outputs); diff != "" {
		t.Errorf("reader outputs mismatch (-want +got):\n%s", diff)
	}
	for name, want := range map[string]string{"target": pvcDir + "/db\n", "db.copy": "database"} {
		if b, err := os.ReadFile(filepath.Join(host, name)); err != nil || string(b) != want {
			t.Errorf("host file %s = %q, %v; want %q", name, b, err, want)
		}
	}
}

// TestVolumeClaims: a claim of the graph is a directory of the run that
// every step mounting it shares, made before the first step and removed
// when the run ends; a same-named entry of Options.Volumes does not replace
// it, so a directory of the caller's is never used or removed as one.
func TestVolumeClaims(t *testing.T) {
	mine := t.TempDir()
	if err := os.WriteFile(filepath.Join(mine, "keep"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	mount := corev1.VolumeMount{Name: "interim", MountPath: "/interim"}
	writer := sh("writer", `test -z "$(ls -A /interim)" && echo dumped > "$DIR/dump" && echo "$DIR" > /tmp/stashflow/outputs/dir`)
	writer.Process.Env = []pipeline.EnvVar{{Name: "DIR", Value: "/interim"}}
	writer.Outputs = []pipeline.Output{{Name: "dir", Path: outputs.Dir + "/dir"}}
	reader := sh("reader", `cat /interim/dump > /tmp/stashflow/outputs/seen`, on("writer", pipeline.OnSuccess))
	reader.Outputs = []pipeline.Output{{Name: "seen", Path: outputs.Dir + "/seen"}}
	for _, s := range []*pipeline.Step{&writer, &reader} {
		s.Process.VolumeMounts = []corev1.VolumeMount{mount}
	}
	g := &pipeline.Graph{Name: "claims", Steps: []pipeline.Step{writer, reader},
		VolumeClaims: []pipeline.VolumeClaim{{Name: "interim"}}}
	workDir := t.TempDir()
	for round := range 2 { // the second run starts from an empty claim again
		got, err := local.New(local.Options{WorkDir: workDir, Volumes: map[string]string{"interim": mine}}).Run(context.Background(), g, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range got {
			if st.Phase != pipeline.PhaseSucceeded {
				t.Fatalf("round %d: step %s: %s %s", round, st.Step, st.Phase, st.Message)
			}
		}
		want := filepath.Join(workDir, ".claims", "interim")
		if diff := cmp.Diff(map[string]string{"dir": want}, got[0].Outputs); diff != "" {
			t.Errorf("round %d: writer's claim directory (-want +got):\n%s", round, diff)
		}
		if diff := cmp.Diff(map[string]string{"seen": "dumped"}, got[1].Outputs); diff != "" {
			t.Errorf("round %d: reader outputs (-want +got):\n%s", round, diff)
		}
		if _, err := os.Stat(want); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("round %d: claim directory after the run: %v, want it removed", round, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(mine, "keep")); err != nil || string(b) != "mine" {
		t.Errorf("the caller's directory: %q, %v", b, err)
	}
	if left, _ := os.ReadDir(mine); len(left) != 1 {
		t.Errorf("the caller's directory holds %d entries, want only its own file", len(left))
	}
}

func TestInvalidGraphIsAnError(t *testing.T) {
	g := &pipeline.Graph{Name: "bad", Steps: []pipeline.Step{sh("a", "true", on("b", pipeline.OnSuccess)), sh("b", "true", on("a", pipeline.OnSuccess))}}
	got, err := local.New(local.Options{WorkDir: t.TempDir()}).Run(context.Background(), g, nil)
	if err == nil || got != nil || !strings.Contains(err.Error(), "dependency cycle: a -> b -> a") {
		t.Errorf("Run() = %v, %v; want no statuses and the cycle", got, err)
	}
}

func TestOutputOfAFailedProducer(t *testing.T) {
	producer := sh("producer", "exit 1")
	producer.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
	consumer := sh("consumer", `echo "$1"`, on("producer", pipeline.OnEnd))
	consumer.Process.Args = []string{"$(steps.producer.outputs.id)"}
	got, _ := run(context.Background(), t, local.Options{}, producer, consumer)
	want := map[string]phaseAndMessage{
		"producer": {pipeline.PhaseFailed, "exit code 1"},
		"consumer": {pipeline.PhaseError, `$(steps.producer.outputs.id): step "producer" ended Failed without this output`},
	}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("statuses mismatch (-want +got):\n%s", diff)
	}
}

// TestOmissionMessages: Step.Ready decides that a step cannot run; the
// Omitted status says which dependency kept it from running.
func TestOmissionMessages(t *testing.T) {
	anyOf := func(s pipeline.Step, deps ...pipeline.Dependency) pipeline.Step {
		s.AnyOf = deps
		return s
	}
	tcs := []struct {
		name  string
		steps []pipeline.Step
		want  map[string]phaseAndMessage
	}{{
		// ok ─▶ bad ✗ ─▶ after (Omitted) ─(OnFailure)▶ handler (Omitted) ─(OnEnd)▶ last
		name: "a failure omits its chain",
		steps: []pipeline.Step{
			sh("ok", "true"),
			sh("bad", "exit 3", on("ok", pipeline.OnSuccess)),
			sh("after", "true", on("ok", pipeline.OnSuccess), on("bad", pipeline.OnSuccess)),
			sh("handler", "true", on("after", pipeline.OnFailure)),
			sh("last", "true", on("handler", pipeline.OnEnd)),
		},
		want: map[string]phaseAndMessage{
			"ok":      {pipeline.PhaseSucceeded, ""},
			"bad":     {pipeline.PhaseFailed, "exit code 3"},
			"after":   {pipeline.PhaseOmitted, `dependency "bad" ended Failed, which does not satisfy OnSuccess`},
			"handler": {pipeline.PhaseOmitted, `dependency "after" ended Omitted, which does not satisfy OnFailure`},
			"last":    {pipeline.PhaseSucceeded, ""},
		},
	}, {
		// p, q ─(any failed)▶ verdict (Omitted)
		name: "no alternative holds",
		steps: []pipeline.Step{
			sh("p", "true"),
			sh("q", "true"),
			anyOf(sh("verdict", "false"), on("p", pipeline.OnFailure), on("q", pipeline.OnFailure)),
		},
		want: map[string]phaseAndMessage{
			"p":       {pipeline.PhaseSucceeded, ""},
			"q":       {pipeline.PhaseSucceeded, ""},
			"verdict": {pipeline.PhaseOmitted, `none of its alternative dependencies holds: "p" ended Succeeded, "q" ended Succeeded`},
		},
	}, {
		// p ✗ ─▶ v (Omitted: its Dependency fails, although one of AnyOf holds)
		// q, r ─(q ended or r failed)▶ v
		name: "a failed dependency wins over a holding alternative",
		steps: []pipeline.Step{
			sh("p", "false"),
			sh("q", "true"),
			sh("r", "true"),
			anyOf(sh("v", "true", on("p", pipeline.OnSuccess)), on("q", pipeline.OnEnd), on("r", pipeline.OnFailure)),
		},
		want: map[string]phaseAndMessage{
			"p": {pipeline.PhaseFailed, "exit code 1"},
			"q": {pipeline.PhaseSucceeded, ""},
			"r": {pipeline.PhaseSucceeded, ""},
			"v": {pipeline.PhaseOmitted, `dependency "p" ended Failed, which does not satisfy OnSuccess`},
		},
	}}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(context.Background(), t, local.Options{}, tc.steps...)
			if diff := cmp.Diff(tc.want, summary(got)); diff != "" {
				t.Errorf("statuses mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// maxOutputSize bounds one output parameter, so that a step writing a huge
// file there cannot make the engine's memory grow. Argo keeps outputs in the
// Workflow object, where 256 KiB is already far too much.
const maxOutputSize = 256 << 10

// command is one step's process, resolved: output references replaced, mount
// paths rewritten, secrets in env.
type command struct {
	argv    []string
	env     []string
	dir     string
	timeout time.Duration
}

// runStep runs every attempt of n's process and returns its final status.
func (r *run) runStep(ctx context.Context, n *node, proc pipeline.Process) stepResult {
	st := pipeline.NodeStatus{Step: n.step.Name, StartedAt: time.Now()}
	red := &stepcause.Redactor{}
	cmd, err := r.command(ctx, n, proc, red)
	if err != nil {
		st.Phase, st.Message, st.FinishedAt = pipeline.PhaseError, red.Redact(err.Error()), time.Now()
		return stepResult{status: st}
	}
	retry := n.step.Retry
	var logPath string
	for attempt := 1; ; attempt++ {
		st.Attempts = attempt
		logPath = filepath.Join(n.dir, fmt.Sprintf("attempt-%d.log", attempt))
		r.emit(Event{Step: st.Step, Phase: pipeline.PhaseRunning, Attempt: attempt, Time: time.Now(), LogPath: logPath})
		out := r.attempt(ctx, n, cmd, logPath, red)
		if out.phase == pipeline.PhaseSucceeded {
			values, err := readOutputs(n.step.Outputs, n.outDir)
			if err == nil {
				st.Phase, st.Outputs = pipeline.PhaseSucceeded, values
				break
			}
			// Argo's wait container fails the same way: the node ends in
			// Error, which its default retry policy (OnFailure) does not retry.
			out = outcome{phase: pipeline.PhaseError, message: err.Error()}
		}
		msg := red.Redact(out.message)
		if out.phase != pipeline.PhaseFailed || attempt > retry.Limit || ctx.Err() != nil {
			st.Phase, st.Message = out.phase, msg
			break
		}
		wait := backoff(retry, attempt)
		r.emit(Event{
			Step: st.Step, Phase: pipeline.PhaseRunning, Attempt: attempt, Time: time.Now(), LogPath: logPath,
			Message: fmt.Sprintf("attempt %d failed: %s; retrying in %s", attempt, msg, wait),
		})
		if !sleep(ctx, wait) {
			st.Phase = pipeline.PhaseFailed
			st.Message = fmt.Sprintf("%s while waiting to retry (attempt %d: %s)", stopMessage(ctx), attempt, msg)
			break
		}
	}
	st.FinishedAt = time.Now()
	writeStepRecord(n.dir, logPath, st.Outputs, red)
	return stepResult{status: st, logPath: logPath}
}

// backoff is the wait before retry number n (n ≥ 1): Backoff × Factor^(n-1),
// at most MaxBackoff.
func backoff(p pipeline.RetryPolicy, n int) time.Duration {
	factor := p.Factor
	if factor == 0 {
		factor = 2
	}
	d := p.Backoff
	for i := 1; i < n; i++ {
		if p.MaxBackoff > 0 && d >= p.MaxBackoff {
			break
		}
		if d > time.Duration(1<<62)/time.Duration(factor) {
			d = time.Duration(1 << 62) // no overflow on long retry chains
			break
		}
		d *= time.Duration(factor)
	}
	if p.MaxBackoff > 0 && d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	return d
}

// sleep waits d or until ctx is done, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// command resolves proc for this machine: mount paths rewritten to host
// directories, secrets resolved, the output directory announced.
func (r *run) command(ctx context.Context, n *node, proc pipeline.Process, red *stepcause.Redactor) (*command, error) {
	c := &command{timeout: n.step.Timeout, dir: n.dir}
	c.argv = make([]string, 0, len(proc.Command)+len(proc.Args))
	for _, a := range proc.Command {
		c.argv = append(c.argv, n.rewrites.Apply(a))
	}
	for _, a := range proc.Args {
		c.argv = append(c.argv, n.rewrites.Apply(a))
	}
	if proc.WorkingDir != "" {
		c.dir = n.rewrites.Apply(proc.WorkingDir)
	}
	switch {
	case len(proc.EnvFrom) > 0:
		return nil, errors.New("envFrom: the local engine cannot list a ConfigMap's or Secret's keys")
	case proc.Lifecycle != nil:
		return nil, errors.New("lifecycle: the local engine runs processes, not containers with lifecycle hooks")
	}
	c.env = make([]string, 0, len(r.opts.BaseEnv)+len(proc.Env)+1)
	c.env = append(c.env, r.opts.BaseEnv...)
	for _, e := range proc.Env {
		if e.Source != nil {
			return nil, fmt.Errorf("env %s: the local engine resolves only values and secret keys, not ConfigMaps, pod fields or container resources", e.Name)
		}
		if e.SecretKeyRef == nil {
			c.env = append(c.env, e.Name+"="+n.rewrites.Apply(e.Value))
			continue
		}
		ref := e.SecretKeyRef
		if r.opts.Secrets == nil {
			return nil, fmt.Errorf("env %s: secret %q: the engine has no secret resolver", e.Name, ref.Name)
		}
		v, err := r.opts.Secrets.SecretValue(ctx, ref.Name, ref.Key)
		if err != nil {
			if ref.Optional && errors.Is(err, ErrSecretNotFound) {
				continue
			}
			return nil, fmt.Errorf("env %s: key %q of secret %q: %w", e.Name, ref.Key, ref.Name, err)
		}
		red.Add(v)
		c.env = append(c.env, e.Name+"="+v)
	}
	// A memory limit is a budget here, not enforced (no cgroup): the
	// Function runtime splits it between its process and restic, as the
	// Argo engine's Downward API variable makes it do in a pod.
	if q, ok := proc.Resources.Limits[corev1.ResourceMemory]; ok &&
		!slices.ContainsFunc(proc.Env, func(e pipeline.EnvVar) bool { return e.Name == outputs.MemoryLimitEnv }) {
		c.env = append(c.env, outputs.MemoryLimitEnv+"="+strconv.FormatInt(q.Value(), 10))
	}
	// Last, so that it wins over BaseEnv and the step's env alike.
	c.env = append(c.env, outputs.DirEnv+"="+n.outDir)
	return c, nil
}

// readOutputs reads every declared output from the step's own output
// directory, where outputs.Dir is mapped. Like Argo's executor, it
// trims exactly one trailing newline and nothing else.
func readOutputs(declared []pipeline.Output, outDir string) (map[string]string, error) {
	if len(declared) == 0 {
		return nil, nil
	}
	values := make(map[string]string, len(declared))
	for _, o := range declared {
		rel := strings.TrimPrefix(path.Clean(o.Path), outputs.Dir+"/")
		data, err := readAtMost(filepath.Join(outDir, filepath.FromSlash(rel)), maxOutputSize)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("output %q: %s was not written", o.Name, o.Path)
		case err != nil:
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		values[o.Name] = strings.TrimSuffix(string(data), "\n")
	}
	return values, nil
}

func readAtMost(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(name), limit)
	}
	return data, nil
}

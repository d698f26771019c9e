package functions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stashflow/stashflow/functions/membudget"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/schedbatch"
	"github.com/stashflow/stashflow/outputs"
)

// ValidationError is returned by Execute when the Function's Validate fails:
// the step was called wrongly and retrying will not help.
type ValidationError struct{ Err error }

func (e *ValidationError) Error() string { return e.Err.Error() }
func (e *ValidationError) Unwrap() error { return e.Err }

// Execute runs one Function the way `stashflow fn` does: Validate, then Run,
// then every output (those Run returned, plus empty common ones and the
// duration) written as a file into outputDir. Outputs are written also when
// Run fails, so that the engine can collect what is known. It returns the
// outputs as written.
func Execute(ctx context.Context, fn Function, env *Env, outputDir string) (Outputs, error) {
	if err := fn.Validate(); err != nil {
		return nil, &ValidationError{Err: err}
	}
	start := time.Now()
	out, runErr := runWithCredentialFiles(ctx, fn, env)
	if out == nil {
		out = Outputs{}
	}
	declared := outputs.Common()
	if d, ok := fn.(step.OutputDeclarer); ok {
		declared = append(declared, d.DeclaredOutputs()...)
	}
	for _, name := range declared {
		if _, ok := out[name]; !ok {
			out[name] = ""
		}
	}
	out[outputs.Duration] = time.Since(start).Round(time.Millisecond).String()
	if err := WriteOutputs(outputDir, out); err != nil {
		return out, errors.Join(runErr, err)
	}
	return out, runErr
}

// SchedBatchEnv is the variable that, set to "false", keeps a step's processes under the
// default scheduling policy instead of SCHED_BATCH (ApplySchedPolicy).
const SchedBatchEnv = "STASHFLOW_SCHED_BATCH"

// ApplySchedPolicy puts this process, and so the restic and any other
// process it starts, under SCHED_BATCH (package internal/schedbatch), as
// `stashflow fn` does before Execute, unless env sets SchedBatchEnv to
// false; another value is a ValidationError. Best effort: where the
// container's runtime forbids it (a seccomp profile without
// sched_setattr) the default policy stays, logged.
func ApplySchedPolicy(env *Env) error {
	switch v := env.Getenv(SchedBatchEnv); v {
	case "false":
		return nil
	case "", "true":
	default:
		return &ValidationError{Err: fmt.Errorf("%s=%q: want true or false", SchedBatchEnv, v)}
	}
	if _, err := schedbatch.Apply(); err != nil {
		env.Logger().Info("scheduling policy left at the default", "err", err)
	}
	return nil
}

// ApplyMemoryBudget gives one run its memory budget, as `stashflow fn`
// does before Execute: the step's limit (the --memory-limit flag when
// flagSet, else $STASHFLOW_MEMORY_LIMIT in env, bounded by this process's
// cgroup limit) split between this process and the restic it starts
// (package membudget). A bad setting is a ValidationError; an unreadable
// cgroup file is logged and ignored.
func ApplyMemoryBudget(fn Function, env *Env, flagValue string, flagSet bool) (membudget.Budget, error) {
	cgroup, err := membudget.SelfCgroupLimit()
	if err != nil {
		env.Logger().Warn("cgroup memory limit not read", "err", err)
	}
	l, err := membudget.Resolve("--"+MemoryLimitFlag, flagValue, flagSet, env.Environ, cgroup)
	if err != nil {
		return membudget.Budget{}, &ValidationError{Err: err}
	}
	var declared int64
	if d, ok := fn.(step.MemoryDeclarer); ok {
		declared = d.OwnMemory()
	}
	b := membudget.Split(l, declared)
	b.Apply(env)
	return b, nil
}

// MemoryLimitFlag is the runtime's flag for the step's memory limit.
const MemoryLimitFlag = "memory-limit"

// runWithCredentialFiles runs fn with the storage Secret's file credentials
// (CA_CERT_DATA, GOOGLE_SERVICE_ACCOUNT_JSON_KEY) written to 0600 files in
// the step's scratch directory, and removes them when fn returns: every
// Function reaches its repository through the same files. env itself keeps
// the values, so that a failure's reason still masks them.
func runWithCredentialFiles(ctx context.Context, fn Function, env *Env) (Outputs, error) {
	environ, cleanup, err := restic.CredentialFiles(env.Environ, env.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	run := *env
	run.Environ = environ
	return fn.Run(ctx, &run)
}

// WriteOutputs writes each output as the file dir/<name>, atomically (a
// temporary file renamed into place), creating dir when needed.
func WriteOutputs(dir string, out Outputs) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	for name, val := range out {
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return fmt.Errorf("output %q: not a valid file name", name)
		}
		tmp, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
		_, werr := tmp.WriteString(val)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("output %s: %w", name, err)
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
		if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("output %s: %w", name, err)
		}
	}
	return nil
}

// TerminationLogEnv names a file to write a failed step's reason into
// instead of the container's termination log (DefaultTerminationLog).
const TerminationLogEnv = "STASHFLOW_TERMINATION_LOG"

// DefaultTerminationLog is where Kubernetes looks for a container's
// termination message (terminationMessagePath's default).
const DefaultTerminationLog = "/dev/termination-log"

// WriteTerminationMessage writes a failed step's one-line reason where
// Kubernetes reads a container's termination message, so that the pod's
// status, the Argo node's message and the session's step message carry the
// cause. It writes only into a file that exists (the kubelet creates it;
// on the local engine there is none and the engine reads the log instead),
// and never fails the step.
func WriteTerminationMessage(env *Env, msg string) {
	path := DefaultTerminationLog
	if v, ok := env.LookupEnv(TerminationLogEnv); ok && v != "" {
		path = v
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return
	}
	_, _ = f.WriteString(msg)
	_ = f.Close()
}

// Fail reports a failed Function run as `stashflow fn` does: its one-line
// reason (OneLine), also written as the container's termination message;
// usage says the step was called wrongly (a ValidationError, exit code 2).
func Fail(err error, env *Env) (msg string, usage bool) {
	msg = OneLine(err, env.Environ)
	WriteTerminationMessage(env, msg)
	var ve *ValidationError
	return msg, errors.As(err, &ve)
}

// maxReasonLen bounds the failure reason printed on stderr.
const maxReasonLen = 1000

// OneLine turns err into the single line a failed step prints on stderr:
// newlines folded into "; ", the values of secret-looking environment
// variables in environ replaced by "***", and the length bounded.
func OneLine(err error, environ []string) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, secret := range secretValues(environ) {
		msg = strings.ReplaceAll(msg, secret, "***")
	}
	lines := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	lines = deleteEmpty(lines)
	msg = strings.Join(lines, "; ")
	if len(msg) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

func deleteEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// secretValues returns the values of environment variables whose names look
// like they hold secrets, longest first so that a secret containing another
// is replaced whole.
func secretValues(environ []string) []string {
	var vals []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < 4 {
			continue
		}
		uk := strings.ToUpper(k)
		if strings.Contains(uk, "PASSWORD") || strings.Contains(uk, "SECRET") ||
			strings.Contains(uk, "TOKEN") || strings.HasSuffix(uk, "_KEY") || strings.Contains(uk, "CREDENTIAL") {
			vals = append(vals, v)
		}
	}
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	return vals
}

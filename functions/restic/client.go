package restic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/outputs"
)

// Environment variables the client reads.
const (
	EnvRepository   = "RESTIC_REPOSITORY"
	EnvPassword     = "RESTIC_PASSWORD"
	EnvPasswordFile = "RESTIC_PASSWORD_FILE"
	EnvPasswordCmd  = "RESTIC_PASSWORD_COMMAND"
	// EnvBinary overrides the restic binary (default: "restic" on PATH).
	EnvBinary = "STASHFLOW_RESTIC"
	// EnvOpenTimeout bounds how long restic may keep retrying to reach the
	// repository when it is first opened (Go duration; default 20s).
	EnvOpenTimeout = "STASHFLOW_REPOSITORY_TIMEOUT"
	// EnvStallTimeout bounds how long a backup or restore may go without
	// progress while restic retries its backend (Go duration; default 60s).
	EnvStallTimeout = "STASHFLOW_STALL_TIMEOUT"
)

// DefaultOpenTimeout is the default for EnvOpenTimeout.
const DefaultOpenTimeout = 20 * time.Second

// DefaultStallTimeout is the default for EnvStallTimeout.
const DefaultStallTimeout = 60 * time.Second

// Client runs restic commands against one repository.
type Client struct {
	// Binary is the restic executable.
	Binary string
	// Environ is restic's environment; it carries the repository location
	// and the password.
	Environ []string
	// Location is RESTIC_REPOSITORY, for messages (always redacted).
	Location string
	// OpenTimeout: see EnvOpenTimeout.
	OpenTimeout time.Duration
	// StallTimeout: see EnvStallTimeout.
	StallTimeout time.Duration
	// Log receives progress; nil discards.
	Log *slog.Logger
	// Hostname is this host's name, used to decide whether a lock is stale.
	Hostname string
	// NoCache runs restic with --no-cache (outputs.NoCacheEnv=true).
	NoCache bool
	// Options are restic's extended options (-o), from
	// outputs.ResticOptionsEnv; InsecureTLS adds --insecure-tls.
	Options     []string
	InsecureTLS bool
	// Priority is restic's CPU and I/O priority (outputs.NiceEnv and the
	// ionice variables of the step's environment).
	Priority deathsig.Priority
	// MemoryLimit is restic's GOMEMLIMIT in bytes (its share of the step's
	// memory budget, outputs.ResticMemoryLimitEnv); 0: none. A GOMEMLIMIT
	// in Environ wins.
	MemoryLimit int64
}

// NewClient returns a Client for the repository named by environ.
func NewClient(environ []string, log *slog.Logger) (*Client, error) {
	get := func(k string) string { return lookupEnv(environ, k) }
	c := &Client{Environ: environ, Location: get(EnvRepository), Log: log, OpenTimeout: DefaultOpenTimeout, StallTimeout: DefaultStallTimeout}
	if c.Location == "" {
		return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: EnvRepository + " is not set"}
	}
	if get(EnvPassword) == "" && get(EnvPasswordFile) == "" && get(EnvPasswordCmd) == "" {
		return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: EnvPassword + " is not set (nor " + EnvPasswordFile + ")"}
	}
	if d := get(EnvOpenTimeout); d != "" {
		t, err := time.ParseDuration(d)
		if err != nil || t <= 0 {
			return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: fmt.Sprintf("%s=%q is not a positive duration", EnvOpenTimeout, d)}
		}
		c.OpenTimeout = t
	}
	if d := get(EnvStallTimeout); d != "" {
		t, err := time.ParseDuration(d)
		if err != nil || t <= 0 {
			return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: fmt.Sprintf("%s=%q is not a positive duration", EnvStallTimeout, d)}
		}
		c.StallTimeout = t
	}
	for _, v := range []struct {
		name string
		dst  **int
	}{{outputs.NiceEnv, &c.Priority.Nice}, {outputs.IONiceClassEnv, &c.Priority.IOClass}, {outputs.IONiceClassDataEnv, &c.Priority.IOClassData}} {
		if s := get(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: fmt.Sprintf("%s=%q is not a number", v.name, s)}
			}
			*v.dst = &n
		}
	}
	if s := get(outputs.ResticMemoryLimitEnv); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: fmt.Sprintf("%s=%q is not a number of bytes", outputs.ResticMemoryLimitEnv, s)}
		}
		c.MemoryLimit = n
	}
	c.NoCache = get(outputs.NoCacheEnv) == "true"
	c.InsecureTLS = get(outputs.ResticInsecureTLSEnv) == "true"
	for _, o := range strings.Split(get(outputs.ResticOptionsEnv), ",") {
		if o = strings.TrimSpace(o); o != "" {
			if k, _, ok := strings.Cut(o, "="); !ok || k == "" {
				return nil, &Error{Kind: KindRepositoryConfig, Command: "setup", Message: fmt.Sprintf("%s: %q is not key=value", outputs.ResticOptionsEnv, o)}
			}
			c.Options = append(c.Options, o)
		}
	}
	bin := get(EnvBinary)
	if bin == "" {
		bin = "restic"
	}
	path, err := lookPath(bin, get("PATH"))
	if err != nil {
		return nil, &Error{Kind: KindNotFound, Command: "setup", Message: fmt.Sprintf("restic binary %q not found on PATH", bin)}
	}
	c.Binary = path
	c.Hostname, _ = os.Hostname()
	return c, nil
}

// lookPath finds bin on the given PATH (the step's, which may differ from
// this process's).
func lookPath(bin, path string) (string, error) {
	if strings.Contains(bin, "/") {
		return exec.LookPath(bin)
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + bin
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath(bin)
}

func (c *Client) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Log
}

// env returns restic's environment plus defaults, each only where Environ
// does not set the variable; GOMEMLIMIT is one of them when the Client has
// a MemoryLimit.
func (c *Client) env(defaults ...string) []string {
	env := append([]string(nil), c.Environ...)
	if c.MemoryLimit > 0 {
		defaults = append(slices.Clip(defaults), "GOMEMLIMIT="+strconv.FormatInt(c.MemoryLimit, 10))
	}
	for _, kv := range defaults {
		k, _, _ := strings.Cut(kv, "=")
		if !hasKey(env, k) {
			env = append(env, kv)
		}
	}
	return env
}

func hasKey(env []string, k string) bool {
	for _, kv := range env {
		if kk, _, ok := strings.Cut(kv, "="); ok && kk == k {
			return true
		}
	}
	return false
}

// runOptions tunes one restic invocation.
type runOptions struct {
	stdin  io.Reader
	stdout io.Writer // nil: captured and returned
	env    []string  // default variables (only set when absent)
	// giveUpRetryingAfter: kill restic when it reports backend retries that
	// would take it past this much time since start (0: never).
	giveUpRetryingAfter time.Duration
}

// quickCommands only read or write a few small files: when restic keeps
// retrying the backend for them, the repository is unreachable.
var quickCommands = map[string]bool{"cat": true, "init": true, "snapshots": true, "list": true, "unlock": true, "stats": true}

// takesLock reports whether restic args take a repository lock.
func takesLock(args []string) bool {
	switch args[0] {
	case "init", "unlock", "cat", "list", "snapshots", "version":
		return false
	}
	return !slices.Contains(args, "--no-lock")
}

// removeLockOfKilled removes the locks a killed restic of this process left
// (RemoveStaleLocks removes only those whose holder is provably gone).
func (c *Client) removeLockOfKilled(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, _, err := c.RemoveStaleLocks(ctx); err != nil {
		c.log().Warn("could not remove the lock of a killed restic", "err", err.Error())
	}
}

// killedError is a restic that a signal ended: that is the cause, with
// the last thing it said.
func killedError(command string, sig syscall.Signal, stderr []byte, location string) *Error {
	e := classify(command, -1, stderr, location)
	e.Kind = KindInterrupted
	last := e.Message
	e.Message = "restic was killed by signal " + unix.SignalName(sig)
	if last != "" && last != "exit status -1" {
		e.Message += " (its last words: " + last + ")"
	}
	return e
}

// progressCommands report progress in status lines: a backend that stops
// answering while they run is found by the stall rule (retryWatch).
var progressCommands = map[string]bool{"backup": true, "restore": true}

// maxStderr bounds how much of restic's stderr is kept.
const maxStderr = 64 << 10

// run executes `restic <args> --json` and returns its stdout (when not
// streamed) or an *Error.
func (c *Client) run(ctx context.Context, opts runOptions, args ...string) ([]byte, error) {
	command := args[0]
	// --json right after the command: after a "--" it would be a path.
	args = append([]string{command, "--json"}, args[1:]...)
	if opts.giveUpRetryingAfter == 0 && quickCommands[command] {
		opts.giveUpRetryingAfter = c.OpenTimeout
	}
	cmd := exec.Command(c.Binary, args...)
	cmd.Env = c.env(opts.env...)
	cmd.Stdin = opts.stdin
	start := time.Now()
	watch := &retryWatch{command: command, location: c.Location, start: start, limit: opts.giveUpRetryingAfter}
	var stdout bytes.Buffer
	if opts.stdout != nil {
		cmd.Stdout = opts.stdout
	} else {
		cmd.Stdout = &stdout
		if progressCommands[command] {
			watch.stall = c.StallTimeout
			cmd.Stdout = io.MultiWriter(&stdout, &progressLines{w: watch})
		}
	}
	// Our own pipe rather than StderrPipe: Wait runs concurrently with the
	// reader and would close StderrPipe's read end under it.
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stderrR.Close()
	cmd.Stderr = stderrW
	proc, err := c.start(cmd)
	stderrW.Close()
	if err != nil {
		return nil, &Error{Kind: KindNotFound, Command: command, Message: err.Error()}
	}
	var (
		stderr tailBuffer
		gaveUp *Error
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		gaveUp = watchStderr(stderrR, &stderr, watch, proc.kill)
	}()
	var waitErr error
	select {
	case waitErr = <-proc.done:
	case <-ctx.Done():
		proc.kill()
		waitErr = <-proc.done
	}
	wg.Wait()
	if waitErr != nil && gaveUp == nil && takesLock(args) {
		// A restic that did not exit on its own left its lock behind; this
		// host and its dead PID make the lock provably stale.
		if ee := (*exec.ExitError)(nil); !errors.As(waitErr, &ee) || ee.ExitCode() < 0 {
			c.removeLockOfKilled(ctx)
		}
	}
	if gaveUp != nil {
		return nil, gaveUp
	}
	if ctx.Err() != nil && waitErr != nil {
		return nil, &Error{Kind: KindInterrupted, Command: command, ExitCode: -1, Message: ctx.Err().Error()}
	}
	if waitErr != nil {
		code := -1
		var ee *exec.ExitError
		if sig, ok := signalOf(waitErr); ok {
			return stdout.Bytes(), killedError(command, sig, stderr.Bytes(), c.Location)
		}
		if errors.As(waitErr, &ee) {
			code = ee.ExitCode()
		}
		return stdout.Bytes(), classify(command, code, stderr.Bytes(), c.Location)
	}
	return stdout.Bytes(), nil
}

// reRetry matches restic's backend retry notice, e.g.
// `Stat(<config/>) returned error, retrying after 1.89s: Head "...": dial tcp ...: connection refused`.
var reRetry = regexp.MustCompile(`returned error, retrying after ([0-9.]+[a-zµ]+): (.*)$`)

func parseRetry(line string) (time.Duration, string, bool) {
	m := reRetry.FindStringSubmatch(line)
	if m == nil {
		return 0, "", false
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return 0, "", false
	}
	msg := m[2]
	// Keep the innermost cause: "Head \"url\": dial tcp ...: connection refused" → after the quoted URL.
	if i := strings.LastIndex(msg, "\": "); i >= 0 {
		msg = msg[i+3:]
	}
	return d, msg, true
}

// tailBuffer keeps the last maxStderr bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > maxStderr {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-maxStderr:]...)
	}
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

// process is a started restic; it dies with this process (deathsig).
type process struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result once
	once sync.Once
}

func (c *Client) start(cmd *exec.Cmd) (*process, error) {
	if len(cmd.Args) > 0 {
		var global []string
		if c.NoCache {
			global = append(global, "--no-cache")
		}
		if c.InsecureTLS {
			global = append(global, "--insecure-tls")
		}
		for _, o := range c.Options {
			global = append(global, "-o", o)
		}
		cmd.Args = slices.Concat(cmd.Args[:1], global, cmd.Args[1:])
	}
	dp, err := deathsig.StartPriority(cmd, syscall.SIGKILL, c.Priority)
	if err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- dp.Wait() }()
	return p, nil
}

// kill sends SIGKILL (once).
func (p *process) kill() {
	p.once.Do(func() { _ = p.cmd.Process.Kill() })
}

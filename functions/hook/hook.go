package hook

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
)

// Name is the Function's registry name.
const Name = "hook"

// Actions a hook step can take: the first argument after `fn hook`.
const (
	ActionExec     = "exec"
	ActionHTTPGet  = "http-get"
	ActionHTTPPost = "http-post"
	ActionTCP      = "tcp"
)

// Summary is what an http-post body template sees, Stash's names kept:
// {{ .Name }}, {{ .Namespace }}, {{ .Invoker.Kind }}, {{ .Target.Name }}, ...
type Summary struct {
	Name      string
	Namespace string
	Hook      string
	Invoker   Ref
	Target    Ref
	Phase     string
	Error     string
}

// Ref is a kind and a name.
type Ref struct{ Kind, Name string }

// Hook is one hook step.
type Hook struct {
	fs        *pflag.FlagSet
	action    string
	command   []string
	session   string
	namespace string
	invoker   string
	target    string
	targetAPI string
	hook      string
	phase     string
	errMsg    string
	container string
	local     bool
	url       string
	// toTargetPod and portName: see their flags.
	toTargetPod bool
	portName    string
	headers     []string
	body        string
	bodyB64     string
	form        []string
	address     string
	timeout     time.Duration
	// Exec runs a command in a pod; nil means the Kubernetes API from the
	// in-cluster configuration (tests replace it).
	Exec PodExecutor
}

// New returns a fresh hook Function.
func New() step.Function { return &Hook{} }

// Description implements step.Describer.
func (h *Hook) Description() string {
	return "run a pre or post hook: exec (in the target's pod, or --local), http-get, http-post or tcp"
}

// TakesArgs implements step.ArgsTaker: the action, and after -- a command.
func (h *Hook) TakesArgs() bool { return true }

// Flags implements step.Function.
func (h *Hook) Flags(fs *pflag.FlagSet) {
	h.fs = fs
	fs.StringVar(&h.session, "session", "", "the session's name")
	fs.StringVar(&h.namespace, "namespace", "", "the session's namespace")
	fs.StringVar(&h.invoker, "invoker", "", "the invoker as Kind/Name")
	fs.StringVar(&h.target, "target", "", "the target as Kind/Name")
	fs.StringVar(&h.targetAPI, "target-api-version", "", "the target's apiVersion, where its group decides which object it is: appcatalog.appscode.com/v1alpha1 for KubeDB's AppBindings (default: stashflow's, else KubeDB's of the name)")
	fs.StringVar(&h.hook, "hook", "", "which hook this is: preBackup, postBackup, preRestore, postRestore")
	fs.StringVar(&h.phase, "phase", "", "the target's phase, for the body template's .Phase")
	fs.StringVar(&h.errMsg, "error", "", "the target's error, for the body template's .Error")
	fs.StringVar(&h.container, "container", "", "exec: the container to run in (default: the pod's first)")
	fs.BoolVar(&h.local, "local", false, "exec: run the command on this machine instead of in the target's pod")
	fs.StringVar(&h.url, "url", "", "http-get, http-post: the URL")
	fs.StringArrayVar(&h.headers, "header", nil, "http-get, http-post: a header as 'Name: value' (repeatable)")
	fs.StringVar(&h.body, "body", "", "http-post: the body, a Go template over the session summary")
	fs.StringVar(&h.bodyB64, "body-base64", "", "http-post: the body template, base64-encoded")
	fs.StringArrayVar(&h.form, "form", nil, "http-post: a form field as key=value (repeatable)")
	fs.StringVar(&h.address, "address", "", "tcp: host:port to connect to")
	fs.DurationVar(&h.timeout, "timeout", 30*time.Second, "how long a network hook may take")
	fs.BoolVar(&h.toTargetPod, "to-target-pod", false, "http-get, http-post, tcp: send to the target's pod (found as exec hooks find it): its IP replaces the host of --url or --address")
	fs.StringVar(&h.portName, "port-name", "", "with --to-target-pod: the port is the pod's container port of this name")
}

// Validate implements step.Function.
func (h *Hook) Validate() error {
	args := h.fs.Args()
	if len(args) == 0 {
		return errors.New("want an action: exec, http-get, http-post or tcp")
	}
	h.action, h.command = args[0], args[1:]
	switch h.action {
	case ActionExec:
		if len(h.command) == 0 {
			return errors.New("exec: no command given after --")
		}
		if !h.local && h.target == "" {
			return errors.New("--target: exec in a cluster needs the target (Kind/Name) to find its pod; use --local to run here")
		}
	case ActionHTTPGet, ActionHTTPPost:
		if h.url == "" {
			return fmt.Errorf("--url: %s needs a URL", h.action)
		}
		if u, err := url.Parse(h.url); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("--url: %q is not an http(s) URL", h.url)
		}
		for _, hd := range h.headers {
			if k, _, ok := strings.Cut(hd, ":"); !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("--header: %q is not 'Name: value'", hd)
			}
		}
		if h.body != "" && h.bodyB64 != "" {
			return errors.New("--body and --body-base64: give one of them")
		}
		if h.bodyB64 != "" {
			b, err := base64.StdEncoding.DecodeString(h.bodyB64)
			if err != nil {
				return fmt.Errorf("--body-base64: %w", err)
			}
			h.body = string(b)
		}
		if _, err := template.New("body").Parse(h.body); err != nil {
			return fmt.Errorf("--body: not a valid template: %w", err)
		}
	case ActionTCP:
		if _, _, err := net.SplitHostPort(h.address); err != nil {
			return fmt.Errorf("--address: %q is not host:port", h.address)
		}
	default:
		return fmt.Errorf("unknown action %q: want exec, http-get, http-post or tcp", h.action)
	}
	if (h.toTargetPod || h.portName != "") && (h.action == ActionExec || h.target == "") {
		return errors.New("--to-target-pod, --port-name: for http-get, http-post and tcp hooks of a --target")
	}
	if len(h.command) > 0 && h.action != ActionExec {
		return fmt.Errorf("%s takes no command, got %q", h.action, h.command)
	}
	return nil
}

// Run implements step.Function.
func (h *Hook) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger().With("hook", h.hook, "action", h.action)
	if h.toTargetPod {
		if err := h.resolveTargetPod(ctx); err != nil {
			return nil, err
		}
		log.Info("sending the hook to the target's pod", "target", h.target, "url", redactURL(h.url), "address", h.address)
	}
	switch h.action {
	case ActionExec:
		if h.local {
			return nil, h.runLocal(ctx, env)
		}
		ex := h.Exec
		if ex == nil {
			var err error
			if ex, err = NewClusterExecutor(); err != nil {
				return nil, err
			}
		}
		log.Info("running hook in the target's pod", "target", h.target, "container", h.container)
		return nil, ex.Exec(ctx, ExecRequest{Namespace: h.namespace, Target: h.targetRef(), Container: h.container, Command: h.command, Stdout: os.Stdout, Stderr: os.Stderr})
	case ActionHTTPGet:
		return nil, h.call(ctx, http.MethodGet, nil, "")
	case ActionHTTPPost:
		body, ctype, err := h.postBody()
		if err != nil {
			return nil, err
		}
		return nil, h.call(ctx, http.MethodPost, body, ctype)
	case ActionTCP:
		d := net.Dialer{Timeout: h.timeout}
		conn, err := d.DialContext(ctx, "tcp", h.address)
		if err != nil {
			return nil, fmt.Errorf("tcp hook: cannot connect to %s: %w", h.address, err)
		}
		return nil, conn.Close()
	}
	return nil, fmt.Errorf("unknown action %q", h.action)
}

// targetRef is --target and --target-api-version.
func (h *Hook) targetRef() Target {
	kind, name, _ := strings.Cut(h.target, "/")
	return Target{APIVersion: h.targetAPI, Kind: kind, Name: name}
}

func (h *Hook) runLocal(ctx context.Context, env *step.Env) error {
	cmd := exec.CommandContext(ctx, h.command[0], h.command[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env.Environ, os.Stdout, os.Stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("exec hook %q exited with code %d", strings.Join(h.command, " "), ee.ExitCode())
		}
		return fmt.Errorf("exec hook %q: %w", strings.Join(h.command, " "), err)
	}
	return nil
}

func (h *Hook) summary() Summary {
	s := Summary{Name: h.session, Namespace: h.namespace, Hook: h.hook, Phase: h.phase, Error: h.errMsg}
	s.Invoker.Kind, s.Invoker.Name, _ = strings.Cut(h.invoker, "/")
	s.Target.Kind, s.Target.Name, _ = strings.Cut(h.target, "/")
	return s
}

// postBody renders the body template, or the form fields when there is no
// body.
func (h *Hook) postBody() (io.Reader, string, error) {
	if h.body == "" && len(h.form) > 0 {
		v := url.Values{}
		for _, f := range h.form {
			k, val, _ := strings.Cut(f, "=")
			v.Add(k, val)
		}
		return strings.NewReader(v.Encode()), "application/x-www-form-urlencoded", nil
	}
	t, err := template.New("body").Option("missingkey=error").Parse(h.body)
	if err != nil {
		return nil, "", fmt.Errorf("--body: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, h.summary()); err != nil {
		return nil, "", fmt.Errorf("--body: %w", err)
	}
	return &buf, "", nil
}

func (h *Hook) call(ctx context.Context, method string, body io.Reader, ctype string) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, h.url, body)
	if err != nil {
		return fmt.Errorf("%s hook: %w", h.action, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, hd := range h.headers {
		k, v, _ := strings.Cut(hd, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s hook: %s %s: %w", h.action, method, redactURL(h.url), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s hook: %s %s answered %s: %s", h.action, method, redactURL(h.url), resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// redactURL drops a password from a URL before it goes into a message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// resolveTargetPod points the hook at the target's pod: its IP replaces the
// host of the URL or address, and a port given by name becomes the pod's
// container port of that name. A Stash hook with no host goes to the pod.
func (h *Hook) resolveTargetPod(ctx context.Context) error {
	ex, err := NewClusterExecutor()
	if err != nil {
		return err
	}
	pod, err := FindPod(ctx, ex.Client, h.namespace, h.targetRef())
	if err != nil {
		return fmt.Errorf("%s hook: %w", h.action, err)
	}
	if pod.Status.PodIP == "" {
		return fmt.Errorf("%s hook: pod %s/%s of %s has no IP yet", h.action, pod.Namespace, pod.Name, h.target)
	}
	port := ""
	if h.portName != "" {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == h.portName {
					port = strconv.Itoa(int(p.ContainerPort))
				}
			}
		}
		if port == "" {
			return fmt.Errorf("%s hook: pod %s/%s has no container port named %q", h.action, pod.Namespace, pod.Name, h.portName)
		}
	}
	hostPort := func(old string) string {
		_, p, err := net.SplitHostPort(old)
		if port != "" || err != nil {
			p = port
		}
		if p == "" {
			return pod.Status.PodIP
		}
		return net.JoinHostPort(pod.Status.PodIP, p)
	}
	if h.action == ActionTCP {
		h.address = hostPort(h.address)
		return nil
	}
	u, err := url.Parse(h.url)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	u.Host = hostPort(u.Host)
	h.url = u.String()
	return nil
}

package translators

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// hookStep turns a hook handler into a step of the stashflow image:
// `stashflow fn hook exec|http-get|http-post|tcp ...`. Hook commands and
// bodies are passed as written: ${...} is not substituted in them, so shell
// commands keep their meaning; an httpPost body is a Go template filled at
// run time with the session summary.
func (r *run) hookStep(h *v1alpha1.Hook, name, phase string, m *member, objs *Objects, opts Options) (pipeline.Step, error) {
	args := []string{"fn", "hook"}
	summary := []string{"--session=" + r.name, "--namespace=" + r.namespace, "--invoker=" + r.invoker.Kind + "/" + r.invoker.Name, "--hook=" + phase}
	if m != nil && m.ref != nil {
		summary = append(summary, "--target="+m.ref.Kind+"/"+m.ref.Name)
	}
	host := defaultHookHost(m, objs, r.namespace, opts)
	if n := handlers(h); n > 1 {
		return pipeline.Step{}, fmt.Errorf("%s hook: %d handlers are set (want exactly one of exec, httpGet, httpPost, tcpSocket)", phase, n)
	}
	switch {
	case h.Exec != nil:
		args = append(args, "exec")
		args = append(args, summary...)
		if h.ContainerName != "" {
			args = append(args, "--container="+h.ContainerName)
		}
		if opts.Local {
			args = append(args, "--local")
		}
		args = append(args, "--")
		args = append(args, h.Exec.Command...)
	case h.HTTPGet != nil:
		g := h.HTTPGet
		args = append(args, "http-get", "--url="+hookURL(string(g.URIScheme()), firstNonEmpty(g.Host, host), g.Port.String(), g.Path))
		args = append(args, summary...)
		args = append(args, headerArgs(g.HTTPHeaders)...)
	case h.HTTPPost != nil:
		p := h.HTTPPost
		args = append(args, "http-post", "--url="+hookURL(string(p.URIScheme()), firstNonEmpty(p.Host, host), p.Port.String(), p.Path))
		args = append(args, summary...)
		args = append(args, headerArgs(p.HTTPHeaders)...)
		if p.Body != "" {
			// Base64, because Argo reads any "{{" as its own template tag and a
			// Stash body is a Go template ({{ .Name }}); the hook decodes it.
			args = append(args, "--body-base64="+base64.StdEncoding.EncodeToString([]byte(p.Body)))
		}
		for _, f := range p.Form {
			for _, v := range f.Values {
				args = append(args, "--form="+f.Key+"="+v)
			}
		}
	case h.TCPSocket != nil:
		args = append(args, "tcp", "--address="+net.JoinHostPort(firstNonEmpty(h.TCPSocket.Host, host), h.TCPSocket.Port.String()))
		args = append(args, summary...)
	default:
		return pipeline.Step{}, fmt.Errorf("%s hook: no handler set (want exactly one of exec, httpGet, httpPost, tcpSocket)", phase)
	}
	s := pipeline.Step{
		Name:        name,
		DisplayName: displayHook(m, phase),
		Process:     pipeline.Process{Image: opts.Image, Command: []string{"stashflow"}, Args: args},
		Labels:      stepLabels(m, StepKindHook, phase, ""),
	}
	if h.TimeoutSeconds != nil && *h.TimeoutSeconds > 0 {
		s.Timeout = time.Duration(*h.TimeoutSeconds) * time.Second
	}
	return s, nil
}

func handlers(h *v1alpha1.Hook) int {
	n := 0
	for _, set := range []bool{h.Exec != nil, h.HTTPGet != nil, h.HTTPPost != nil, h.TCPSocket != nil} {
		if set {
			n++
		}
	}
	return n
}

func displayHook(m *member, phase string) string {
	if m == nil {
		return "global " + phase + " hook"
	}
	return phase + " hook"
}

// defaultHookHost is where an HTTP or TCP hook goes when it names no host:
// the target's service, or this machine on the local engine.
func defaultHookHost(m *member, objs *Objects, namespace string, opts Options) string {
	if opts.Local || m == nil || m.ref == nil || m.ref.Kind != "AppBinding" {
		return "localhost"
	}
	ab := objs.AppBindings[m.ref.Name]
	if ab == nil {
		return "localhost"
	}
	if s := ab.Spec.ClientConfig.Service; s != nil {
		return s.Name + "." + namespace + ".svc"
	}
	if u := ab.Spec.ClientConfig.URL; u != nil {
		if parsed, err := url.Parse(*u); err == nil && parsed.Hostname() != "" {
			return parsed.Hostname()
		}
	}
	return "localhost"
}

func hookURL(scheme, host, port, path string) string {
	u := url.URL{Scheme: strings.ToLower(scheme), Host: host, Path: path}
	if port != "" && port != "0" {
		if _, err := strconv.Atoi(port); err == nil {
			u.Host = net.JoinHostPort(host, port)
		}
	}
	return u.String()
}

func headerArgs(hs []v1alpha1.HTTPHeader) []string {
	var out []string
	for _, h := range hs {
		out = append(out, "--header="+h.Name+": "+h.Value)
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

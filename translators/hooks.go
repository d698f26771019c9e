package translators

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

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
		if m.ref.Kind == "AppBinding" && m.ref.APIVersion != "" && m.ref.APIVersion != v1alpha1.GroupVersion.String() {
			// The group decides whose AppBinding it is (KubeDB's
			// appcatalog.appscode.com); stashflow's or none is the default.
			summary = append(summary, "--target-api-version="+m.ref.APIVersion)
		}
	}
	host := defaultHookHost(m, objs, r.namespace, opts)
	// A hook with no host goes to the target's pod (Stash's default: its
	// sidecar shared the pod), found when the hook runs; a port given by
	// name is that pod's container port of the name.
	toPod := !opts.Local && m != nil && m.ref != nil && (IsWorkload(m.ref.Kind) || m.ref.Kind == "PersistentVolumeClaim")
	network := func(hostField string, port intstr.IntOrString) (string, []string, error) {
		to, extra := hostField, []string(nil)
		switch {
		case to == "" && toPod:
			to, extra = targetPodHost, []string{"--to-target-pod"}
		case to == "":
			to = host
		}
		if port.Type == intstr.String {
			if len(extra) == 0 {
				return "", nil, fmt.Errorf("%s hook: port %q is a name, which only a hook sent to a workload's or claim's pod (no host) can resolve; give a number", phase, port.StrVal)
			}
			extra = append(extra, "--port-name="+port.StrVal)
		}
		return to, extra, nil
	}
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
		to, extra, err := network(g.Host, g.Port)
		if err != nil {
			return pipeline.Step{}, err
		}
		args = append(args, "http-get", "--url="+hookURL(string(g.URIScheme()), to, g.Port.String(), g.Path))
		args = append(args, summary...)
		args = append(args, extra...)
		args = append(args, headerArgs(g.HTTPHeaders)...)
	case h.HTTPPost != nil:
		p := h.HTTPPost
		to, extra, err := network(p.Host, p.Port)
		if err != nil {
			return pipeline.Step{}, err
		}
		args = append(args, "http-post", "--url="+hookURL(string(p.URIScheme()), to, p.Port.String(), p.Path))
		args = append(args, summary...)
		args = append(args, extra...)
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
		to, extra, err := network(h.TCPSocket.Host, h.TCPSocket.Port)
		if err != nil {
			return pipeline.Step{}, err
		}
		port := h.TCPSocket.Port.String()
		if h.TCPSocket.Port.Type == intstr.String {
			port = "0" // the pod's named port replaces it
		}
		args = append(args, "tcp", "--address="+net.JoinHostPort(to, port))
		args = append(args, summary...)
		args = append(args, extra...)
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

// targetPodHost stands for the target's pod in a hook's URL or address
// until the hook step finds the pod (--to-target-pod).
const targetPodHost = "target-pod"

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

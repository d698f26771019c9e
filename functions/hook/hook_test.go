package hook

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
)

// run parses args as `stashflow fn hook` would, validates and runs.
func run(t *testing.T, args ...string) error {
	t.Helper()
	h := New().(*Hook)
	fs := pflag.NewFlagSet("hook", pflag.ContinueOnError)
	h.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	_, err := h.Run(context.Background(), step.NewEnv(io.Discard))
	return err
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no action", args: nil, wantErr: "want an action: exec, http-get, http-post or tcp"},
		{name: "unknown action", args: []string{"ping"}, wantErr: `unknown action "ping"`},
		{name: "exec without command", args: []string{"exec", "--local"}, wantErr: "exec: no command given after --"},
		{name: "exec in cluster without target", args: []string{"exec", "--", "true"}, wantErr: "--target: exec in a cluster needs the target"},
		{name: "http-get without url", args: []string{"http-get"}, wantErr: "--url: http-get needs a URL"},
		{name: "http-get bad url", args: []string{"http-get", "--url=ftp://x"}, wantErr: `--url: "ftp://x" is not an http(s) URL`},
		{name: "bad header", args: []string{"http-get", "--url=http://x", "--header=nocolon"}, wantErr: `--header: "nocolon" is not 'Name: value'`},
		{name: "bad template", args: []string{"http-post", "--url=http://x", "--body={{ .Name"}, wantErr: "--body: not a valid template"},
		{name: "both bodies", args: []string{"http-post", "--url=http://x", "--body=a", "--body-base64=YQ=="}, wantErr: "--body and --body-base64: give one of them"},
		{name: "tcp bad address", args: []string{"tcp", "--address=nope"}, wantErr: `--address: "nope" is not host:port`},
		{name: "command on http", args: []string{"http-get", "--url=http://x", "--", "true"}, wantErr: "http-get takes no command"},
		{name: "valid exec", args: []string{"exec", "--local", "--", "true"}},
		{name: "valid tcp", args: []string{"tcp", "--address=localhost:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New().(*Hook)
			fs := pflag.NewFlagSet("hook", pflag.ContinueOnError)
			h.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := h.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestExecLocal(t *testing.T) {
	if err := run(t, "exec", "--local", "--", "sh", "-c", "exit 0"); err != nil {
		t.Fatalf("succeeding command: %v", err)
	}
	err := run(t, "exec", "--local", "--", "sh", "-c", "exit 7")
	if err == nil || !strings.Contains(err.Error(), "exited with code 7") {
		t.Fatalf("failing command: %v, want exit code 7", err)
	}
}

func TestHTTPPostRendersSummary(t *testing.T) {
	var mu sync.Mutex
	var got struct{ method, path, body, header, ctype string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.method, got.path, got.body, got.header, got.ctype = r.Method, r.URL.Path, string(b), r.Header.Get("X-Team"), r.Header.Get("Content-Type")
		mu.Unlock()
	}))
	defer srv.Close()
	tmpl := `{"session":"{{ .Name }}","ns":"{{ .Namespace }}","invoker":"{{ .Invoker.Kind }}/{{ .Invoker.Name }}","target":"{{ .Target.Name }}","hook":"{{ .Hook }}","phase":"{{ .Phase }}"}`
	err := run(t, "http-post", "--url="+srv.URL+"/notify", "--header=X-Team: storage",
		"--body-base64="+base64.StdEncoding.EncodeToString([]byte(tmpl)),
		"--session=nightly-1", "--namespace=demo", "--invoker=BackupConfiguration/nightly", "--target=AppBinding/etcd", "--hook=postBackup", "--phase=Succeeded")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"session":"nightly-1","ns":"demo","invoker":"BackupConfiguration/nightly","target":"etcd","hook":"postBackup","phase":"Succeeded"}`
	if diff := cmp.Diff(want, got.body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if got.method != http.MethodPost || got.path != "/notify" || got.header != "storage" {
		t.Errorf("request = %+v", got)
	}
}

func TestHTTPForm(t *testing.T) {
	var form string
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm.Encode()
	}))
	defer srv.Close()
	if err := run(t, "http-post", "--url="+srv.URL, "--form=a=1", "--form=b=two words"); err != nil {
		t.Fatal(err)
	}
	if form != "a=1&b=two+words" {
		t.Errorf("form = %q", form)
	}
}

func TestHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "database is read-only", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	err := run(t, "http-get", "--url="+srv.URL+"/health")
	if err == nil || !strings.Contains(err.Error(), "answered 503 Service Unavailable: database is read-only") {
		t.Fatalf("err = %v", err)
	}
	if err := run(t, "http-get", "--url=http://user:hunter2@127.0.0.1:1/x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("unreachable URL: err = %v (must fail and not show the password)", err)
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		if c, err := l.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	if err := run(t, "tcp", "--address="+addr); err != nil {
		t.Fatalf("open port: %v", err)
	}
	_ = l.Close()
	if err := run(t, "tcp", "--address="+addr); err == nil || !strings.Contains(err.Error(), "cannot connect to "+addr) {
		t.Fatalf("closed port: err = %v", err)
	}
}

// recordingExecutor records the request instead of running it.
type recordingExecutor struct{ got ExecRequest }

func (r *recordingExecutor) Exec(_ context.Context, req ExecRequest) error {
	r.got = req
	return nil
}

// TestExecTarget: --target and --target-api-version reach the executor,
// which finds the pod from them (FindPod).
func TestExecTarget(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Target
	}{
		{name: "KubeDB's AppBinding", args: []string{"--target=AppBinding/pg", "--target-api-version=appcatalog.appscode.com/v1alpha1"},
			want: Target{APIVersion: "appcatalog.appscode.com/v1alpha1", Kind: "AppBinding", Name: "pg"}},
		{name: "no apiVersion", args: []string{"--target=AppBinding/pg"}, want: Target{Kind: "AppBinding", Name: "pg"}},
		{name: "a workload", args: []string{"--target=StatefulSet/db"}, want: Target{Kind: "StatefulSet", Name: "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingExecutor{}
			h := New().(*Hook)
			h.Exec = rec
			fs := pflag.NewFlagSet("hook", pflag.ContinueOnError)
			h.Flags(fs)
			if err := fs.Parse(append(append([]string{"exec", "--namespace=demo"}, tt.args...), "--", "true")); err != nil {
				t.Fatal(err)
			}
			if err := h.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Run(context.Background(), step.NewEnv(io.Discard)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, rec.got.Target); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
			if rec.got.Namespace != "demo" {
				t.Errorf("namespace %q, want demo", rec.got.Namespace)
			}
		})
	}
}

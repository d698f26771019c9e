package functions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
)

// fake is a Function for the runtime's tests.
type fake struct {
	n       int
	out     step.Outputs
	runErr  error
	calls   *int
	invalid bool
}

func (f *fake) Flags(fs *pflag.FlagSet) { fs.IntVar(&f.n, "n", 0, "a number") }
func (f *fake) Validate() error {
	if f.invalid || f.n < 0 {
		return errors.New("--n: must not be negative")
	}
	return nil
}
func (f *fake) Run(context.Context, *step.Env) (step.Outputs, error) {
	if f.calls != nil {
		*f.calls++
	}
	return f.out, f.runErr
}

func TestRegister(t *testing.T) {
	newFake := func() Function { return &fake{} }
	tests := []struct {
		name    string
		reg     []string
		factory Factory
		wantErr string
	}{
		{name: "ok", reg: []string{"a", "b-c"}, factory: newFake},
		{name: "duplicate", reg: []string{"a", "b", "a"}, factory: newFake, wantErr: `register function "a": already registered`},
		{name: "upper case", reg: []string{"Etcd"}, factory: newFake, wantErr: "DNS-1123"},
		{name: "empty", reg: []string{""}, factory: newFake, wantErr: "DNS-1123"},
		{name: "nil factory", reg: []string{"a"}, factory: nil, wantErr: "nil factory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			var err error
			for _, n := range tt.reg {
				if err = r.Register(n, tt.factory); err != nil {
					break
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRegistryFreshInstances(t *testing.T) {
	r := New()
	if err := r.Register("f", func() Function { return &fake{} }); err != nil {
		t.Fatal(err)
	}
	a, _ := r.New("f")
	b, _ := r.New("f")
	if a == b {
		t.Fatal("New returned the same instance twice")
	}
	if _, err := r.New("nope"); err == nil || !strings.Contains(err.Error(), `unknown function "nope" (known: f)`) {
		t.Fatalf("New(nope) err = %v", err)
	}
}

func TestBuiltin(t *testing.T) {
	r, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"elasticsearch-backup", "elasticsearch-restore", "etcd-backup", "etcd-restore", "hook", "mariadb-backup", "mariadb-restore", "mysql-backup", "mysql-restore", "postgres-backup", "postgres-restore", "redis-backup", "redis-restore", "repository-check", "repository-init", "repository-wipe", "retention", "verdict", "volume-backup", "volume-restore", "workload-quiesce", "workload-resume"}
	if diff := cmp.Diff(want, r.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for _, n := range r.Names() {
		if r.Description(n) == "" {
			t.Errorf("%s has no description", n)
		}
	}
	// Two registries are independent: registering into one does not
	// touch the other.
	r2, _ := Builtin()
	if err := r.Register("extra", func() Function { return &fake{} }); err != nil {
		t.Fatal(err)
	}
	if r2.Has("extra") {
		t.Error("registries share state")
	}
}

// TestValidateNamesFlag checks that every built-in Function's validation
// errors name the offending flag.
func TestValidateNamesFlag(t *testing.T) {
	r, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fn   string
		args []string
		flag string
	}{
		{"etcd-backup", nil, "--endpoints"},
		{"etcd-backup", []string{"--endpoints", "ftp://x:1"}, "--endpoints"},
		{"etcd-backup", []string{"--endpoints", "127.0.0.1:2379", "--dial-timeout", "0s"}, "--dial-timeout"},
		{"etcd-backup", []string{"--endpoints", "127.0.0.1:2379", "--tags", "a,,b"}, "--tags"},
		{"etcd-backup", []string{"--endpoints", "127.0.0.1:2379", "--session", "a\nb"}, "--session"},
		{"etcd-backup", []string{"--endpoints", "127.0.0.1:2379", "--pipe-size", "10"}, "--pipe-size"},
		{"etcd-restore", nil, "--mode"},
		{"etcd-restore", []string{"--mode", "datadir"}, "--data-dir"},
		{"etcd-restore", []string{"--mode", "datadir", "--data-dir", "d", "--prefix", "/a"}, "--prefix"},
		{"etcd-restore", []string{"--mode", "live", "--endpoints", "127.0.0.1:2379", "--data-dir", "d"}, "--data-dir"},
		{"etcd-restore", []string{"--mode", "datadir", "--data-dir", "d", "--initial-cluster", "x=http://a:1"}, "--initial-cluster"},
		{"etcd-restore", []string{"--mode", "datadir", "--data-dir", "d", "--initial-advertise-peer-urls", "http://b:2", "--initial-cluster", "default=http://a:1"}, "--initial-advertise-peer-urls"},
		{"etcd-restore", []string{"--mode", "datadir", "--member", "a", "--initial-cluster", "a=http://a:1"}, "--member"},
		{"etcd-restore", []string{"--mode", "datadir", "--member", "a=d"}, "--initial-cluster"},
		{"etcd-restore", []string{"--mode", "datadir", "--member", "b=d", "--initial-cluster", "a=http://a:1"}, "--member"},
		{"etcd-restore", []string{"--mode", "datadir", "--member", "a=d", "--name", "a", "--initial-cluster", "a=http://a:1"}, "--name"},
		{"etcd-restore", []string{"--mode", "datadir", "--data-dir", "d", "--bump-revision", "10"}, "--bump-revision"},
		{"etcd-restore", []string{"--mode", "datadir", "--data-dir", "d", "--mark-compacted"}, "--mark-compacted"},
		{"etcd-restore", []string{"--mode", "live"}, "--endpoints"},
		{"etcd-restore", []string{"--mode", "live", "--endpoints", "127.0.0.1:2379", "--force"}, "--force"},
		{"etcd-restore", []string{"--mode", "live", "--endpoints", "127.0.0.1:2379", "--max-txn-ops", "0"}, "--max-txn-ops"},
		{"etcd-restore", []string{"--mode", "live", "--endpoints", "127.0.0.1:2379", "--max-txn-bytes", "10"}, "--max-txn-bytes"},
		{"etcd-restore", []string{"--mode", "live", "--endpoints", "127.0.0.1:2379", "--concurrency", "0"}, "--concurrency"},
		{"etcd-restore", []string{"--mode", "live", "--endpoints", "127.0.0.1:2379", "--snapshot", ""}, "--snapshot"},
		{"retention", nil, "--keep-last"},
		{"retention", []string{"--keep-daily", "-1"}, "--keep-daily"},
		{"retention", []string{"--keep-within", "7 days"}, "--keep-within"},
		{"retention", []string{"--keep-last", "1", "--group-by", "color"}, "--group-by"},
		{"repository-check", []string{"--read-data", "--read-data-subset", "10%"}, "--read-data-subset"},
		{"workload-quiesce", []string{"--kind", "Deployment", "--name", "web"}, "--namespace"},
		{"workload-quiesce", []string{"--namespace", "app", "--kind", "DaemonSet", "--name", "agent"}, "--kind"},
		{"workload-quiesce", []string{"--namespace", "app", "--kind", "Deployment", "--name", "web", "--timeout", "0s"}, "--timeout"},
		{"workload-resume", []string{"--namespace", "app", "--kind", "Deployment"}, "--name"},
	}
	for _, tt := range tests {
		t.Run(tt.fn+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			fn, err := r.New(tt.fn)
			if err != nil {
				t.Fatal(err)
			}
			fs := pflag.NewFlagSet(tt.fn, pflag.ContinueOnError)
			fn.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err = fn.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.flag+":") {
				t.Fatalf("Validate() = %v, want an error starting with %q", err, tt.flag+":")
			}
		})
	}
}

func TestExecute(t *testing.T) {
	dir := t.TempDir()
	calls := 0
	out, err := Execute(context.Background(), &fake{out: step.Outputs{"snapshotID": "abc", "own": "x"}, calls: &calls}, step.NewEnv(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got[e.Name()] = string(b)
	}
	if got["duration"] == "" || got["duration"] != out["duration"] {
		t.Errorf("duration output %q", got["duration"])
	}
	delete(got, "duration")
	want := map[string]string{"snapshotID": "abc", "snapshotTime": "", "own": "x", "size": "", "uploaded": "", "files": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output files (-want +got):\n%s", diff)
	}

	// Validate runs first; Run is not called when it fails.
	_, err = Execute(context.Background(), &fake{invalid: true, calls: &calls}, step.NewEnv(nil), t.TempDir())
	var ve *ValidationError
	if !errors.As(err, &ve) || calls != 1 {
		t.Errorf("Execute(invalid) = %v (calls %d), want a ValidationError and no Run", err, calls)
	}

	// Run's error comes back, outputs are still written.
	dir = t.TempDir()
	_, err = Execute(context.Background(), &fake{runErr: errors.New("boom"), out: step.Outputs{"kept": "1"}}, step.NewEnv(nil), dir)
	if err == nil || err.Error() != "boom" {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "kept")); string(b) != "1" {
		t.Errorf("kept output %q after a failure", b)
	}
	if _, err := Execute(context.Background(), &fake{out: step.Outputs{"../x": "1"}}, step.NewEnv(nil), t.TempDir()); err == nil {
		t.Error("an output name with a slash was accepted")
	}
}

// declaring is a fake with outputs of its own.
type declaring struct{ fake }

func (*declaring) DeclaredOutputs() []string { return []string{"totalSize", "kept"} }

// A declared output that Run did not return (a warning left it unknown) is
// written empty, so that no engine fails the step for a missing file.
func TestExecuteWritesDeclaredOutputs(t *testing.T) {
	dir := t.TempDir()
	if _, err := Execute(context.Background(), &declaring{fake{out: step.Outputs{"kept": "2"}}}, step.NewEnv(nil), dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"kept": "2", "totalSize": ""} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("output %s = %q (%v), want %q", name, b, err, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	env := []string{"RESTIC_PASSWORD=hunter22", "ETCD_PASSWORD=etcdpw", "AWS_SECRET_ACCESS_KEY=AKIA/secret", "PLAIN=hunter22x", "SHORT_TOKEN=abc"}
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("one"), "one"},
		{errors.New("first\nsecond\r\n\n  third  "), "first; second; third"},
		{errors.New("password hunter22 rejected; etcd etcdpw; key AKIA/secret"), "password *** rejected; etcd ***; key ***"},
		{errors.New("abc stays: too short to be a secret"), "abc stays: too short to be a secret"},
		{errors.New(strings.Repeat("é", 600)), strings.Repeat("é", 500) + "…"},
	}
	for _, tt := range tests {
		if got := OneLine(tt.err, env); got != tt.want {
			t.Errorf("OneLine(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestValidateAcceptsCatalogArgs: the catalog passes every flag of both
// restore modes, most empty or at their defaults; that must validate.
func TestValidateAcceptsCatalogArgs(t *testing.T) {
	r, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--snapshot=latest", "--host=h", "--interim-dir=/tmp/x", "--endpoints=https://10.0.0.1:2379",
		"--name=default", "--initial-cluster-token=etcd-cluster", "--initial-advertise-peer-urls=",
		"--prefix=", "--delete-absent=false", "--force=false"}
	for _, args := range [][]string{
		append([]string{"--mode=datadir", "--data-dir=/var/lib/etcd", "--initial-cluster="}, common...),
		append([]string{"--mode=live", "--data-dir=", "--initial-cluster="}, common...),
	} {
		fn, _ := r.New("etcd-restore")
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fn.Flags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := fn.Validate(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

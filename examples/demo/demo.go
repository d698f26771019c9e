package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/stashflow/stashflow/internal/repo"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/wait"
)

type config struct {
	keys int
	keep bool
	// root is the repository checkout (default: found from the working dir).
	root string
	// stashflowBin is the binary to run (default: bin/stashflow).
	stashflowBin string
}

// demo holds the demo's state; its methods are the stages.
type demo struct {
	config
	out  io.Writer
	dir  string
	bin  string
	step int
	// etcds started, stopped at the end.
	procs []*exec.Cmd
	// sample data, key → sha256 of the value.
	want map[string][32]byte
}

func run(ctx context.Context, out io.Writer, cfg config) (err error) {
	if cfg.root == "" {
		if cfg.root, err = repo.Root(); err != nil {
			return err
		}
	}
	d := &demo{config: cfg, out: out, bin: filepath.Join(cfg.root, "bin")}
	if d.stashflowBin == "" {
		d.stashflowBin = filepath.Join(d.bin, "stashflow")
	}
	if _, err := os.Stat(d.stashflowBin); err != nil {
		return fmt.Errorf("%s is missing: run `make demo` (it builds stashflow and the tools first)", d.stashflowBin)
	}
	for _, tool := range []string{"etcd", "restic"} {
		if _, err := os.Stat(filepath.Join(d.bin, tool)); err != nil {
			return fmt.Errorf("bin/%s is missing: run `make demo` (it builds stashflow and the tools first)", tool)
		}
	}
	if d.dir, err = os.MkdirTemp("", "stashflow-demo-"); err != nil {
		return err
	}
	defer d.cleanup()
	stages := []struct {
		title string
		fn    func(context.Context) error
	}{
		{"Start a throwaway etcd and write sample data", d.startSource},
		{"Back it up with `stashflow run` (Task etcd-backup: etcd-backup, retention)", d.backup},
		{"List the repository's snapshots with `stashflow snapshots`", d.snapshots},
		{"Restore into a new data dir with `stashflow run` (Task etcd-restore, datadir mode)", d.restore},
		{"Start a new etcd from the restored data dir and verify every key", d.verify},
	}
	for _, s := range stages {
		d.step++
		fmt.Fprintf(d.out, "\n==> %d/%d %s\n", d.step, len(stages), s.title)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("stage %d (%s): %w", d.step, s.title, err)
		}
	}
	fmt.Fprintf(d.out, "\n==> Done: %d keys backed up, restored into a new etcd and verified.\n", len(d.want))
	return nil
}

// Where the two etcds listen, set by the stages.
var sourceClient, restoredPeer string

func (d *demo) startSource(ctx context.Context) error {
	client, _, err := d.startEtcd(ctx, "source", filepath.Join(d.dir, "source.etcd"), false)
	if err != nil {
		return err
	}
	sourceClient = client
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	d.want = map[string][32]byte{}
	total := 0
	for i := 0; i < d.keys; i++ {
		key := fmt.Sprintf("/registry/demo/%04d/item-%d", i%97, i)
		size := 64 + rng.IntN(2048)
		if i%200 == 0 {
			size = 64 << 10 // a few large values
		}
		val := make([]byte, size)
		for j := range val {
			val[j] = byte('a' + rng.IntN(26))
		}
		if _, err := c.Put(ctx, key, string(val)); err != nil {
			return err
		}
		d.want[key] = sha256.Sum256(val)
		total += size
	}
	// Overwrites and deletions, so the snapshot holds history as well.
	for i := 0; i < d.keys/10; i++ {
		key := fmt.Sprintf("/registry/demo/%04d/item-%d", i%97, i)
		val := []byte(fmt.Sprintf("overwritten-%d", i))
		if _, err := c.Put(ctx, key, string(val)); err != nil {
			return err
		}
		d.want[key] = sha256.Sum256(val)
	}
	for i := d.keys - 20; i < d.keys; i++ {
		key := fmt.Sprintf("/registry/demo/%04d/item-%d", i%97, i)
		if _, err := c.Delete(ctx, key); err != nil {
			return err
		}
		delete(d.want, key)
	}
	fmt.Fprintf(d.out, "etcd serving at %s; wrote %d keys (%.1f MiB), overwrote %d, deleted 20: %d keys now\n",
		client, d.keys, float64(total)/(1<<20), d.keys/10, len(d.want))
	return nil
}

func (d *demo) backup(ctx context.Context) error {
	if err := d.writeManifest("repository.yaml", repositoryYAML, nil); err != nil {
		return err
	}
	if err := d.writeManifest("backup.yaml", backupYAML, map[string]string{"Endpoint": sourceClient}); err != nil {
		return err
	}
	return d.stashflow(ctx, "run", "-f", d.path("repository.yaml"), "-f", d.path("backup.yaml"), "-o", "none", "--work-dir", d.path("work"))
}

func (d *demo) snapshots(ctx context.Context) error {
	return d.stashflow(ctx, "snapshots", "-f", d.path("repository.yaml"))
}

func (d *demo) restore(ctx context.Context) error {
	peer, err := freeURL()
	if err != nil {
		return err
	}
	restoredPeer = peer
	vars := map[string]string{"DataDir": d.path("restored.etcd"), "Peer": peer}
	if err := d.writeManifest("restore.yaml", restoreYAML, vars); err != nil {
		return err
	}
	return d.stashflow(ctx, "run", "-f", d.path("repository.yaml"), "-f", d.path("restore.yaml"), "-o", "none", "--work-dir", d.path("work"))
}

func (d *demo) verify(ctx context.Context) error {
	client, _, err := d.startEtcd(ctx, "restored", d.path("restored.etcd"), true)
	if err != nil {
		return err
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.Get(ctx, "/registry/demo/", clientv3.WithPrefix())
	if err != nil {
		return err
	}
	got := map[string][32]byte{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = sha256.Sum256(kv.Value)
	}
	var problems []string
	for k, h := range d.want {
		if g, ok := got[k]; !ok {
			problems = append(problems, "missing "+k)
		} else if g != h {
			problems = append(problems, "different value at "+k)
		}
	}
	for k := range got {
		if _, ok := d.want[k]; !ok {
			problems = append(problems, "unexpected "+k)
		}
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("… and %d more", len(problems)-5))
		}
		return fmt.Errorf("restored etcd differs: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintf(d.out, "restored etcd serving at %s: all %d keys present with identical values, nothing extra\n", client, len(got))
	return nil
}

// startEtcd starts an etcd on free loopback ports and waits until it serves.
func (d *demo) startEtcd(ctx context.Context, name, dataDir string, restored bool) (clientURL, peerURL string, err error) {
	if clientURL, err = freeURL(); err != nil {
		return "", "", err
	}
	peerURL = restoredPeer
	if !restored || peerURL == "" {
		if peerURL, err = freeURL(); err != nil {
			return "", "", err
		}
	}
	args := []string{"--name", name, "--data-dir", dataDir,
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", name + "=" + peerURL, "--log-level", "error"}
	if restored {
		args = []string{"--name", name, "--data-dir", dataDir,
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL, "--log-level", "error"}
	}
	log, err := os.Create(d.path(name + "-etcd.log"))
	if err != nil {
		return "", "", err
	}
	cmd := exec.Command(filepath.Join(d.bin, "etcd"), args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	d.procs = append(d.procs, cmd)
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{clientURL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = c.Status(sctx, clientURL)
		return err == nil, nil
	})
	if err != nil {
		b, _ := os.ReadFile(log.Name())
		return "", "", fmt.Errorf("etcd %s did not start: %w\n%s", name, err, b)
	}
	return clientURL, peerURL, nil
}

// stashflow runs bin/stashflow with bin/ first on PATH, its output shown.
func (d *demo) stashflow(ctx context.Context, args ...string) error {
	fmt.Fprintf(d.out, "$ stashflow %s\n", strings.Join(relative(d.dir, args), " "))
	cmd := exec.CommandContext(ctx, d.stashflowBin, args...)
	cmd.Env = append(os.Environ(), "PATH="+d.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = d.out, d.out
	return cmd.Run()
}

func (d *demo) writeManifest(name, tmpl string, vars map[string]string) error {
	if vars == nil {
		vars = map[string]string{}
	}
	vars["Dir"] = d.dir
	var buf bytes.Buffer
	if err := template.Must(template.New(name).Parse(tmpl)).Execute(&buf, vars); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "--- %s\n%s", name, indent(buf.String()))
	return os.WriteFile(d.path(name), buf.Bytes(), 0o600)
}

func (d *demo) path(name string) string { return filepath.Join(d.dir, name) }

func (d *demo) cleanup() {
	for _, p := range d.procs {
		_ = p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	if d.keep {
		fmt.Fprintf(d.out, "kept %s\n", d.dir)
		return
	}
	_ = os.RemoveAll(d.dir)
}

func freeURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "http://" + l.Addr().String(), nil
}

func relative(dir string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, dir+"/", "")
	}
	return out
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString("    " + line)
		}
	}
	return b.String()
}

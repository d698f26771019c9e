package mysql

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Restore is the mysql-restore and mariadb-restore Function.
type Restore struct {
	flavor   string
	conn     connFlags
	snapshot string
	session  string
	target   string
	host     string
	args     string
}

// NewRestore returns a fresh mysql-restore Function.
func NewRestore() step.Function { return &Restore{flavor: FlavorMySQL} }

// NewMariaDBRestore returns a fresh mariadb-restore Function.
func NewMariaDBRestore() step.Function { return &Restore{flavor: FlavorMariaDB} }

// Description implements step.Describer.
func (r *Restore) Description() string {
	_, load := tools(r.flavor)
	return "stream a " + r.flavor + " dump from a restic repository into the " + load[0] + " client, which stops at the first error"
}

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	r.conn.addFlags(fs)
	fs.StringVar(&r.snapshot, "snapshot", "latest", "restic snapshot id (or unique prefix), or latest")
	fs.StringVar(&r.session, "session", "", "only snapshots tagged session=NAME")
	fs.StringVar(&r.target, "target", "", "only snapshots tagged target=NAME")
	fs.StringVar(&r.host, "host", "", "only snapshots of this restic host")
	fs.StringVar(&r.args, "args", "", "extra arguments of the client, separated by spaces (Stash's args)")
}

var loadRefused = map[string]string{
	"-e":        "the client reads the dump from stdin",
	"--execute": "the client reads the dump from stdin",
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	if err := r.conn.validate(); err != nil {
		return err
	}
	if r.snapshot == "" {
		return fmt.Errorf("--snapshot: must be a snapshot id or latest")
	}
	if err := dumpstream.CheckLabels(nil, map[string]string{"session": r.session, "target": r.target}); err != nil {
		return err
	}
	args := strings.Fields(r.args)
	if err := refuseArgs(args, secretArgs); err != nil {
		return err
	}
	return refuseArgs(args, loadRefused)
}

// Run implements step.Function.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	_, loadTools := tools(r.flavor)
	bin, err := findTool(env, loadTools)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(bin)
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return nil, err
	}
	snap, err := dumpstream.SnapshotQuery{ID: r.snapshot, Host: r.host, Path: DumpPath, Session: r.session, Target: r.target}.Resolve(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := step.Outputs{outputs.SnapshotID: snap.ID, outputs.Files: "1"}
	cnf, err := r.conn.optionFile(env, env.TempDir)
	if err != nil {
		return out, err
	}
	defer os.Remove(cnf)
	args := append([]string{"--defaults-extra-file=" + cnf}, strings.Fields(r.args)...)
	if r.conn.database != "" {
		args = append(args, r.conn.database)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env.Environ
	log.Info("restoring "+r.flavor+" dump", "snapshot", snap.ID, "endpoint", r.conn.endpoint, "client", name)
	n, err := dumpstream.Restore(ctx, repo, dumpstream.RestoreOptions{SnapshotID: snap.ID, Path: DumpPath, Command: cmd, Name: name})
	out[outputs.Size] = strconv.FormatInt(n, 10)
	if err != nil {
		return out, err
	}
	log.Info(r.flavor+" dump restored", "snapshot", snap.ID, "bytes", n)
	return out, nil
}

package postgres

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// RestoreName is the registered name of the restore Function.
const RestoreName = "postgres-restore"

// Restore is the postgres-restore Function.
type Restore struct {
	conn     connFlags
	snapshot string
	session  string
	target   string
	host     string
	args     string
	singleTx string
}

// NewRestore returns a fresh postgres-restore Function.
func NewRestore() step.Function { return &Restore{} }

// Description implements step.Describer.
func (*Restore) Description() string {
	return "stream a PostgreSQL dump from a restic repository into psql, in one transaction for a single database's dump"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (*Restore) DeclaredOutputs() []string { return []string{OutputKind} }

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	r.conn.addFlags(fs)
	fs.StringVar(&r.snapshot, "snapshot", "latest", "restic snapshot id (or unique prefix), or latest")
	fs.StringVar(&r.session, "session", "", "only snapshots tagged session=NAME")
	fs.StringVar(&r.target, "target", "", "only snapshots tagged target=NAME")
	fs.StringVar(&r.host, "host", "", "only snapshots of this restic host")
	fs.StringVar(&r.args, "args", "", "extra arguments of psql, separated by spaces (Stash's args), e.g. \"-d shop\"")
	fs.StringVar(&r.singleTx, "single-transaction", TxAuto, "auto: one transaction for a pg_dump (single database) dump, statement by statement for pg_dumpall's; true: one transaction or fail; false: statement by statement")
}

var psqlRefused = map[string]string{
	"-f":                   "psql reads the dump from stdin",
	"--file":               "psql reads the dump from stdin",
	"-c":                   "psql reads the dump from stdin",
	"--command":            "psql reads the dump from stdin",
	"-1":                   "use --single-transaction (the single-transaction param)",
	"--single-transaction": "use --single-transaction (the single-transaction param)",
	"-W":                   "the password comes from the AppBinding's Secret; a prompt would hang",
	"--password":           "the password comes from the AppBinding's Secret; a prompt would hang",
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	if err := r.conn.validate(); err != nil {
		return err
	}
	if r.snapshot == "" {
		return fmt.Errorf("--snapshot: must be a snapshot id or latest")
	}
	switch r.singleTx {
	case TxAuto, TxTrue, TxFalse:
	default:
		return fmt.Errorf("--single-transaction: %q is not auto, true or false", r.singleTx)
	}
	if err := dumpstream.CheckLabels(nil, map[string]string{"session": r.session, "target": r.target}); err != nil {
		return err
	}
	return refuseArgs("args", strings.Fields(r.args), psqlRefused)
}

// Run implements step.Function.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	bin, err := tool(env, CmdPsql)
	if err != nil {
		return nil, err
	}
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return nil, err
	}
	snap, err := dumpstream.SnapshotQuery{ID: r.snapshot, Host: r.host, Path: DumpPath, Session: r.session, Target: r.target}.Resolve(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := step.Outputs{outputs.SnapshotID: snap.ID, outputs.Files: "1"}
	// -X: no ~/.psqlrc; -q: no command tags on stdout.
	args := append([]string{"-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1"}, strings.Fields(r.args)...)
	cmd := exec.Command(bin, args...)
	cmd.Env = r.conn.environ(env)
	var script *scriptFilter
	log.Info("restoring postgres dump", "snapshot", snap.ID, "endpoint", r.conn.endpoint, "singleTransaction", r.singleTx)
	n, err := dumpstream.Restore(ctx, repo, dumpstream.RestoreOptions{
		SnapshotID: snap.ID,
		Path:       DumpPath,
		Command:    cmd,
		Name:       CmdPsql,
		Filter: func(w io.Writer) io.WriteCloser {
			script = newScriptFilter(w, r.singleTx, user(env))
			return script
		},
	})
	out[outputs.Size] = strconv.FormatInt(n, 10)
	if script != nil {
		out[OutputKind] = script.kind
	}
	if err != nil {
		if script != nil && script.wrap {
			return out, fmt.Errorf("%w (the restore ran in one transaction: nothing of it was committed)", err)
		}
		return out, err
	}
	log.Info("postgres dump restored", "snapshot", snap.ID, "bytes", n, "kind", script.kind, "singleTransaction", script.wrap, "roleStatementsMadeIdempotent", script.rewrites)
	return out, nil
}

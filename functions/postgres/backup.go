package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// BackupName is the registered name of the backup Function.
const BackupName = "postgres-backup"

// DumpFilename is the dump's name inside restic snapshots, Stash's
// addon's (its snapshots restore here, and ours there).
const DumpFilename = "dumpfile.sql"

// DumpPath is DumpFilename's path inside a snapshot.
const DumpPath = "/" + DumpFilename

// The dump commands.
const (
	CmdDumpAll = "pg_dumpall"
	CmdDump    = "pg_dump"
)

// Outputs beyond the common ones.
const (
	OutputDumpCommand = "dumpCommand" // pg_dumpall or pg_dump
	OutputKind        = "kind"        // restore: cluster or database (what the dump's header says)
)

// Tag keys put on every snapshot.
const (
	TagSession = "session"
	TagTarget  = "target"
	TagDump    = "dump" // the dump command
)

// Backup is the postgres-backup Function.
type Backup struct {
	conn   connFlags
	cmd    string
	args   string
	labels dumpstream.Labels
}

// NewBackup returns a fresh postgres-backup Function.
func NewBackup() step.Function { return &Backup{} }

// Description implements step.Describer.
func (*Backup) Description() string {
	return "stream pg_dumpall (or pg_dump) of a PostgreSQL server into a restic repository; no temp file"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (*Backup) DeclaredOutputs() []string { return []string{OutputDumpCommand} }

// Flags implements step.Function.
func (b *Backup) Flags(fs *pflag.FlagSet) {
	b.conn.addFlags(fs)
	fs.StringVar(&b.cmd, "cmd", CmdDumpAll, "the dump command: pg_dumpall (every database, roles and tablespaces) or pg_dump (one database: the endpoint's, or one named in --args)")
	fs.StringVar(&b.args, "args", "", "extra arguments of the dump command, separated by spaces (Stash's args), e.g. \"--clean --if-exists\" or \"-d shop\"")
	b.labels.AddFlags(fs)
}

// dumpRefused are dump options that would send the dump elsewhere than
// stdout, or in a format psql cannot restore.
var dumpRefused = map[string]string{
	"-f":         "the dump goes to restic through stdout",
	"--file":     "the dump goes to restic through stdout",
	"-W":         "the password comes from the AppBinding's Secret; a prompt would hang",
	"--password": "the password comes from the AppBinding's Secret; a prompt would hang",
}

// Validate implements step.Function.
func (b *Backup) Validate() error {
	if err := b.conn.validate(); err != nil {
		return err
	}
	if b.cmd != CmdDumpAll && b.cmd != CmdDump {
		return fmt.Errorf("--cmd: %q is neither %s nor %s", b.cmd, CmdDumpAll, CmdDump)
	}
	args := strings.Fields(b.args)
	if err := refuseArgs("args", args, dumpRefused); err != nil {
		return err
	}
	for i, a := range args {
		format, ok := "", false
		switch {
		case a == "-F" || a == "--format":
			ok = true
			if i+1 < len(args) {
				format = args[i+1]
			}
		case strings.HasPrefix(a, "--format="):
			format, ok = strings.TrimPrefix(a, "--format="), true
		case strings.HasPrefix(a, "-F"):
			format, ok = strings.TrimPrefix(a, "-F"), true
		}
		if ok && format != "p" && format != "plain" {
			return fmt.Errorf("--args: %q: only the plain format is allowed (the restore feeds the dump to psql)", a)
		}
	}
	return b.labels.Check()
}

// Run implements step.Function.
func (b *Backup) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	bin, err := tool(env, b.cmd)
	if err != nil {
		return nil, err
	}
	environ := b.conn.environ(env)
	tags := b.labels.Tags()
	tags = append(tags, TagDump+"="+b.cmd)
	out := step.Outputs{OutputDumpCommand: b.cmd}
	log.Info("dumping postgres", "command", b.cmd, "endpoint", b.conn.endpoint)
	summary, err := dumpstream.Backup(ctx, env, dumpstream.BackupOptions{
		Restic: restic.BackupOptions{Filename: DumpFilename, Tags: tags, Host: b.labels.Host()},
		Name:   b.cmd,
		Command: func() *exec.Cmd {
			// --no-password: a missing or wrong password fails at once.
			cmd := exec.Command(bin, append([]string{"--no-password"}, strings.Fields(b.args)...)...)
			cmd.Env = environ
			return cmd
		},
		Check: func(end []byte) error { return checkTrailer(b.cmd, end) },
	})
	if err != nil {
		return out, err
	}
	maps.Copy(out, summary.Outputs())
	log.Info("postgres dump stored", "snapshot", summary.SnapshotID, "bytes", summary.TotalBytesProcessed, "uploaded", summary.DataAddedPacked)
	return out, nil
}

// The comments pg_dump and pg_dumpall write last.
const (
	trailerDatabase = "-- PostgreSQL database dump complete\n--\n"
	trailerCluster  = "-- PostgreSQL database cluster dump complete\n--\n"
)

// checkTrailer checks that the dump ends with its tool's "dump complete"
// comment, followed by nothing but blank lines and psql's \unrestrict.
func checkTrailer(cmd string, end []byte) error {
	want := trailerDatabase
	if cmd == CmdDumpAll {
		want = trailerCluster
	}
	i := bytes.LastIndex(end, []byte(want))
	if i < 0 {
		return errors.New("its output does not end with \"" + strings.TrimSuffix(strings.SplitN(want, "\n", 2)[0], "\n") + "\": the dump is incomplete")
	}
	for _, line := range strings.Split(string(end[i+len(want):]), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, `\unrestrict `) {
			return fmt.Errorf("its output goes on after the end of the dump (%q)", l)
		}
	}
	return nil
}

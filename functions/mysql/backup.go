package mysql

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// Registered names of the Functions.
const (
	BackupName         = "mysql-backup"
	RestoreName        = "mysql-restore"
	MariaDBBackupName  = "mariadb-backup"
	MariaDBRestoreName = "mariadb-restore"
)

// DumpFilename is the dump's name inside restic snapshots (Stash's addons').
const DumpFilename = "dumpfile.sql"

// DumpPath is DumpFilename's path inside a snapshot.
const DumpPath = "/" + DumpFilename

// DefaultDumpArgs are Stash's default dump arguments.
const DefaultDumpArgs = "--all-databases"

// OutputDumpCommand is the dump tool that ran (mysqldump or mariadb-dump).
const OutputDumpCommand = "dumpCommand"

// Tag keys put on every snapshot.
const (
	TagSession = "session"
	TagTarget  = "target"
	TagDump    = "dump"
)

// Backup is the mysql-backup and mariadb-backup Function.
type Backup struct {
	flavor string
	conn   connFlags
	args   string
	labels dumpstream.Labels
}

// NewBackup returns a fresh mysql-backup Function.
func NewBackup() step.Function { return &Backup{flavor: FlavorMySQL} }

// NewMariaDBBackup returns a fresh mariadb-backup Function.
func NewMariaDBBackup() step.Function { return &Backup{flavor: FlavorMariaDB} }

// Description implements step.Describer.
func (b *Backup) Description() string {
	dump, _ := tools(b.flavor)
	return "stream " + dump[0] + " --single-transaction of a " + b.flavor + " server into a restic repository; no temp file"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (*Backup) DeclaredOutputs() []string { return []string{OutputDumpCommand} }

// Flags implements step.Function.
func (b *Backup) Flags(fs *pflag.FlagSet) {
	b.conn.addFlags(fs)
	fs.StringVar(&b.args, "args", DefaultDumpArgs, "arguments of the dump tool after --single-transaction, separated by spaces (Stash's args): what to dump, e.g. \"--databases shop\", and options such as --routines")
	b.labels.AddFlags(fs)
}

var dumpRefused = map[string]string{
	"-r":               "the dump goes to restic through stdout",
	"--result-file":    "the dump goes to restic through stdout",
	"-T":               "the dump goes to restic through stdout",
	"--tab":            "the dump goes to restic through stdout",
	"-X":               "the restore feeds the dump to the mysql client",
	"--xml":            "the restore feeds the dump to the mysql client",
	"--compact":        "the dump's last comment (\"Dump completed\") is how a cut-off dump is told from a whole one",
	"--skip-comments":  "the dump's last comment (\"Dump completed\") is how a cut-off dump is told from a whole one",
	"--skip-dump-date": "the dump's last comment (\"Dump completed on …\") is how a cut-off dump is told from a whole one",
}

// Validate implements step.Function.
func (b *Backup) Validate() error {
	if err := b.conn.validate(); err != nil {
		return err
	}
	args := strings.Fields(b.args)
	if err := refuseArgs(args, secretArgs); err != nil {
		return err
	}
	if err := refuseArgs(args, dumpRefused); err != nil {
		return err
	}
	return b.labels.Check()
}

// Run implements step.Function.
func (b *Backup) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	dumpTools, _ := tools(b.flavor)
	bin, err := findTool(env, dumpTools)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(bin)
	cnf, err := b.conn.optionFile(env, env.TempDir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(cnf)
	args := append([]string{"--defaults-extra-file=" + cnf, "--single-transaction"}, strings.Fields(b.args)...)
	tags := b.labels.Tags()
	tags = append(tags, TagDump+"="+name)
	out := step.Outputs{OutputDumpCommand: name}
	log.Info("dumping "+b.flavor, "command", name, "endpoint", b.conn.endpoint, "args", b.args)
	summary, err := dumpstream.Backup(ctx, env, dumpstream.BackupOptions{
		Restic: restic.BackupOptions{Filename: DumpFilename, Tags: tags, Host: b.labels.Host()},
		Name:   name,
		Command: func() *exec.Cmd {
			cmd := exec.Command(bin, args...)
			cmd.Env = env.Environ
			return cmd
		},
		Check: checkTrailer,
	})
	if err != nil {
		return out, err
	}
	maps.Copy(out, summary.Outputs())
	log.Info(b.flavor+" dump stored", "snapshot", summary.SnapshotID, "bytes", summary.TotalBytesProcessed, "uploaded", summary.DataAddedPacked)
	return out, nil
}

// dumpCompleted starts the comment mysqldump and mariadb-dump write last.
const dumpCompleted = "-- Dump completed"

// checkTrailer checks that the dump's last line is its "Dump completed"
// comment.
func checkTrailer(end []byte) error {
	end = bytes.TrimRight(end, "\n")
	last := end[bytes.LastIndexByte(end, '\n')+1:]
	if !bytes.HasPrefix(last, []byte(dumpCompleted)) {
		return errors.New("its output does not end with \"" + dumpCompleted + "\": the dump is incomplete")
	}
	return nil
}

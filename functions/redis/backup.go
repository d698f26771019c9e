package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// Registered names of the Functions.
const (
	BackupName  = "redis-backup"
	RestoreName = "redis-restore"
)

// DumpFilename is the RDB file's name inside restic snapshots.
const DumpFilename = "dump.rdb"

// DumpPath is DumpFilename's path inside a snapshot.
const DumpPath = "/" + DumpFilename

// Environment variables holding the credentials, from the AppBinding's
// Secret (keys username and password).
const (
	EnvUser     = "REDIS_USERNAME"
	EnvPassword = "REDIS_PASSWORD"
)

// Tag keys put on every snapshot.
const (
	TagSession = "session"
	TagTarget  = "target"
)

const clientPackage = "redis-cli 7 or newer (Debian: redis-tools)"

// CmdRedisCli is the client that fetches the RDB.
const CmdRedisCli = "redis-cli"

// ClientTools are the programs the redis Functions run, found on the
// step's PATH; the step image must carry them (packaging/databases).
func ClientTools() []string { return []string{CmdRedisCli} }

// Backup is the redis-backup Function.
type Backup struct {
	endpoint string
	args     string
	labels   dumpstream.Labels

	host, port string
}

// NewBackup returns a fresh redis-backup Function.
func NewBackup() step.Function { return &Backup{} }

// Description implements step.Describer.
func (*Backup) Description() string {
	return "stream a Redis server's RDB snapshot (redis-cli --rdb) into a restic repository, checking its CRC64; no temp file"
}

// Flags implements step.Function.
func (b *Backup) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&b.endpoint, "endpoint", "", "the server: redis://HOST[:PORT] (the AppBinding's URL or service); user and password come from $REDIS_USERNAME and $REDIS_PASSWORD")
	fs.StringVar(&b.args, "args", "", "extra redis-cli arguments, separated by spaces (Stash's args)")
	b.labels.AddFlags(fs)
}

var cliRefused = map[string]string{
	"-a":     "the password comes from the AppBinding's Secret (a password on the command line is visible to every process)",
	"--pass": "the password comes from the AppBinding's Secret (a password on the command line is visible to every process)",
	"--rdb":  "the step asks for the RDB itself",
	"--pipe": "the step asks for the RDB itself",
	"-u":     "the server comes from --endpoint",
}

// Validate implements step.Function.
func (b *Backup) Validate() error {
	host, port, err := parseEndpoint(b.endpoint)
	if err != nil {
		return err
	}
	b.host, b.port = host, port
	for _, a := range strings.Fields(b.args) {
		for opt, why := range cliRefused {
			if a == opt || strings.HasPrefix(a, opt+"=") {
				return fmt.Errorf("--args: %q is not allowed: %s", a, why)
			}
		}
	}
	return b.labels.Check()
}

// parseEndpoint reads redis://HOST[:PORT].
func parseEndpoint(ep string) (string, string, error) {
	if ep == "" {
		return "", "", errors.New("--endpoint: required (the AppBinding's clientConfig)")
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", "", fmt.Errorf("--endpoint: %w", err)
	}
	if u.Scheme != "redis" {
		return "", "", fmt.Errorf("--endpoint: scheme %q is not redis (TLS is not supported yet)", u.Scheme)
	}
	if u.User != nil {
		return "", "", errors.New("--endpoint: must not hold a user or password (they come from the AppBinding's Secret)")
	}
	if u.Hostname() == "" {
		return "", "", errors.New("--endpoint: no host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", "", fmt.Errorf("--endpoint: %q: a path or query is not supported (the RDB holds every database)", ep)
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	return u.Hostname(), port, nil
}

// Run implements step.Function.
func (b *Backup) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	bin, err := dumpstream.LookTool(env, CmdRedisCli, clientPackage)
	if err != nil {
		return nil, err
	}
	args := []string{"-h", b.host, "-p", b.port}
	if u := env.Getenv(EnvUser); u != "" {
		args = append(args, "--user", u)
	}
	args = append(append(args, strings.Fields(b.args)...), "--rdb", "-")
	environ := append([]string(nil), env.Environ...)
	if pw := env.Getenv(EnvPassword); pw != "" {
		environ = append(environ, "REDISCLI_AUTH="+pw)
	}
	log.Info("streaming redis RDB", "endpoint", b.endpoint)
	summary, err := dumpstream.Backup(ctx, env, dumpstream.BackupOptions{
		Restic: restic.BackupOptions{Filename: DumpFilename, Tags: b.labels.Tags(), Host: b.labels.Host()},
		Name:   "redis-cli --rdb",
		Command: func() *exec.Cmd {
			cmd := exec.Command(bin, args...)
			cmd.Env = environ
			return cmd
		},
		Filter: func(w io.Writer) io.WriteCloser { return newRDBStream(w, true) },
	})
	if err != nil {
		return nil, err
	}
	out := step.Outputs(summary.Outputs())
	log.Info("redis RDB stored", "snapshot", summary.SnapshotID, "bytes", summary.TotalBytesProcessed, "uploaded", summary.DataAddedPacked)
	return out, nil
}

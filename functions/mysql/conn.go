package mysql

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/step"
)

// Environment variables holding the credentials, from the AppBinding's
// Secret (keys username and password, as Stash's addons read them).
const (
	EnvUser     = "MYSQL_USER"
	EnvPassword = "MYSQL_PASSWORD"
)

// DefaultUser is the user when the Secret names none.
const DefaultUser = "root"

// Flavours: which client tools are tried first.
const (
	FlavorMySQL   = "mysql"
	FlavorMariaDB = "mariadb"
)

// tools are the dump and load tools of a flavour, in the order tried.
func tools(flavor string) (dump, load []string) {
	if flavor == FlavorMariaDB {
		return []string{"mariadb-dump", "mysqldump"}, []string{"mariadb", "mysql"}
	}
	return []string{"mysqldump", "mariadb-dump"}, []string{"mysql", "mariadb"}
}

// ClientTools are the programs the mysql and mariadb Functions run (each
// tries two names), found on the step's PATH; the step image must carry
// them (packaging/databases).
func ClientTools() []string {
	dump, load := tools(FlavorMariaDB)
	return append(dump, load...)
}

const clientPackage = "the MySQL or MariaDB client tools (Debian: mariadb-client; MySQL: mysql-client)"

// findTool returns the first of names on the step's PATH.
func findTool(env *step.Env, names []string) (string, error) {
	var first error
	for _, n := range names {
		p, err := dumpstream.LookTool(env, n, clientPackage)
		if err == nil {
			return p, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", fmt.Errorf("%w (nor %s)", first, strings.Join(names[1:], ", "))
}

// connFlags is the server both Functions talk to.
type connFlags struct {
	endpoint string
	// parsed by validate
	host, port, database string
}

func (c *connFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.endpoint, "endpoint", "", "the server: mysql://HOST[:PORT][/DATABASE] (or mariadb://, or KubeDB's tcp(HOST:PORT)/[DATABASE]); user and password come from $MYSQL_USER and $MYSQL_PASSWORD")
}

func (c *connFlags) validate() error {
	ep := c.endpoint
	if ep == "" {
		return errors.New("--endpoint: required (the AppBinding's clientConfig)")
	}
	if rest, ok := strings.CutPrefix(ep, "tcp("); ok {
		addr, db, ok := strings.Cut(rest, ")")
		if !ok || (db != "" && !strings.HasPrefix(db, "/")) {
			return fmt.Errorf("--endpoint: %q is not tcp(HOST:PORT)/[DATABASE]", ep)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("--endpoint: %w", err)
		}
		c.host, c.port, c.database = host, port, strings.Trim(db, "/")
		return nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return fmt.Errorf("--endpoint: %w", err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return fmt.Errorf("--endpoint: scheme %q is not mysql or mariadb", u.Scheme)
	}
	if u.User != nil {
		return errors.New("--endpoint: must not hold a user or password (they come from the AppBinding's Secret)")
	}
	if u.RawQuery != "" {
		return fmt.Errorf("--endpoint: query parameters (%q) are not supported", u.RawQuery)
	}
	if u.Hostname() == "" {
		return errors.New("--endpoint: no host")
	}
	c.host, c.port, c.database = u.Hostname(), u.Port(), strings.Trim(u.Path, "/")
	return nil
}

// optionFile writes the client option file (0600, in dir) with the
// server and the credentials and returns its path.
func (c *connFlags) optionFile(env *step.Env, dir string) (string, error) {
	user := env.Getenv(EnvUser)
	if user == "" {
		user = DefaultUser
	}
	var b strings.Builder
	b.WriteString("[client]\nprotocol=TCP\n")
	fmt.Fprintf(&b, "host=%s\n", quoteOption(c.host))
	if c.port != "" {
		fmt.Fprintf(&b, "port=%s\n", quoteOption(c.port))
	}
	fmt.Fprintf(&b, "user=%s\n", quoteOption(user))
	if pw := env.Getenv(EnvPassword); pw != "" {
		fmt.Fprintf(&b, "password=%s\n", quoteOption(pw))
	}
	f, err := os.CreateTemp(dir, "client-*.cnf")
	if err != nil {
		return "", err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return filepath.Clean(f.Name()), nil
}

// quoteOption quotes a value for an option file: double quotes, with
// backslash and double quote escaped.
func quoteOption(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// refuseArgs returns an error naming the first of args that is one of the
// refused options (exactly, with '=', or a short option with its value
// attached).
func refuseArgs(args []string, refused map[string]string) error {
	for _, a := range args {
		for opt, why := range refused {
			if a == opt || strings.HasPrefix(a, opt+"=") || (len(opt) == 2 && strings.HasPrefix(a, opt)) {
				return fmt.Errorf("--args: %q is not allowed: %s", a, why)
			}
		}
	}
	return nil
}

var secretArgs = map[string]string{
	"-p":                    "the password comes from the AppBinding's Secret (a password on the command line is visible to every process)",
	"--password":            "the password comes from the AppBinding's Secret (a password on the command line is visible to every process)",
	"--defaults-file":       "the step writes the client option file",
	"--defaults-extra-file": "the step writes the client option file",
}

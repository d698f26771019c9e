package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/step"
)

// Environment variables holding the credentials, from the AppBinding's
// Secret: keys username and password (kubernetes.io/basic-auth, KubeDB's
// current Secrets) or POSTGRES_USER and POSTGRES_PASSWORD (KubeDB's older
// ones), as Stash's addon reads them.
const (
	EnvUser           = "PGUSER"
	EnvPassword       = "PGPASSWORD"
	EnvLegacyUser     = "POSTGRES_USER"
	EnvLegacyPassword = "POSTGRES_PASSWORD"
)

// DefaultUser is the user when the Secret names none (KubeDB's superuser).
const DefaultUser = "postgres"

// clientPackage names where the client tools come from, for errors.
const clientPackage = "PostgreSQL's client tools (Debian: postgresql-client)"

// CmdPsql is the client the restore streams the dump into.
const CmdPsql = "psql"

// ClientTools are the programs the postgres Functions run, found on the
// step's PATH; the step image must carry them (packaging/databases).
func ClientTools() []string { return []string{CmdDumpAll, CmdDump, CmdPsql} }

// endpointParams are the URL query parameters honoured, with the libpq
// variable each one becomes.
var endpointParams = map[string]string{
	"sslmode":          "PGSSLMODE",
	"connect_timeout":  "PGCONNECT_TIMEOUT",
	"application_name": "PGAPPNAME",
}

// connFlags is the server both Functions talk to.
type connFlags struct {
	endpoint string
	// parsed by validate
	vars []string
}

func (c *connFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.endpoint, "endpoint", "", "the server: postgres://HOST[:PORT][/DATABASE][?sslmode=…] (the AppBinding's URL or service); user and password come from $PGUSER/$PGPASSWORD or $POSTGRES_USER/$POSTGRES_PASSWORD")
}

func (c *connFlags) validate() error {
	if c.endpoint == "" {
		return errors.New("--endpoint: required (the AppBinding's clientConfig)")
	}
	u, err := url.Parse(c.endpoint)
	if err != nil {
		return fmt.Errorf("--endpoint: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("--endpoint: scheme %q is not postgres or postgresql", u.Scheme)
	}
	if u.User != nil {
		return errors.New("--endpoint: must not hold a user or password (they come from the AppBinding's Secret)")
	}
	if u.Hostname() == "" {
		return errors.New("--endpoint: no host")
	}
	c.vars = []string{"PGHOST=" + u.Hostname()}
	if p := u.Port(); p != "" {
		c.vars = append(c.vars, "PGPORT="+p)
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		c.vars = append(c.vars, "PGDATABASE="+db)
	}
	for k, vs := range u.Query() {
		v, ok := endpointParams[k]
		if !ok {
			return fmt.Errorf("--endpoint: query parameter %q is not supported (only sslmode, connect_timeout, application_name)", k)
		}
		c.vars = append(c.vars, v+"="+vs[len(vs)-1])
	}
	return nil
}

// environ is the step's environment with the libpq variables of the
// server and the credentials set.
func (c *connFlags) environ(env *step.Env) []string {
	out := append([]string(nil), env.Environ...)
	out = append(out, c.vars...)
	out = append(out, EnvUser+"="+user(env))
	pw, ok := env.LookupEnv(EnvPassword)
	if !ok || pw == "" {
		pw = env.Getenv(EnvLegacyPassword)
	}
	if pw != "" {
		out = append(out, EnvPassword+"="+pw)
	}
	return out
}

// user is the user the tools connect as.
func user(env *step.Env) string {
	user := env.Getenv(EnvUser)
	if user == "" {
		user = env.Getenv(EnvLegacyUser)
	}
	if user == "" {
		user = DefaultUser
	}
	return user
}

// tool finds a client tool on the step's PATH.
func tool(env *step.Env, name string) (string, error) {
	return dumpstream.LookTool(env, name, clientPackage)
}

// refuseArgs returns an error naming the first of args that is one of
// the refused options (or starts with one followed by '=' or a value).
func refuseArgs(flag string, args []string, refused map[string]string) error {
	for _, a := range args {
		for opt, why := range refused {
			if a == opt || strings.HasPrefix(a, opt+"=") || (len(opt) == 2 && strings.HasPrefix(a, opt)) {
				return fmt.Errorf("--%s: %q is not allowed: %s", flag, a, why)
			}
		}
	}
	return nil
}

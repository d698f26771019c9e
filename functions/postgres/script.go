package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Kinds of dump, from the header pg_dump and pg_dumpall write first.
const (
	KindCluster  = "cluster"  // pg_dumpall
	KindDatabase = "database" // pg_dump
	KindUnknown  = "unknown"  // some other SQL script
)

var (
	headerCluster  = []byte("--\n-- PostgreSQL database cluster dump\n--\n")
	headerDatabase = []byte("--\n-- PostgreSQL database dump\n--\n")
)

// Single-transaction modes of the restore.
const (
	TxAuto  = "auto"  // one transaction for a single database's dump
	TxTrue  = "true"  // one transaction, or fail (a cluster dump cannot)
	TxFalse = "false" // statement by statement
)

// A role name as pg_dumpall writes it (fmtId: bare or double-quoted).
const roleName = `("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)`

var (
	createRole = regexp.MustCompile(`^CREATE ROLE ` + roleName + `;$`)
	dropRole   = regexp.MustCompile(`^DROP ROLE (IF EXISTS )?` + roleName + `;$`)
	alterRole  = regexp.MustCompile(`^ALTER ROLE ` + roleName + ` WITH (.*) PASSWORD '(?:[^']|'')*';$`)
)

// unquoteIdent is a role name as written by fmtId, unquoted.
func unquoteIdent(s string) string {
	if strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) && len(s) >= 2 {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// scriptFilter is what psql reads: the dump, wrapped in BEGIN/COMMIT when
// it restores in one transaction, and with a cluster dump's role
// statements made idempotent. pg_dumpall writes CREATE ROLE for every role,
// the one psql connects as included, expecting the error to be ignored;
// and with --clean a DROP ROLE of that role too. Under ON_ERROR_STOP these
// become blocks that ignore exactly those errors (duplicate_object,
// object_in_use), so every other error still stops the restore. The role
// psql connects as keeps its password (the AppBinding's Secret holds it):
// the dump's would lock the restore out at its next \connect. Only the
// globals part (before the first \connect) is read line by line; the rest
// passes through untouched.
type scriptFilter struct {
	w        io.Writer
	mode     string
	user     string // the role psql connects as
	kind     string
	wrap     bool
	globals  bool   // in a cluster dump's globals
	decided  bool   // kind known
	pending  []byte // undecided header, or a partial globals line
	rewrites int
}

func newScriptFilter(w io.Writer, mode, user string) *scriptFilter {
	return &scriptFilter{w: w, mode: mode, user: user}
}

func (f *scriptFilter) Write(p []byte) (int, error) {
	if !f.decided {
		f.pending = append(f.pending, p...)
		if len(f.pending) < len(headerCluster) {
			return len(p), nil
		}
		if err := f.decide(); err != nil {
			return 0, err
		}
		buf := f.pending
		f.pending = nil
		if err := f.write(buf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if err := f.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// decide reads the header and starts the transaction when there is one.
func (f *scriptFilter) decide() error {
	f.decided = true
	switch {
	case bytes.HasPrefix(f.pending, headerCluster):
		f.kind, f.globals = KindCluster, true
	case bytes.HasPrefix(f.pending, headerDatabase):
		f.kind = KindDatabase
	default:
		f.kind = KindUnknown
	}
	switch f.mode {
	case TxTrue:
		if f.kind == KindCluster {
			return errors.New("a pg_dumpall dump cannot be restored in a single transaction (it creates databases and connects to each); use single-transaction auto or false")
		}
		f.wrap = true
	case TxAuto:
		f.wrap = f.kind == KindDatabase
	}
	if f.wrap {
		_, err := io.WriteString(f.w, "BEGIN;\n")
		return err
	}
	return nil
}

func (f *scriptFilter) write(p []byte) error {
	if !f.globals {
		_, err := f.w.Write(p)
		return err
	}
	f.pending = append(f.pending, p...)
	var out bytes.Buffer
	for f.globals {
		i := bytes.IndexByte(f.pending, '\n')
		if i < 0 {
			break
		}
		line := f.pending[:i]
		if bytes.HasPrefix(line, []byte(`\connect `)) {
			f.globals = false // the databases: as they are
			break
		}
		f.pending = f.pending[i+1:]
		out.Write(f.rewrite(line))
		out.WriteByte('\n')
	}
	if !f.globals {
		out.Write(f.pending)
		f.pending = nil
	}
	_, err := f.w.Write(out.Bytes())
	return err
}

// rewrite makes a globals line's role statement idempotent.
func (f *scriptFilter) rewrite(line []byte) []byte {
	s := string(line)
	if createRole.MatchString(s) {
		f.rewrites++
		return []byte(fmt.Sprintf("DO $stashflow$BEGIN %s EXCEPTION WHEN duplicate_object THEN NULL; END$stashflow$;", s))
	}
	if dropRole.MatchString(s) {
		f.rewrites++
		return []byte(fmt.Sprintf("DO $stashflow$BEGIN %s EXCEPTION WHEN object_in_use THEN NULL; END$stashflow$;", s))
	}
	if m := alterRole.FindStringSubmatch(s); m != nil && unquoteIdent(m[1]) == f.user {
		f.rewrites++
		return []byte(fmt.Sprintf("ALTER ROLE %s WITH %s;", m[1], m[2]))
	}
	return line
}

// Close flushes what is held back and commits the transaction: call it
// only once the whole dump was written.
func (f *scriptFilter) Close() error {
	if !f.decided {
		if err := f.decide(); err != nil {
			return err
		}
		buf := f.pending
		f.pending = nil
		if err := f.write(buf); err != nil {
			return err
		}
	}
	if len(f.pending) > 0 {
		line := f.pending
		f.pending = nil
		if _, err := f.w.Write(f.rewrite(line)); err != nil {
			return err
		}
	}
	if f.wrap {
		_, err := io.WriteString(f.w, "\nCOMMIT;\n")
		return err
	}
	return nil
}

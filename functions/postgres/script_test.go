package postgres

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
)

func newFlagSet(fn step.Function) *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fn.Flags(fs)
	return fs
}

// TestScriptFilter: what psql is given, written in chunks of every size.
func TestScriptFilter(t *testing.T) {
	cluster := "--\n-- PostgreSQL database cluster dump\n--\n\nDROP ROLE IF EXISTS app;\nDROP ROLE IF EXISTS postgres;\n" +
		"CREATE ROLE \"Odd \"\"name\";\nCREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER LOGIN PASSWORD 'SCRAM-SHA-256$x:y';\n" +
		"ALTER ROLE app WITH LOGIN PASSWORD 'md5abc';\n\\connect template1\nCREATE ROLE postgres;\n"
	database := "--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t(i int);\n"
	for _, tc := range []struct {
		name, in, mode, want string
	}{
		{"cluster", cluster, TxAuto, "--\n-- PostgreSQL database cluster dump\n--\n\n" +
			"DO $stashflow$BEGIN DROP ROLE IF EXISTS app; EXCEPTION WHEN object_in_use THEN NULL; END$stashflow$;\n" +
			"DO $stashflow$BEGIN DROP ROLE IF EXISTS postgres; EXCEPTION WHEN object_in_use THEN NULL; END$stashflow$;\n" +
			"DO $stashflow$BEGIN CREATE ROLE \"Odd \"\"name\"; EXCEPTION WHEN duplicate_object THEN NULL; END$stashflow$;\n" +
			"DO $stashflow$BEGIN CREATE ROLE postgres; EXCEPTION WHEN duplicate_object THEN NULL; END$stashflow$;\n" +
			"ALTER ROLE postgres WITH SUPERUSER LOGIN;\n" +
			"ALTER ROLE app WITH LOGIN PASSWORD 'md5abc';\n\\connect template1\nCREATE ROLE postgres;\n"},
		{"database auto", database, TxAuto, "BEGIN;\n" + database + "\nCOMMIT;\n"},
		{"database false", database, TxFalse, database},
		{"short script", "SELECT 1;\n", TxAuto, "SELECT 1;\n"},
		{"short script true", "SELECT 1;\n", TxTrue, "BEGIN;\nSELECT 1;\n\nCOMMIT;\n"},
	} {
		for _, chunk := range []int{1, 7, 64, 1 << 20} {
			var got strings.Builder
			f := newScriptFilter(&got, tc.mode, "postgres")
			for in := tc.in; in != ""; {
				n := min(chunk, len(in))
				if _, err := f.Write([]byte(in[:n])); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.String()); diff != "" {
				t.Errorf("%s, chunks of %d (-want +got):\n%s", tc.name, chunk, diff)
			}
		}
	}
}

// TestCheckTrailer: the end of a complete dump, and of incomplete ones.
func TestCheckTrailer(t *testing.T) {
	for _, tc := range []struct {
		cmd, end string
		ok       bool
	}{
		{CmdDump, "x;\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n", true},
		{CmdDump, "x;\n\n--\n-- PostgreSQL database dump complete\n--\n\n", true},
		{CmdDumpAll, "--\n-- PostgreSQL database dump complete\n--\n\n--\n-- PostgreSQL database cluster dump complete\n--\n\n", true},
		{CmdDumpAll, "--\n-- PostgreSQL database dump complete\n--\n\n", false},
		{CmdDump, "COPY public.items (id) FROM stdin;\n1\n2\n", false},
		{CmdDump, "-- PostgreSQL database dump complete\n--\n\nCREATE TABLE late(i int);\n", false},
	} {
		if err := checkTrailer(tc.cmd, []byte(tc.end)); (err == nil) != tc.ok {
			t.Errorf("%s %q: err = %v, want ok %v", tc.cmd, tc.end, err, tc.ok)
		}
	}
}

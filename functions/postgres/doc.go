// Package postgres holds the PostgreSQL Functions. postgres-backup runs
// pg_dumpall (or pg_dump) with its output streamed straight into `restic
// backup --stdin` as /dumpfile.sql, the file Stash's postgres addon writes;
// a dump that fails or ends without its "dump complete" trailer writes no
// snapshot. postgres-restore streams that file from `restic dump` into psql
// with ON_ERROR_STOP: a single database's dump runs in one transaction, so
// a failed restore leaves nothing behind; a cluster dump (pg_dumpall) runs
// statement by statement, its role statements made idempotent.
//
// The server comes from the endpoint (the AppBinding's URL or service),
// the user and password from the environment (the AppBinding's Secret),
// handed to the tools as libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD…:
// nothing secret is on a command line.
package postgres

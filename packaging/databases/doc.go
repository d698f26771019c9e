// Package databases holds the Dockerfile of the step image with the
// database client tools (pg_dump, pg_dumpall, psql; mariadb-dump,
// mariadb; redis-cli at Debian bookworm's versions) and the test that
// checks it against the tools the catalog's database Functions run.
package databases

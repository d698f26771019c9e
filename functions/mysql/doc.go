// Package mysql holds the MySQL and MariaDB Functions (mysql-backup,
// mysql-restore, mariadb-backup, mariadb-restore: one implementation, the
// flavour picks which client tools are tried first). The backup runs
// mysqldump (or mariadb-dump) --single-transaction with its output
// streamed straight into `restic backup --stdin` as /dumpfile.sql, the file
// Stash's addons write; a dump that fails or ends without its "Dump
// completed" comment writes no snapshot. The restore streams that file from
// `restic dump` into the mysql (or mariadb) client, which stops at the
// first error.
//
// The server comes from the endpoint (the AppBinding's URL or service);
// user and password from the environment (the AppBinding's Secret) go to
// the tools in a 0600 option file (--defaults-extra-file) that is removed
// when the step ends: nothing secret is on a command line.
package mysql

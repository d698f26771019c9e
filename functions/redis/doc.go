// Package redis holds the Redis Functions. redis-backup streams the
// server's RDB snapshot (`redis-cli --rdb -`, which asks for it over the
// replication protocol) straight into `restic backup --stdin` as /dump.rdb,
// checking the RDB's CRC64 trailer on the way: a transfer that fails, stops
// early or arrives damaged writes no snapshot. redis-restore writes it back
// as the dump.rdb of a stopped server's data directory, which Redis loads
// when it starts.
//
// The password goes to redis-cli in REDISCLI_AUTH, never on a command line.
package redis

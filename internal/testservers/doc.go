// Package testservers starts the real servers the Function tests run
// against — etcd (one member, a cluster, with TLS and client certificates),
// restic's rest-server, MinIO as an S3 server, fake-gcs-server and Azurite
// as GCS and Azure emulators — from <repo root>/bin, and
// Debian's PostgreSQL (hack/install-databases.sh) as a non-root user, on
// loopback and free ports, and builds the stashflow binary for tests that
// exec it. A missing binary fails the test with "run make tools"; nothing
// is skipped silently.
package testservers

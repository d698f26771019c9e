// Package testproc starts the real servers tests run against as child
// processes, and picks their ports. It depends on the standard library
// only, so that a test helper (or a benchmark that measures memory) can use
// it without linking any client.
package testproc

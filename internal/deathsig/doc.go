// Package deathsig starts child processes that die with the process that
// started them.
//
// Linux's parent-death signal (Pdeathsig) fires when the *thread* that
// forked the child exits, not the process; Go retires threads freely, so a
// child started from an ordinary goroutine can be killed at a random moment,
// or, with the signal tied to a thread that outlives the child's purpose,
// not at all. Start forks from a goroutine locked to its OS thread and keeps
// that thread until the child has ended. It is the one way stashflow starts
// restic (functions/restic), a local-engine step (pipeline/local) and a test
// server (internal/testproc); it uses only the standard library and x/sys.
package deathsig

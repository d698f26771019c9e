// Package schedbatch puts a process under Linux's SCHED_BATCH scheduling
// policy: every thread it has, and so every thread and child it makes.
//
// A backup step is three processes handing a stream on to each other on
// few cores (the source's server, the Function, restic). Under the default
// policy each hand-off wakes the receiver and preempts whoever holds the
// core, so the three spend their time switching; SCHED_BATCH tells the
// scheduler the thread is CPU-bound and not to preempt on wake-up, which
// gives longer slices. The niceness is unchanged and no privilege is
// needed. Measured in docs/functions.md § Performance.
package schedbatch

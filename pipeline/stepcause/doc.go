// Package stepcause picks, out of a failed step's log, the line that says
// why it failed, for the step's message in the session's status: the first
// line that names a failure (an error, "cannot", "no such", "refused", …)
// and the last meaningful line when it is another, skipping our own
// structured log lines, progress displays and restic's and tar's generic
// summaries.
//
// Both engines use it, so that a step says the same on either: the local
// engine on the head and tail of the log file it wrote (pipeline/local),
// the Argo engine on the container's termination message that Argo puts in
// the node's message (pipeline/argo) — a Function's one-line reason, or
// the log's tail that the kubelet takes for any other command. It is pure:
// text in, text out, standard library only.
package stepcause

// Package verdict is the Function of a run's verdict step (`stashflow fn
// verdict`): the last step of a graph in which a failure can be handled (a
// post hook that runs on failure, a Sequential batch that goes on after a
// failed target). The translators make it run only when some step of the
// run failed, and it always fails, so that the engine's own verdict on the
// run (the Argo Workflow's phase) is Failed exactly when the session's is.
package verdict

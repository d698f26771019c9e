// Package argolint runs Argo's own workflow validation (the checks `argo
// lint` and the Argo server make on submission) on rendered workflows.
//
// Only tests import it: Argo's validation package links every artifact
// driver (HDFS, cloud storage clients), its metrics and its telemetry, which
// would make the stashflow binary larger and every `stashflow fn` process
// start with more memory mapped, for a check whose job is to prove that the
// renderer is right.
package argolint

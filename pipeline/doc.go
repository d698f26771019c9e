// Package pipeline owns the engine-neutral model of one backup or restore run:
// a Graph of Steps, each a process with dependencies that carry a run
// condition, a timeout, a retry policy and declared output parameters.
//
// A Graph says nothing about where it runs. pipeline/argo renders it as an
// Argo Workflow; pipeline/local runs it on this machine. Both report a
// NodeStatus per step and must give the same phases for the same graph (the
// shared table in pipeline/conformance pins that down).
//
// Validation (Graph.Validate) rejects duplicate or malformed names, unknown
// dependencies, cycles (Kahn's algorithm, with a deterministic error naming
// the cycle), references to outputs no ancestor declares, and graphs larger
// than Argo accepts in one DAG.
//
// The package imports only the standard library and Kubernetes' core API
// types (for volumes, mounts and resources, which both engines understand).
package pipeline

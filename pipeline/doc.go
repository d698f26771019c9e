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
// the cycle) and references to outputs no ancestor declares. Limits of one
// engine are that engine's to check (argo.MaxSteps, the size of one Argo
// DAG, is checked by argo.Render).
//
// Graph.TopologicalOrder orders the steps, each after every step it waits
// for (Dependencies and AnyOf), ties broken by name. It takes any graph: on
// one it cannot order (a name used twice, an edge to an unknown step, a
// cycle) it returns an error, never a panic; Format then lists the steps as
// declared and RunPhase returns Error. Every graph Validate accepts has an
// order. FuzzGraph checks this, and that nothing exported panics, on graphs
// of any shape.
//
// Step.Ready is the one rule for whether a step runs once the steps it waits
// for have ended: the local engine schedules by it, argo renders the same
// rule as a depends expression, and RunPhase gives the phase Argo gives the
// whole run.
//
// The package imports only the standard library and Kubernetes' core API
// types (for volumes, mounts and resources, which both engines understand).
package pipeline

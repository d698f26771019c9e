// Package argo runs a pipeline.Graph on Argo Workflows: Render turns the
// graph into one wfv1.Workflow (whose tests check it with Argo's own
// validation, internal/argolint), and NodeStatuses reads the per-step outcome back out of the Workflow's
// status. Submitting, watching and deleting belong to the controllers.
//
// Render refuses what a valid graph may hold but a Workflow cannot: more than
// MaxSteps steps (Argo's limit for one DAG template), a step without an image
// when Options.DefaultImage is empty, a step named after a keyword of depends
// expressions, "{{" in a literal, invalid label keys or values, a volume named
// OutputsVolume, and a mount of an unknown volume or one hiding the outputs
// directory.
//
// # Shape of a rendered Workflow
//
// The entrypoint is one dag template, EntrypointTemplate ("main"), with one
// task per step, in topological order; the task name is the step name, which
// is what the Argo UI shows. Edges are `depends` expressions:
//
//	OnSuccess  X.Succeeded
//	OnFailure  (X.Failed || X.Errored)
//	OnEnd      (X.Succeeded || X.Failed || X.Errored || X.Skipped || X.Omitted)
//
// joined with " && ". A task whose expression is false ends Omitted, like a
// step of the local engine whose condition cannot hold. The dag sets
// failFast: false, since Argo's default stops scheduling after the first
// failure and our graphs route failures to OnFailure and OnEnd steps.
//
// # One container template per distinct process
//
// Steps share a container template when their image, command, env, working
// directory, mounts, resources, outputs, timeout, retry policy, number of
// args and set of label keys are equal. Within such a group, a value that
// differs between the steps, or that holds an output reference, is a template
// input parameter; every other value is written in the template:
//
//	args[i]           -> parameter args-<i>
//	label K           -> parameter label-<K without "stashflow.dev/">, used in metadata.labels
//	env value with $(steps...)    -> parameter env-<NAME>
//	command[i] with $(steps...)   -> parameter command-<i>
//
// One parameter per position keeps Argo's substitution plain (a JSON list in
// one parameter cannot become several args without a shell) and reads well
// in the UI's inputs panel. A template used by one step holds all its values
// and has parameters only for output references. Templates are named after
// the Template of their first step (the translators set the Function's
// name; else the step's name), with -2, -3... on clashes.
//
// Output references $(steps.X.outputs.Y) become task arguments
// {{tasks.X.outputs.parameters.Y}}: only a DAG task can resolve them. Argo
// ends a task Error when the producer has no such output, as the local engine
// does.
//
// # What each step gets
//
//   - Outputs: template outputs.parameters with valueFrom.path; an emptyDir
//     (OutputsVolume) mounted at outputs.Dir and the env
//     STASHFLOW_OUTPUT_DIR=outputs.Dir in every container, so output
//     files work with a read-only root filesystem and any executor.
//   - Graph.VolumeClaims as spec.volumeClaimTemplates (name, labels,
//     annotations, spec) with volumeClaimGC OnWorkflowCompletion: Argo makes
//     the claim <workflow>-<name> when the Workflow starts and deletes it when
//     it ends, whatever the outcome; steps mount it by name.
//   - Env from Secret keys as valueFrom.secretKeyRef, never a value.
//   - Timeout as the template's activeDeadlineSeconds (per attempt, rounded up
//     to whole seconds); Graph.Timeout as spec.activeDeadlineSeconds.
//   - Retry as retryStrategy{limit, retryPolicy: Always, backoff{duration,
//     factor (default 2), cap}}. Always, because the local engine retries
//     every failed attempt and Argo calls some of those Error (pod deleted,
//     evicted, not started); a timeout is Failed. Backoff is omitted when the
//     policy has none: Argo then retries at once.
//   - Step labels on the template's metadata.labels, so pods carry
//     target/kind/function; graph labels on the Workflow and on every pod
//     (spec.podMetadata).
//
// Literal strings are written so the process gets them unchanged: a '$'
// before '(' or '$' is doubled in command, args and env values (the kubelet
// would expand $(VAR)); a graph with "{{" in any literal is rejected, since
// Argo would read it as a template tag and there is no escape.
//
// # Reading status back
//
// A step's node is named "<workflow>.<step>". A Retry node carries the
// overall phase, times and outputs; its children flagged retried are the
// attempts. Lifecycle-hook and other nodes are ignored. A step without a node
// is Pending while the workflow runs and Omitted once it has finished (a
// stop or the workflow deadline). Compressed or offloaded node statuses are
// an error (ErrNodesNotInline), never a silent Pending. Note that a workflow
// can succeed while a step failed (an OnFailure step handled it); read the
// steps. A failed container's node message ("main: Error (exit code 1):
// <termination message>") becomes the step's message in the local engine's
// words and by its cause rule (StepMessage, pipeline/stepcause):
// "exit code 1: <the line that names the failure>".
//
// Step.DisplayName is not rendered: Argo's per-template display-name
// annotation renames the node, must match a DNS-like pattern, and would be
// shared by all steps of a template.
package argo

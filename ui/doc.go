// Package ui is stashflow's read-only web UI: the sessions (BackupSession,
// RestoreSession, RestoreBatch) with their phases, each session's DAG drawn
// as SVG with every step's outcome, its failures, step logs and outputs,
// the schedules with their next slots, and the Repositories with their
// sessions and Snapshot objects. `stashflow operator` serves it (Setup adds a Server to the
// manager); docs/ui.md describes the flags and pages.
//
// # What it reads
//
// Everything comes through the manager's cached client: sessions, their
// invokers (BackupConfigurations, BackupBatches), Repositories,
// Snapshots and the Argo Workflows of Argo sessions. The UI never reads a Secret and never writes. It reads only
// status for outcomes, so it works the same for the Argo and the local
// engine. For local-engine sessions it also reads the files the engine
// leaves beside each step's log in its work directory (runfiles.go): the
// redacted tail of the log and the outputs, never the raw log; for Argo
// sessions it reads the outputs from the Workflow's nodes.
//
// # Where the graph comes from
//
// A session's status has its steps per target but not the edges between
// them. The edges come from the session's run record (status.plan), the
// plan the operator submitted; the UI translates nothing. A session without
// a record is drawn from its status alone, with a note saying so: targets
// side by side, each target's hooks and steps chained, global hooks around
// them.
//
// # Layout
//
// layout.go is a small Sugiyama layout, top to bottom: layers by longest
// path from the sources, dummy nodes on edges that span layers, barycentre
// sweeps that keep the order with the fewest crossings, and x coordinates
// that pull each node towards its neighbours (a least-squares placement that
// keeps the order, solved per layer by pooling adjacent violators). It is
// deterministic: the same graph gives the same picture.
//
// # Pages and live refresh
//
// Pages are html/template templates embedded with go:embed; the SVG is
// rendered by the same templates, so every name and message is escaped by
// context. A page that can still change marks <body data-refresh>; the
// 60 lines of static/live.js then fetch the page again every few seconds
// and swap the elements marked data-live. This reuses the server's
// rendering instead of a second renderer in JavaScript, needs no build step,
// and the polling ends by itself when a session finishes. /api/sessions and
// /api/sessions/{kind}/{namespace}/{name} serve the same data as JSON.
//
// # Security
//
// The UI listens on 127.0.0.1:8090 by default. With a token file, every
// request must carry the token (Authorization: Bearer, or ?token= once,
// which is exchanged for an HttpOnly, SameSite=Strict cookie holding an HMAC
// of the token); comparisons are constant-time over digests. TLS is optional.
// Responses carry a strict Content-Security-Policy (no inline script or
// style, no third-party origin) and are served for GET and HEAD only.
package ui

/*
Copyright 2025 The stashflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

// Labels stashflow puts on the objects it creates (BackupSessions, Snapshots, Argo Workflows,
// Pods, Jobs), so that `kubectl get wf -l stashflow.dev/session=<name>` finds a session's
// workflow and a session finds what it made.
const (
	// LabelSession holds the name of the BackupSession or RestoreSession an object belongs to.
	LabelSession = GroupName + "/session"
	// LabelSessionKind holds the kind of that session: BackupSession, RestoreSession or RestoreBatch.
	LabelSessionKind = GroupName + "/session-kind"
	// LabelInvoker holds the name of the BackupConfiguration or BackupBatch that invoked a session.
	LabelInvoker = GroupName + "/invoker"
	// LabelInvokerKind holds the kind of that invoker: BackupConfiguration or BackupBatch.
	LabelInvokerKind = GroupName + "/invoker-kind"
	// LabelTarget holds the name of the target (AppBinding, PersistentVolumeClaim, ...) an object works on.
	LabelTarget = GroupName + "/target"
	// LabelTargetKind holds the kind of that target.
	LabelTargetKind = GroupName + "/target-kind"
	// LabelRepository holds the name of the Repository an object reads or writes.
	LabelRepository = GroupName + "/repository"
	// LabelRepositoryRun holds the kind of a Repository's own run (its Argo Workflow, its
	// pod): RepositoryRunRefresh, RepositoryRunCheck or RepositoryRunWipe.
	LabelRepositoryRun = GroupName + "/repository-run"
	// LabelStep holds the name of the pipeline step (a Function or hook name) a Pod runs.
	LabelStep = GroupName + "/step"
	// LabelHostname holds the restic hostname a Snapshot was taken for.
	LabelHostname = GroupName + "/hostname"
	// LabelManagedBy is set to ManagedByValue on every object the operator creates.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "stashflow"
)

// Values of LabelRepositoryRun.
const (
	// RepositoryRunRefresh opens the repository (initialising it when a backup uses it),
	// forgets the snapshots whose Snapshot objects were deleted and reads its snapshots.
	RepositoryRunRefresh = "refresh"
	// RepositoryRunCheck runs restic check (spec.integrityCheck, the check-requested annotation).
	RepositoryRunCheck = "check"
	// RepositoryRunWipe deletes the backend's data of a Repository deleted with wipeOut.
	RepositoryRunWipe = "wipe"
)

// Annotations stashflow reads or writes.
const (
	// AnnotationBackupBlueprint on a workload or AppBinding names the BackupBlueprint to apply to it.
	// A BackupBlueprint may choose another key with spec.annotations.blueprint.
	AnnotationBackupBlueprint = GroupName + "/backup-blueprint"
	// AnnotationSchedule on a workload or AppBinding overrides the blueprint's schedule.
	// A BackupBlueprint may choose another key with spec.annotations.schedule.
	AnnotationSchedule = GroupName + "/schedule"
	// AnnotationTargetPaths on a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet)
	// that names a BackupBlueprint lists the paths to back up: comma-separated absolute
	// paths, e.g. "/data,/etc/app". Required on a workload.
	AnnotationTargetPaths = GroupName + "/target-paths"
	// AnnotationVolumeMounts on a workload that names a BackupBlueprint lists the volumes
	// the backup mounts: comma-separated volumeName:mountPath (or
	// volumeName:mountPath:subPath), Stash's format, e.g. "data:/data".
	AnnotationVolumeMounts = GroupName + "/volume-mounts"
	// StashAnnotationBackupBlueprint, StashAnnotationSchedule, StashAnnotationTargetPaths
	// and StashAnnotationVolumeMounts are Stash's keys for the same annotations. They are
	// read too, so that a target annotated for Stash moves over unchanged; where both are
	// set, ours win.
	StashAnnotationBackupBlueprint = "stash.appscode.com/backup-blueprint"
	StashAnnotationSchedule        = "stash.appscode.com/schedule"
	StashAnnotationTargetPaths     = "stash.appscode.com/target-paths"
	StashAnnotationVolumeMounts    = "stash.appscode.com/volume-mounts"
	// AnnotationTrigger on a BackupSession records who created it: "schedule", "manual" or "retry".
	AnnotationTrigger = GroupName + "/trigger"
	// AnnotationWorkflowUI on a session holds a link to the engine's UI for its workflow.
	AnnotationWorkflowUI = GroupName + "/workflow-ui"
	// AnnotationRestoreReplicas on a Deployment, StatefulSet or ReplicaSet holds the replica count
	// it had before the workload-quiesce step of a restore scaled it to zero; workload-resume
	// scales it back to that count and removes the annotation. It is written in the same patch
	// that sets spec.replicas to 0, so the count is never lost, and an earlier failed restore's
	// value is never overwritten.
	AnnotationRestoreReplicas = GroupName + "/restore-replicas"
	// AnnotationCheckRequested on a Repository requests an integrity check now: when its
	// value differs from status.checkRequest, the Repository controller runs `restic check`
	// (with spec.integrityCheck.readDataSubset) and records the value. Any value will do; a
	// timestamp (`date -u +%FT%TZ`) says when it was asked for.
	AnnotationCheckRequested = GroupName + "/check-requested"
)

// Values of AnnotationTrigger.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerRetry    = "retry"
)

package conditions

import "github.com/stashflow/stashflow/api/v1alpha1"

// Condition types of sessions and their targets (Stash's names). The invoker
// conditions (Ready, RepositoryFound, BackendSecretFound, TargetFound,
// TaskResolved) and RetentionPolicyApplied and BackupHistoryCleaned are the
// API package's.
const (
	// BackupExecutorEnsured: the session's workflow was submitted to the engine.
	BackupExecutorEnsured = "BackupExecutorEnsured"
	// RestoreExecutorEnsured: the restore's workflow was submitted to the engine.
	RestoreExecutorEnsured = "RestoreExecutorEnsured"
	// DeadlineExceeded: the session ran past its timeOut and was stopped.
	DeadlineExceeded = "DeadlineExceeded"

	// PreBackupHookExecutionSucceeded: the target's pre-backup hook succeeded.
	PreBackupHookExecutionSucceeded = "PreBackupHookExecutionSucceeded"
	// PostBackupHookExecutionSucceeded: the target's post-backup hook succeeded.
	PostBackupHookExecutionSucceeded = "PostBackupHookExecutionSucceeded"
	// GlobalPreBackupHookSucceeded: a BackupBatch's global pre-backup hook succeeded.
	GlobalPreBackupHookSucceeded = "GlobalPreBackupHookSucceeded"
	// GlobalPostBackupHookSucceeded: a BackupBatch's global post-backup hook succeeded.
	GlobalPostBackupHookSucceeded = "GlobalPostBackupHookSucceeded"

	// PreRestoreHookExecutionSucceeded: the target's pre-restore hook succeeded.
	PreRestoreHookExecutionSucceeded = "PreRestoreHookExecutionSucceeded"
	// PostRestoreHookExecutionSucceeded: the target's post-restore hook succeeded.
	PostRestoreHookExecutionSucceeded = "PostRestoreHookExecutionSucceeded"
	// GlobalPreRestoreHookSucceeded: a RestoreBatch's global pre-restore hook succeeded.
	GlobalPreRestoreHookSucceeded = "GlobalPreRestoreHookSucceeded"
	// GlobalPostRestoreHookSucceeded: a RestoreBatch's global post-restore hook succeeded.
	GlobalPostRestoreHookSucceeded = "GlobalPostRestoreHookSucceeded"

	// RetentionPolicyApplied: the target's retention step ran (the API's name).
	RetentionPolicyApplied = v1alpha1.ConditionRetentionPolicyApplied
	// RepositoryIntegrityVerified: the target's repository check step ran.
	RepositoryIntegrityVerified = "RepositoryIntegrityVerified"
	// BackupHistoryCleaned: finished sessions beyond backupHistoryLimit were deleted (the API's name).
	BackupHistoryCleaned = v1alpha1.ConditionBackupHistoryCleaned
	// RetryScheduled: a failed session will be, or was, retried by a new session.
	RetryScheduled = "RetryScheduled"
	// SnapshotsRecorded: False when snapshots the session committed got no
	// Snapshot object (their Repository was deleted during the session).
	SnapshotsRecorded = "SnapshotsRecorded"
	// RunRecorded is False when the API server refused a submitted run's
	// record (status.plan): the run is then read against today's
	// translation.
	RunRecorded = "RunRecorded"
)

// Condition types of Repositories, written by the Repository controller
// (Ready and BackendSecretFound are the API package's).
const (
	// Initialized: the backend holds the restic repository, opened with the
	// Repository's Secret; sessions use the Repository only once it is True.
	Initialized = "Initialized"
)

// Reasons of Repository conditions, and of a session that waits for its
// Repository.
const (
	ReasonInitializing       Reason = "Initializing"
	ReasonInitialized        Reason = "Initialized"
	ReasonRepositoryExists   Reason = "RepositoryExists"
	ReasonNotInitialized     Reason = "NotInitialized"
	ReasonOpenFailed         Reason = "OpenFailed"
	ReasonRefreshed          Reason = "Refreshed"
	ReasonRefreshFailed      Reason = "RefreshFailed"
	ReasonRepositoryNotReady Reason = "RepositoryNotReady"
	// ReasonRepositoryInUse: a session uses the Repository, so a deleted
	// Snapshot is not forgotten yet, or a deleted Repository not wiped yet.
	ReasonRepositoryInUse Reason = "RepositoryInUse"
	// ReasonWipingOut: the Repository was deleted with wipeOut; a run
	// deletes its data.
	ReasonWipingOut Reason = "WipingOut"
	// ReasonWipeOutFailed: that run failed; it is tried again.
	ReasonWipeOutFailed Reason = "WipeOutFailed"
	// ReasonWipedOut: the Repository's data was deleted.
	ReasonWipedOut Reason = "WipedOut"
	// ReasonChecking: an integrity check of the Repository runs; sessions
	// into it wait until it ends.
	ReasonChecking Reason = "Checking"
	// ReasonNoErrorsFound: the last integrity check found no error.
	ReasonNoErrorsFound Reason = "NoErrorsFound"
	// ReasonErrorsFound: the last integrity check found errors.
	ReasonErrorsFound Reason = "ErrorsFound"
	// ReasonCheckFailed: the last integrity check could not check the
	// repository (a lock held, the backend down); it is tried again.
	ReasonCheckFailed Reason = "CheckFailed"
)

// Condition types of Snapshots, written by the Repository controller.
const (
	// Forgotten: False while a deleted Snapshot waits for its snapshot to be
	// forgotten in restic, with the reason it waits.
	Forgotten = "Forgotten"
)

// Reasons of Snapshot conditions and events.
const (
	// ReasonForgetPending: the next run of the Repository forgets it.
	ReasonForgetPending Reason = "ForgetPending"
	// ReasonSnapshotGone: the backend no longer holds the snapshot (forgotten
	// elsewhere): its object is deleted.
	ReasonSnapshotGone Reason = "SnapshotGone"
	// ReasonSnapshotFound: a snapshot made elsewhere got an object.
	ReasonSnapshotFound Reason = "SnapshotFound"
)

// Reason is the CamelCase reason of a condition or of a session's phase.
type Reason string

// Reasons of invoker conditions.
const (
	ReasonReady               Reason = "Ready"
	ReasonRepositoryFound     Reason = "RepositoryFound"
	ReasonRepositoryNotFound  Reason = "RepositoryNotFound"
	ReasonRepositoryDeleted   Reason = "RepositoryDeleted"
	ReasonRecordRefused       Reason = "RecordRefused"
	ReasonNamespaceNotAllowed Reason = "NamespaceNotAllowed"
	ReasonSecretFound         Reason = "SecretFound"
	ReasonSecretNotFound      Reason = "SecretNotFound"
	ReasonSecretKeyMissing    Reason = "SecretKeyMissing"
	ReasonTargetFound         Reason = "TargetFound"
	ReasonTargetNotFound      Reason = "TargetNotFound"
	ReasonTargetNotChecked    Reason = "TargetNotChecked"
	ReasonTaskResolved        Reason = "TaskResolved"
	ReasonTaskNotFound        Reason = "TaskNotFound"
	ReasonFunctionNotFound    Reason = "FunctionNotFound"
	ReasonInvalidSpec         Reason = "InvalidSpec"
	ReasonInvalidSchedule     Reason = "InvalidSchedule"
	ReasonNotReady            Reason = "NotReady"
	ReasonHistoryCleaned      Reason = "HistoryCleaned"
	ReasonHistoryCleanFailed  Reason = "HistoryCleanFailed"
)

// Reasons of session phases and conditions.
const (
	ReasonWorkflowCreated       Reason = "WorkflowCreated"
	ReasonWorkflowCreateFailed  Reason = "WorkflowCreateFailed"
	ReasonInvokerNotFound       Reason = "InvokerNotFound"
	ReasonInvalidInvoker        Reason = "InvalidInvoker"
	ReasonInvalidInput          Reason = "InvalidInput"
	ReasonWaitingForReferences  Reason = "WaitingForReferences"
	ReasonAnotherSessionRunning Reason = "AnotherSessionRunning"
	ReasonTargetBusy            Reason = "TargetBusy"
	ReasonRepositoryInitFailed  Reason = "RepositoryInitFailed"
	ReasonRunning               Reason = "Running"
	ReasonSucceeded             Reason = "Succeeded"
	ReasonStepFailed            Reason = "StepFailed"
	ReasonTargetFailed          Reason = "TargetFailed"
	ReasonPreHookFailed         Reason = "PreHookFailed"
	ReasonPostHookFailed        Reason = "PostHookFailed"
	ReasonGlobalPreHookFailed   Reason = "GlobalPreHookFailed"
	ReasonGlobalPostHookFailed  Reason = "GlobalPostHookFailed"
	ReasonHookSucceeded         Reason = "HookSucceeded"
	ReasonHookFailed            Reason = "HookFailed"
	ReasonHookSkipped           Reason = "HookSkipped"
	ReasonStepSucceeded         Reason = "StepSucceeded"
	ReasonDeadlineExceeded      Reason = "DeadlineExceeded"
	ReasonRunLost               Reason = "RunLost"
	ReasonWorkflowDeleted       Reason = "WorkflowDeleted"
	ReasonEngineError           Reason = "EngineError"
	ReasonRetryPending          Reason = "RetryPending"
	ReasonRetryCreated          Reason = "RetryCreated"
)

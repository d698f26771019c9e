// Package convert rewrites Stash manifests as stashflow manifests, object by
// object, with a Change for everything it changed and a Problem for
// everything it could not carry: never a silent drop.
//
// Convert takes decoded documents (unstructured, as read from YAML) and
// returns, for each, the converted object or the reasons it is not written:
//
//   - stash.appscode.com/v1beta1 BackupConfiguration, BackupSession,
//     RestoreSession, BackupBatch, RestoreBatch, Function, Task and
//     BackupBlueprint, stash.appscode.com/v1alpha1 Repository and
//     appcatalog.appscode.com/v1alpha1 AppBinding move to
//     stashflow.dev/v1alpha1; their status and the metadata the apiserver
//     sets are dropped; Stash's versioned Task names become the catalog's;
//     Stash's update-status step goes; RestoreSession's top-level rules
//     move to target.rules.
//   - Stash's catalog Tasks and Functions (etcd-backup-3.5.0, pvc-backup,
//     update-status, …) are replaced by stashflow's catalog, not written.
//   - Stash's blueprint annotations on AppBindings, claims and workloads
//     become stashflow.dev/ annotations.
//   - Stash's legacy v1alpha1 kinds (Restic, Recovery) are refused with
//     what to do instead.
//   - Everything else passes through unchanged.
//
// Every converted stashflow.dev object is then decoded strictly into its Go
// type (an unknown field is a Problem naming its path) and, with an
// Admission, validated as the apiserver would on create (OpenAPI schema
// and CEL rules of the CRDs), so that what the API refuses is reported by
// convert with the apiserver's own message. The package is pure: no files,
// no cluster.
package convert

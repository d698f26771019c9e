// Package workload holds the workload-quiesce and workload-resume Functions,
// the first and last steps of a workload restore:
//
//	workload-quiesce ─▶ restore each host's volumes ─▶ workload-resume
//
// so that the application never runs on half-restored data and the
// workload's replica count is never lost.
//
// Both take --namespace, --kind (Deployment, StatefulSet or ReplicaSet of
// apps/v1), --name, --session (the RestoreSession, for the log) and
// --timeout. A DaemonSet is refused: it cannot be scaled to zero, so its
// pods cannot be stopped for a restore.
//
// workload-quiesce reads the workload. Without the annotation
// stashflow.dev/restore-replicas (v1alpha1.AnnotationRestoreReplicas) it
// records spec.replicas there (1 when unset, as the API defaults it) and sets
// spec.replicas to 0 in one merge patch that carries the object's
// resourceVersion: the count is never lost between two writes, and a
// concurrent change makes the patch fail with a conflict and be redone from a
// fresh read. With the annotation already there (an earlier restore failed
// after quiescing), the annotation is kept as it is — never overwritten with
// the 0 the workload now has — and spec.replicas is made 0 if it is not.
// Then the step waits, up to --timeout, until no pod of the workload is left
// in the namespace: a pod counts when the workload's spec.selector matches
// it, whoever owns it, and a pod being deleted counts until it is gone (its
// containers may still write to the volume). Pods in phase Succeeded or
// Failed (an evicted pod lingers until garbage-collected) do not count: all
// their containers have ended. On timeout the step fails naming the pods
// still there and the recorded count, and leaves the workload at 0 replicas
// with the annotation, so a later quiesce or resume picks the count up.
//
// workload-resume reads the annotation, sets spec.replicas to the recorded
// count and removes the annotation, again in one patch with the
// resourceVersion. A workload without the annotation is an error and is left
// unchanged: stashflow did not stop it, so it has no count to give back. It
// does not wait for the pods to become ready: that is the workload
// controller's and the kubelet's business (and there is no kubelet in the
// tests); a readiness check belongs to a postRestore hook. A resume retried
// after it succeeded fails the same way, with the workload already running.
//
// Both steps write the output replicas (outputs.Replicas): the count
// recorded, which is the count resumed. A HorizontalPodAutoscaler does not
// undo the quiesce: it leaves a target scaled to zero alone.
//
// Unlike the other Functions these steps call the Kubernetes API. The client
// comes from $KUBECONFIG in the step's environment when set, otherwise the
// in-cluster configuration (the step pod's service account), and uses a
// fixed REST mapping, so it needs no discovery. The run's service account
// needs, in the workload's namespace:
//
//	apiGroup  resources                                   verbs
//	apps      deployments, statefulsets, replicasets      get, patch
//	""        pods                                        list
//
// (docs/install.md lists these next to the exec hooks' rules).
package workload

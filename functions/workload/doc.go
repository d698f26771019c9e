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
// For a StatefulSet, once its pods are gone, quiesce makes sure every
// host's claim exists: a restore into a StatefulSet none of whose pods ever
// ran (a new one) finds no claim to write into, since the StatefulSet
// controller creates a claim only with its pod. For each ordinal below the
// recorded count and each of spec.volumeClaimTemplates, the claim
// <template>-<statefulset>-<ordinal> (the name the restore steps mount)
// is created when it does not exist, the way the StatefulSet controller
// creates it: a copy of the template, in the StatefulSet's namespace, its
// labels the template's plus the StatefulSet's spec.selector.matchLabels,
// its spec (storageClassName, accessModes, resources, ...) and annotations
// the template's. It gets no owner reference — the controller sets none
// under the default persistentVolumeClaimRetentionPolicy (Retain), and
// fixes the owner references of its pods' claims itself under another —
// and one more annotation, stashflow.dev/created-by-restore
// (AnnotationCreatedByRestore), holding --session (empty without it), so
// that it shows who made the claim. A claim that exists is left exactly as
// it is, whatever its labels or spec; one created by someone else between
// the step's read and its create (AlreadyExists) counts as existing. Any
// other failure stops the step with an error naming the claim, its
// template and ordinal, and the StatefulSet, which stays at 0 replicas with
// its count recorded; a retried quiesce creates only what is still
// missing. Ordinals run from 0, as the restore's hosts do
// (spec.ordinals.start is not taken into account). Nothing is created
// when the wait for the pods fails, and nothing for the other kinds.
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
// recorded, which is the count resumed. Quiesce also writes claimsCreated
// (outputs.ClaimsCreated): how many claims it created, 0 for a Deployment
// or ReplicaSet and when every claim existed. A HorizontalPodAutoscaler does not
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
//	""        persistentvolumeclaims                      get, create
//
// (the last rule for a StatefulSet's claims). The chart's
// argo.workflowRBAC Role and config/samples/argo-workflow-rbac.yaml grant
// them; docs/install.md describes them.
package workload

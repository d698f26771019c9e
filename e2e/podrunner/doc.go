// Package podrunner is TEST-ONLY code: it stands in for the kubelet, the
// container runtime and Argo's wait container, so that the real Argo
// workflow-controller can run workflows against a bare kube-apiserver
// (envtest), with no node, no container runtime and no images. Never use it
// outside tests: it runs whatever a pod says, as host processes, with this
// process's rights.
//
// For every pod in its namespace that has not ended (except those annotated
// podrunner.stashflow.dev/ignore=true: workload pods a test stands in for), a Runner:
//
//  1. reads the main container (the one container that is not Argo's "wait"),
//     unwraps Argo's emissary wrapper (`/var/run/argo/argoexec emissary ...
//     -- CMD...`) and appends the container's args, as the runtime would;
//  2. builds the environment as the kubelet does: envFrom, then env in order,
//     each literal value expanded with $(VAR) from what came before;
//     secretKeyRef, configMapKeyRef and fieldRef resolved from the API (a
//     missing non-optional key keeps the pod Pending with
//     CreateContainerConfigError, as the kubelet does); command and args
//     expanded with the whole environment ($$ is a literal $);
//  3. maps volumes to host directories: emptyDir, configMap and secret to a
//     directory of the pod, hostPath to its path; a persistentVolumeClaim
//     (read from the pod's namespace) to the spec.hostPath.path or
//     spec.local.path of the PersistentVolume it is bound to
//     (spec.volumeName), created 0o750 if missing, so that a backup step
//     mounting a workload's claim sees the workload's data; a claim that is
//     unbound, or bound to another kind of volume, to a directory of its own,
//     WorkDir/claims/<claim> (it outlives pods, like a volume). A claim that
//     does not exist, or whose PersistentVolume does not, keeps the pod
//     Pending and unbound, as the scheduler does: condition PodScheduled
//     False, reason Unschedulable, a message naming the claim (Argo shows
//     "Unschedulable: persistentvolumeclaim "x" not found"); the runner
//     looks again every second and never falls back to another directory.
//     There are no mount namespaces, so every mount path (and the output
//     directory, outputs.Dir) is replaced by its host directory
//     wherever it stands as a path in the command, args, literal env values
//     and working directory — the local engine's rule. A mount's readOnly
//     is not enforced: the process can write wherever its user can;
//  4. plays the scheduler for a pod pinned to one node: a pod without
//     spec.nodeName whose required node affinity has a term with matchFields
//     `metadata.name In [node]` (exactly one value, as a DaemonSet's pods
//     carry), or else nodeSelector kubernetes.io/hostname=node, is bound to
//     that node through pods/binding once steps 1-3 succeed and before its
//     process starts, and read back; so spec.nodeName says where the step
//     ran, and a fieldRef spec.nodeName in its env reads that node. The Node
//     object need not exist: every node is this host. Other pods stay
//     unbound, as before;
//  5. starts the process in its own process group (stdout and stderr to
//     <WorkDir>/<pod>-<uid>/main.log), and reports the pod Running through
//     pods/status: init containers terminated 0, main and wait running;
//  6. when it ends, does what Argo's wait container does: reads the
//     template's output parameters (from the pod's ARGO_TEMPLATE, or its
//     offloaded ConfigMap) from their mapped paths, trims one trailing
//     newline, and writes the WorkflowTaskResult named after the node id with
//     report-outputs-completed=true; then reports the pod Succeeded or
//     Failed with the exit code (128+signal when killed), wait terminated 0
//     (1 if a declared output is missing, which Argo turns into Error).
//
// A process's environment starts with Options.BaseEnv, as an image's env
// would: PATH by default; e2e/argoenv adds KUBECONFIG (the apiserver's
// admin), the stand-in for the service-account token a real pod gets, for
// steps that call the API (exec hooks, workload-quiesce, workload-resume).
//
// A process is stopped (SIGTERM to its group, SIGKILL after the grace
// period) when its pod is deleted, when the pod's activeDeadlineSeconds has
// passed since it started (the pod then fails with reason DeadlineExceeded,
// as from the kubelet), and when its Workflow is stopped or terminated
// (spec.shutdown): the controller would exec a kill in the container, which
// needs a kubelet, so the runner watches Workflows and does it.
//
// It also plays the garbage collector for Workflows (gc.go): a Workflow
// deleted with background or foreground propagation takes the pods and
// task results it owns with it; with orphan propagation their owner
// references are removed and they stay.
//
// What this does not test: images (the host's sh, sleep and Options.Commands
// run instead), real mounts and their isolation (readOnly included), users
// and security contexts, resources, scheduling beyond binding a pinned pod,
// probes, and the argoexec binaries.
// docs/e2e.md describes the environment built on it (e2e/argoenv).
package podrunner

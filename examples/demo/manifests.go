package main

// The manifests the demo writes: what a user would write to back up an
// etcd with stashflow on a machine without Kubernetes.

const repositoryYAML = `apiVersion: v1
kind: Secret
metadata:
  name: demo-repository
stringData:
  RESTIC_PASSWORD: demo-only-password
---
apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata:
  name: demo
spec:
  backend:
    storageSecretName: demo-repository
    local:
      mountPath: /stashflow/repository
      hostPath:
        path: {{ .Dir }}/repository
`

const backupYAML = `apiVersion: stashflow.dev/v1alpha1
kind: AppBinding
metadata:
  name: etcd
spec:
  type: etcd
  version: "3.6"
  clientConfig:
    url: {{ .Endpoint }}
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata:
  name: etcd
spec:
  repository:
    name: demo
  schedule: "@every 1h"
  target:
    ref:
      apiVersion: stashflow.dev/v1alpha1
      kind: AppBinding
      name: etcd
  retentionPolicy:
    name: keep-last-5
    keepLast: 5
    prune: true
`

const restoreYAML = `apiVersion: stashflow.dev/v1alpha1
kind: RestoreSession
metadata:
  name: etcd-restore
spec:
  repository:
    name: demo
  task:
    name: etcd-restore
    params:
    - {name: MODE, value: datadir}
    - {name: DATA_DIR, value: {{ .DataDir }}}
    - {name: MEMBER_NAME, value: restored}
    - {name: INITIAL_CLUSTER, value: "restored={{ .Peer }}"}
    - {name: INITIAL_ADVERTISE_PEER_URLS, value: "{{ .Peer }}"}
  target:
    ref:
      apiVersion: stashflow.dev/v1alpha1
      kind: AppBinding
      name: etcd
    rules:
    - snapshots: [latest]
---
apiVersion: stashflow.dev/v1alpha1
kind: AppBinding
metadata:
  name: etcd
spec:
  type: etcd
  clientConfig:
    url: http://127.0.0.1:2379
`

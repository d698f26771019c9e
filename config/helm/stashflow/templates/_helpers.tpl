{{/* The chart's name, or nameOverride. */}}
{{- define "stashflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name: the release name if it contains the chart's name,
else <release>-<chart>. With release "stashflow" the objects are named like
config/default's (stashflow-operator, ...).
*/}}
{{- define "stashflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's Deployment, ClusterRole, bindings. */}}
{{- define "stashflow.operatorName" -}}
{{- printf "%s-operator" (include "stashflow.fullname" .) }}
{{- end }}

{{- define "stashflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "stashflow.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "stashflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stashflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "stashflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "stashflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stashflow
{{- end }}

{{/* The stashflow image: repository@digest, else repository:tag. */}}
{{- define "stashflow.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}
{{- end }}

{{/*
The rules exec hooks need, wherever they run (an Argo step's pod, or the operator with
the local engine): find the target's pod (via its AppBinding's Service, its workload, or
the pods that mount a PVC) and run a command in it. Used by workflow-rbac.yaml
(argo.workflowRBAC.execHooks) and local-exec-hooks-rbac.yaml (localEngine.execHooks), so
the two cannot drift; config/samples/*.yaml carry the same list (packaging/ checks).
An AppBinding is stashflow's or KubeDB's (appcatalog.appscode.com), read as the operator
reads it (internal/appcatalog.Get).
*/}}
{{- define "stashflow.execHookRules" -}}
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [services]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [create]
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets]
  verbs: [get]
- apiGroups: [stashflow.dev]
  resources: [appbindings]
  verbs: [get]
- apiGroups: [appcatalog.appscode.com]
  resources: [appbindings]
  verbs: [get]
{{- end }}

{{/*
The operator's --ui-* flags. Nothing when the UI keeps the binary's default
(127.0.0.1:8090, no token, no TLS), so the default args equal config/manager's.
*/}}
{{- define "stashflow.uiArgs" -}}
{{- if not .Values.ui.enabled }}
- --ui-bind-address=
{{- else }}
{{- if .Values.ui.expose }}
- --ui-bind-address=0.0.0.0:{{ .Values.ui.port }}
{{- else if ne (int .Values.ui.port) 8090 }}
- --ui-bind-address=127.0.0.1:{{ .Values.ui.port }}
{{- end }}
{{- if .Values.ui.tokenSecret }}
- --ui-token-file=/etc/stashflow/ui-token/token
{{- end }}
{{- if .Values.ui.tlsSecret }}
- --ui-tls-cert=/etc/stashflow/ui-tls/tls.crt
- --ui-tls-key=/etc/stashflow/ui-tls/tls.key
{{- end }}
{{- end }}
{{- end }}

{{/* Checks across values that values.schema.json cannot express. */}}
{{- define "stashflow.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas > 1 needs leaderElection.enabled=true: without it every replica would run every session" }}
{{- end }}
{{- if and .Values.argo.workflowRBAC.create (ne .Values.engine "argo") }}
{{- fail "argo.workflowRBAC.create=true is for engine=argo: the local engine runs steps inside the operator" }}
{{- end }}
{{- if and .Values.localEngine.execHooks (ne .Values.engine "local") }}
{{- fail "localEngine.execHooks=true is for engine=local: with engine=argo exec hooks run in the steps' pods (argo.workflowRBAC.execHooks)" }}
{{- end }}
{{- if and .Values.ui.expose (not .Values.ui.enabled) }}
{{- fail "ui.expose=true needs ui.enabled=true" }}
{{- end }}
{{- if and .Values.ui.enabled .Values.ui.expose (not .Values.ui.tokenSecret) }}
{{- fail "ui.expose=true needs ui.tokenSecret: the name of a Secret with key `token` that every UI request must present (kubectl create secret generic NAME --from-literal=token=...)" }}
{{- end }}
{{- if and .Values.ui.enabled (or (eq (int .Values.ui.port) (int .Values.metrics.port)) (eq (int .Values.ui.port) (int .Values.healthProbePort))) }}
{{- fail "ui.port must differ from metrics.port and healthProbePort" }}
{{- end }}
{{- end }}

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

{{/* Checks across values that values.schema.json cannot express. */}}
{{- define "stashflow.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicas > 1 needs leaderElection.enabled=true: without it every replica would run every session" }}
{{- end }}
{{- if and .Values.argo.workflowRBAC.create (ne .Values.engine "argo") }}
{{- fail "argo.workflowRBAC.create=true is for engine=argo: the local engine runs steps inside the operator" }}
{{- end }}
{{- end }}

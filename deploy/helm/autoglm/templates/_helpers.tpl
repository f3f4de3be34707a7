{{- define "autoglm.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "autoglm.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "autoglm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "autoglm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "autoglm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "autoglm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret holding API keys and the Redis password, when the chart makes one. */}}
{{- define "autoglm.secretName" -}}
{{- include "autoglm.fullname" . }}
{{- end }}

{{- define "autoglm.makesSecret" -}}
{{- if or (and .Values.apiKeys.keys (not .Values.apiKeys.existingSecret)) (and .Values.redis.enabled .Values.redis.password (not .Values.redis.existingSecret)) }}true{{ end }}
{{- end }}

{{- define "autoglm.terminationGracePeriodSeconds" -}}
{{- add .Values.shutdown.preStopSleepSeconds (mul 2 .Values.shutdown.timeoutSeconds) .Values.shutdown.marginSeconds }}
{{- end }}

{{/* PromQL label matchers selecting this release's pods (the labels a ServiceMonitor scrape adds). */}}
{{- define "autoglm.promSelector" -}}
namespace="{{ .Release.Namespace }}", service="{{ include "autoglm.fullname" . }}"
{{- end }}

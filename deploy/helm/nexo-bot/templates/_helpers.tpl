{{/* Full name: the release name, or release-chart when they differ. */}}
{{- define "nexo-bot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nexo-bot.serviceAccountName" -}}
{{- default (include "nexo-bot.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "nexo-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nexo-bot.labels" -}}
{{ include "nexo-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Checks that cannot be said in values.schema.json alone. */}}
{{- define "nexo-bot.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (ne .Values.store.backend "redis") -}}
{{- fail (printf "replicaCount %d needs store.backend: redis (bolt is one file that only one replica can open)" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and (eq .Values.store.backend "redis") (not .Values.store.redisUrl) -}}
{{- fail "store.backend redis needs store.redisUrl" -}}
{{- end -}}
{{- if not .Values.existingSecret -}}
{{- fail "existingSecret is required: the name of a Secret holding SLACK_BOT_TOKEN, SLACK_APP_TOKEN, GITHUB_TOKEN, ARGOCD_AUTH_TOKEN (see docs/install.md)" -}}
{{- end -}}
{{- end -}}

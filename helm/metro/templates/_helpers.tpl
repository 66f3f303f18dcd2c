{{/*
Naming, labels, image and guard helpers of the Metro chart.
Components pass their name ("auth", "transcoder") through a dict: (dict "ctx" $ "component" "auth").
*/}}

{{- define "metro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "metro.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "metro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of a component's objects, e.g. metro-auth. */}}
{{- define "metro.componentName" -}}
{{- printf "%s-%s" (include "metro.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "metro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "metro.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{- define "metro.labels" -}}
helm.sh/chart: {{ include "metro.chart" .ctx }}
{{ include "metro.selectorLabels" . }}
app.kubernetes.io/part-of: metro
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{- define "metro.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "metro.configName" -}}
{{- printf "%s-config" (include "metro.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fails rendering when a grace period cannot cover preStop sleep + drain bound. */}}
{{- define "metro.checkGrace" -}}
{{- $grace := int .grace }}
{{- $needed := add (int .preStop) (div (int .boundMs) 1000) }}
{{- if le $grace $needed }}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + %s (%d s)" .component $grace .boundName $needed) }}
{{- end }}
{{- end }}

{{/* The gRPC services, in start order; the gateway reaches each of them (METRO_BACKENDS). */}}
{{- define "metro.grpcComponents" -}}
auth user transport ticket public payment webhook notification report control scheduler management
{{- end }}

{{/* Fails rendering on values this chart no longer reads (moved when more services came). */}}
{{- define "metro.checkMovedValues" -}}
{{- range $old, $new := dict "redis" "redis" "drainTimeoutMs" "grpc.drainTimeoutMs" "defaultTimeoutMs" "grpc.defaultTimeoutMs" }}
{{- if hasKey $.Values.auth $old }}
{{- fail (printf "auth.%s moved to %s (shared by every gRPC service)" $old $new) }}
{{- end }}
{{- end }}
{{- if hasKey $.Values.scheduler "reportGrpcPort" }}
{{- fail "scheduler.reportGrpcPort moved to report.grpcPort (the report service is part of the chart)" }}
{{- end }}
{{- end }}

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
{{- range $old := list "paymentEgress" "notificationEgress" "reportEgress" "controlEgress" "schedulerEgress" }}
{{- if hasKey $.Values.networkPolicy $old }}
{{- fail (printf "networkPolicy.%s moved to networkPolicy.egress (chart 0.9.0: every component's egress is limited; postgresPort, httpsTo, smtpPorts, mailTo (was notificationEgress.to) and smtpRelayPeers are set there once)" $old) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Who calls whom over gRPC (METRO_BACKENDS of the gateway, the services' METRO_*_GRPC, and
     metro-management's health checks of every gRPC pod): the NetworkPolicies open exactly
     these paths, as ingress at the callee and egress at the caller. */}}
{{- define "metro.calls" -}}
{{- $all := include "metro.grpcComponents" . | splitList " " -}}
transcoder: {{ toJson $all }}
management: {{ toJson $all }}
public: [transport, ticket]
ticket: [transport, user, auth]
webhook: [payment]
notification: [user, transport, ticket]
report: [transport]
control: [transport]
scheduler: [ticket, payment, control, public, report]
{{- end }}

{{/* The Deployment's replicas line, left out when a HorizontalPodAutoscaler owns the count;
     fails when the PodDisruptionBudget could never let a pod go (replicas, or the HPA's
     minReplicas, not above pdb.minAvailable). Arguments: dict "v" (.Values.<component>),
     "component". */}}
{{- define "metro.replicas" -}}
{{- $v := .v -}}
{{- $hpa := $v.hpa | default dict -}}
{{- $floor := ternary ($hpa.minReplicas | default 1) $v.replicas (eq (toString $hpa.enabled) "true") | int -}}
{{- if and $v.pdb.enabled (not (kindIs "string" $v.pdb.minAvailable)) (le $floor (int $v.pdb.minAvailable)) }}
{{- fail (printf "%s: %s (%d) must exceed pdb.minAvailable (%d), or no pod may ever be evicted (node drains hang); lower pdb.minAvailable or disable the pdb" .component (ternary "hpa.minReplicas" "replicas" (eq (toString $hpa.enabled) "true")) $floor (int $v.pdb.minAvailable)) }}
{{- end }}
{{- if ne (toString $hpa.enabled) "true" }}
replicas: {{ $v.replicas }}
{{- end }}
{{- end }}

{{/* A HorizontalPodAutoscaler (autoscaling/v2, CPU utilisation against the requests) for a
     component whose hpa.enabled is true. Arguments: dict "ctx", "component". */}}
{{- define "metro.hpa" -}}
{{- $ := .ctx -}}
{{- $c := .component -}}
{{- $v := index $.Values $c -}}
{{- if and $v.hpa (eq (toString $v.hpa.enabled) "true") }}
{{- if not (and $v.resources $v.resources.requests $v.resources.requests.cpu) }}
{{- fail (printf "%s.hpa needs %s.resources.requests.cpu: utilisation is measured against it" $c $c) }}
{{- end }}
{{- if gt (int $v.hpa.minReplicas) (int $v.hpa.maxReplicas) }}
{{- fail (printf "%s.hpa.minReplicas (%d) must not exceed maxReplicas (%d)" $c (int $v.hpa.minReplicas) (int $v.hpa.maxReplicas)) }}
{{- end }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "metro.componentName" (dict "ctx" $ "component" $c) }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "metro.labels" (dict "ctx" $ "component" $c) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "metro.componentName" (dict "ctx" $ "component" $c) }}
  minReplicas: {{ $v.hpa.minReplicas }}
  maxReplicas: {{ $v.hpa.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.hpa.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      # Five quiet minutes before removing pods, one at a time: a pod leaving drains its calls.
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end }}
{{- end }}

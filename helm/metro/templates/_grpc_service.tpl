{{/*
The Deployment, headless Service (ports "grpc" and "metrics"), PodDisruptionBudget and, with
hpa.enabled, HorizontalPodAutoscaler of one gRPC service (auth, user, transport, ticket, public,
payment, webhook, notification, report, control, scheduler, management), from
.Values.<component>. Arguments (dict):
  ctx              the root context ($)
  component        "auth", "user", ...; the binary is /usr/local/bin/metro-<component> and
                   METRO_PG_URL comes from the Secret key <component>-pg-url
  signingKey       a signing key to mount read-only from the Secret (mode 0440): dict
                   "volume" (volume name), "key" (Secret key, also the file name) and "dir"
                   (mount directory); auth: jwt-ed25519.pem on /etc/metro/jwt, ticket:
                   qr-ed25519.pem on /etc/metro/qr (the ConfigMap's *_KEY_FILE point there)
  optionalSecrets  more env vars from optional Secret keys (dict VAR key), besides
                   METRO_REDIS_PASSWORD from redis-password; payment and webhook: the
                   providers' secrets (vnpay-hash-secret, paypal-client-secret, sepay-api-key);
                   notification: smtp-password, sms-api-key
Settings whose value differs per service (listen address, metrics port, schema, workers) are
set here; the shared ones come from the ConfigMap.
*/}}
{{- define "metro.grpcService" -}}
{{- $ := .ctx -}}
{{- $c := .component -}}
{{- $v := index $.Values $c -}}
{{- $name := include "metro.componentName" (dict "ctx" $ "component" $c) -}}
{{- include "metro.checkGrace" (dict "component" $c "grace" $v.terminationGracePeriodSeconds "preStop" $.Values.preStopSleepSeconds "boundMs" $.Values.grpc.drainTimeoutMs "boundName" "grpc.drainTimeoutMs") -}}
{{- if lt (int $v.workers) 1 }}
{{- fail (printf "%s.workers must be >= 1: 0 means 2 x the node's cores, which the memory limit cannot hold" $c) }}
{{- end }}
{{- $key := get . "signingKey" -}}
{{- $secrets := merge (dict "METRO_REDIS_PASSWORD" "redis-password") (default (dict) .optionalSecrets) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "metro.labels" (dict "ctx" $ "component" $c) | nindent 4 }}
spec:
  {{- include "metro.replicas" (dict "v" $v "component" $c) | nindent 2 }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  selector:
    matchLabels:
      {{- include "metro.selectorLabels" (dict "ctx" $ "component" $c) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "metro.labels" (dict "ctx" $ "component" $c) | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum }}
        {{- if $.Values.prometheusAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $v.metricsPort | int | quote }}
        prometheus.io/path: "/metrics"
        {{- end }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- with $.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $.Values.podSecurityContext | nindent 8 }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "metro.selectorLabels" (dict "ctx" $ "component" $c) | nindent 14 }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $c }}
          image: {{ include "metro.image" $ | quote }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          command: [{{ printf "/usr/local/bin/metro-%s" $c | quote }}]
          ports:
            - name: grpc
              containerPort: {{ $v.grpcPort }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $v.metricsPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "metro.configName" $ }}
          env:
            - name: METRO_GRPC_ADDR
              value: {{ printf "0.0.0.0:%d" (int $v.grpcPort) | quote }}
            - name: METRO_METRICS_PORT
              value: {{ $v.metricsPort | int | quote }}
            - name: METRO_PG_SCHEMA
              value: {{ $v.pgSchema | quote }}
            - name: METRO_WORKERS
              value: {{ $v.workers | int | quote }}
            - name: METRO_PG_URL
              valueFrom:
                secretKeyRef:
                  name: {{ $.Values.existingSecret }}
                  key: {{ printf "%s-pg-url" $c }}
            - name: METRO_IDENTITY_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ $.Values.existingSecret }}
                  key: identity-secret
            {{- range $var, $key := $secrets }}
            - name: {{ $var }}
              valueFrom:
                secretKeyRef:
                  name: {{ $.Values.existingSecret }}
                  key: {{ $key }}
                  optional: true
            {{- end }}
            {{- range $k, $val := $v.extraEnv }}
            - name: {{ $k }}
              value: {{ $val | toString | quote }}
            {{- end }}
          volumeMounts:
            {{- if $key }}
            - name: {{ $key.volume }}
              mountPath: {{ $key.dir }}
              readOnly: true
            {{- end }}
            - name: tmp
              mountPath: /tmp
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # Native gRPC probes (grpc.health.v1.Health/Check); the server answers only after
          # its migrations (and, for auth and ticket, key loading), hence the startup probe.
          startupProbe:
            grpc:
              port: {{ $v.grpcPort }}
            periodSeconds: 2
            timeoutSeconds: 2
            failureThreshold: {{ $v.startupFailureThreshold }}
          readinessProbe:
            grpc:
              port: {{ $v.grpcPort }}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          livenessProbe:
            grpc:
              port: {{ $v.grpcPort }}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          lifecycle:
            preStop:
              exec:
                command: ["/bin/sleep", {{ $.Values.preStopSleepSeconds | int | quote }}]
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $.Values.containerSecurityContext | nindent 12 }}
      volumes:
        {{- if $key }}
        - name: {{ $key.volume }}
          secret:
            secretName: {{ $.Values.existingSecret }}
            defaultMode: 0440
            items:
              - key: {{ $key.key }}
                path: {{ $key.key }}
        {{- end }}
        - name: tmp
          emptyDir:
            sizeLimit: 16Mi
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "metro.labels" (dict "ctx" $ "component" $c) | nindent 4 }}
spec:
  # Headless: DNS answers with every ready pod, and gRPC callers (round_robin) spread their
  # calls over all of them instead of pinning one connection to one pod behind a virtual IP.
  clusterIP: None
  selector:
    {{- include "metro.selectorLabels" (dict "ctx" $ "component" $c) | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $v.grpcPort }}
      targetPort: grpc
      protocol: TCP
    - name: metrics
      port: {{ $v.metricsPort }}
      targetPort: metrics
      protocol: TCP
{{- if $v.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "metro.labels" (dict "ctx" $ "component" $c) | nindent 4 }}
spec:
  minAvailable: {{ $v.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "metro.selectorLabels" (dict "ctx" $ "component" $c) | nindent 6 }}
{{- end }}
{{- include "metro.hpa" (dict "ctx" $ "component" $c) }}
{{- end }}

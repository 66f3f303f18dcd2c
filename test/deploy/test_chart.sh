#!/usr/bin/env bash
# The deployment check of make test, offline (no cluster, no network): helm lint --strict and
# helm template of helm/metro with its default, production and dev values, and k8s/ (kubectl
# kustomize when there is a kubectl, else its files), all through kubeconform -strict against
# the schemas shipped in test/k8s-schemas; the gateway and the twelve services in each; the
# chart and k8s/ holding the same objects; the chart's guards; every top-level value documented.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
chart=$src/helm/metro
schemas=$src/test/k8s-schemas/v1.30.14
tools=$(bash "$src/scripts/tools.sh")
helm=$tools/helm
kubeconform=$tools/kubeconform
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Helm keeps no state of its own here: no repositories, no cache, no plugins are read.
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data

components="auth user transport ticket public payment webhook notification report control scheduler management transcoder"
passed=0
check() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# validate NAME: kubeconform -strict over $work/NAME.yaml, the verdict per object in NAME.objects
# ("Kind name" lines, sorted).
validate() {
  "$kubeconform" -strict -summary -verbose -output text \
    -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$work/$1.yaml" >"$work/$1.kubeconform" 2>&1 ||
    { cat "$work/$1.kubeconform" >&2; fail "$1: kubeconform -strict"; }
  sed -n 's/^.* - \([A-Za-z]*\) \([^ ]*\) is valid$/\1 \2/p' "$work/$1.kubeconform" | sort >"$work/$1.objects"
  local summary
  summary=$(tail -n 1 "$work/$1.kubeconform")
  [ "$(wc -l <"$work/$1.objects")" -gt 0 ] || fail "$1: no object validated ($summary)"
  grep -q "Invalid: 0, Errors: 0, Skipped: 0" <<<"$summary" || fail "$1: $summary"
  check "$1: $summary"
}

# deployments NAME EXTRA...: every component (and EXTRA) has its Deployment, and nothing else does.
deployments() {
  local name=$1 want c
  shift
  want=$(for c in $components "$@"; do echo "Deployment metro-$c"; done | sort)
  diff <(echo "$want") <(grep '^Deployment ' "$work/$name.objects") >&2 ||
    fail "$name: the Deployments are not the gateway and the twelve services${*:+ and $*}"
  check "$name: $(echo "$want" | wc -l) Deployments (the gateway, the twelve services${*:+, $*})"
}

# The chart with each values file: lint, render, validate.
render() {
  local name=$1
  shift
  "$helm" lint --strict "$chart" "$@" >"$work/$name.lint" 2>&1 || { cat "$work/$name.lint" >&2; fail "$name: helm lint --strict"; }
  check "$name: helm lint --strict"
  "$helm" template metro "$chart" --namespace metro "$@" >"$work/$name.yaml" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; fail "$name: helm template"; }
  validate "$name"
}
render chart-default
deployments chart-default
[ "$(grep -c '^HorizontalPodAutoscaler ' "$work/chart-default.objects")" -eq 8 ] ||
  fail "chart-default: expected 8 HorizontalPodAutoscalers (the gateway and the request-path services)"
check "chart-default: 8 HorizontalPodAutoscalers, $(grep -c '^PodDisruptionBudget ' "$work/chart-default.objects") PodDisruptionBudgets"
grep -qx "NetworkPolicy metro-default-deny" "$work/chart-default.objects" || fail "chart-default: no default-deny NetworkPolicy"
check "chart-default: default-deny NetworkPolicy"
render chart-production -f "$chart/values-production.yaml"
deployments chart-production
grep -qx "ServiceMonitor metro" "$work/chart-production.objects" || fail "chart-production: no ServiceMonitor"
render chart-dev -f "$chart/values-dev.yaml"
deployments chart-dev postgres redis
render chart-podmonitor --set metrics.podMonitor.enabled=true --set ingress.enabled=true
grep -qx "PodMonitor metro" "$work/chart-podmonitor.objects" || fail "chart-podmonitor: no PodMonitor"

# The dev profile's provisioning files are copies of k8s/'s and sql/events/ (Helm reads nothing
# outside the chart).
for f in provision-db.sql provision-db-events.sql; do
  cmp -s "$src/k8s/$f" "$chart/files/$f" || fail "helm/metro/files/$f differs from k8s/$f (copy it again)"
done
diff -r "$src/sql/events" "$chart/files/events" >&2 || fail "helm/metro/files/events differs from sql/events (copy it again)"
check "helm/metro/files/ equals k8s/provision-db*.sql and sql/events/"

# No secret in any rendering: every credential is a secretKeyRef (or a Secret volume), never
# an env value or a ConfigMap entry.
secret='[A-Z_]*(SECRET|PASSWORD|API_KEY|PG_URL)'
for name in chart-default chart-production chart-dev; do
  if grep -nE "^ *- name: $secret\$" -A1 "$work/$name.yaml" | grep -E '^[0-9]+- +value:' ||
    grep -nE "^  $secret: " "$work/$name.yaml"; then
    fail "$name: a secret setting with a literal value"
  fi
done
check "no literal secret in the renderings (secretKeyRef only)"

# The chart's guards: settings that cannot work are refused at rendering.
refuse() {
  local why=$1
  shift
  if "$helm" template metro "$chart" "$@" >/dev/null 2>"$work/refuse.err"; then fail "helm template $* was accepted ($why)"; fi
  grep -q "Error:" "$work/refuse.err" || { cat "$work/refuse.err" >&2; fail "helm template $*: no error message"; }
  check "refused: $why"
}
refuse "a PDB that no pod can ever satisfy" --set notification.replicas=1
refuse "an HPA floor at the PDB's minAvailable" --set auth.hpa.minReplicas=1
refuse "a ServiceMonitor and a PodMonitor together" --set metrics.serviceMonitor.enabled=true --set metrics.podMonitor.enabled=true
refuse "the gateway's metrics on its public port" --set transcoder.metricsPort=8080
refuse "a pre-0.9.0 egress key" --set networkPolicy.paymentEgress.enabled=false

# k8s/: the kustomization when kubectl can build it, else its files as they are; the templates
# it leaves out (the Secret's, the optional ServiceMonitor) on their own.
resources=$(sed -n '/^resources:/,/^[a-z]/s/^  - \(.*\.yaml\)$/\1/p' "$src/k8s/kustomization.yaml")
[ -n "$resources" ] || fail "k8s/kustomization.yaml lists no resources"
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize "$src/k8s" >"$work/k8s.yaml" 2>"$work/k8s.err" || { cat "$work/k8s.err" >&2; fail "kubectl kustomize k8s"; }
  check "kubectl kustomize k8s"
else
  for f in $resources; do
    cat "$src/k8s/$f"
    echo "---"
  done >"$work/k8s.yaml"
  echo "# kubectl not found: k8s/*.yaml checked as files, without kustomize"
fi
validate k8s
deployments k8s
listed=" kustomization.yaml $(echo $resources) "
for f in "$src"/k8s/*.yaml; do
  case $listed in *" $(basename "$f") "*) continue ;; esac
  cp "$f" "$work/k8s-$(basename "$f")"
  validate "k8s-$(basename "$f" .yaml)"
done

# The two ways hold the same objects: the chart as release "metro" with the ingress on, and
# k8s/ less its Namespace.
"$helm" template metro "$chart" --namespace metro --set ingress.enabled=true >"$work/chart-k8s.yaml" 2>/dev/null
validate chart-k8s
diff <(grep -v '^Namespace ' "$work/k8s.objects") "$work/chart-k8s.objects" >&2 ||
  fail "k8s/ and the chart (< k8s, > chart) differ in their objects"
check "k8s/ and the chart hold the same $(wc -l <"$work/chart-k8s.objects") objects"

# The schemas are strict and really read: an unknown field and a wrong type are refused.
cat >"$work/wrong.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: wrong
spec:
  selector: {matchLabels: {app: wrong}}
  template:
    metadata: {labels: {app: wrong}}
    spec:
      containers:
        - name: wrong
          image: wrong
          ports: [{containerPort: "8080"}]
          livenessProbe: {grpc: {port: 1}, periodSecond: 5}
YAML
if "$kubeconform" -strict -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$work/wrong.yaml" >"$work/wrong.out" 2>&1 ||
  ! grep -q "periodSecond" "$work/wrong.out" || ! grep -q "got string, want integer" "$work/wrong.out"; then
  cat "$work/wrong.out" >&2
  fail "kubeconform accepted an unknown field or a wrong type"
fi
check "the offline schemas refuse an unknown field and a wrong type"

# Every top-level value is in the README's table.
for key in $(sed -n 's/^\([a-zA-Z][a-zA-Z0-9]*\):.*/\1/p' "$chart/values.yaml"); do
  grep -q "^| [^|]*\`$key[\`.]" "$chart/README.md" || fail "helm/metro/README.md: no row for \`$key\`"
done
check "every top-level value of values.yaml has a row in helm/metro/README.md"

echo "$passed passed, 0 failed"

#!/usr/bin/env python3
# Writes the strict JSON schemas kubeconform checks the chart and k8s/ against, offline, for
# exactly the kinds they use: Kubernetes' own from its OpenAPI document, the Prometheus
# operator's CRDs from their JSON; both taken from Go modules (README.md beside this file).
"""Regenerates test/k8s-schemas/<version>/ (python3 test/k8s-schemas/generate.py).

The Go module proxy serves k8s.io/kubernetes (api/openapi-spec/swagger.json) and
github.com/prometheus-operator/prometheus-operator (jsonnet/prometheus-operator/*-crd.json);
`go mod download` puts them in the project's .cache/go, as scripts/tools.sh does for its tools.

Output, for kubeconform -schema-location '<dir>/{{ .ResourceKind }}{{ .KindSuffix }}.json':
  _definitions.json        the Kubernetes definitions the kinds below reach, nothing else
  <kind>-<group>-<ver>.json one file per kind: a $ref into _definitions.json, or the CRD's
                           schema with metadata as Kubernetes' ObjectMeta
Every object that lists its properties refuses others (additionalProperties: false, what
kubeconform's -strict schemas do); IntOrString and Quantity take a number or a string, as the
API server does; descriptions are left out (the files stay small).
"""
import json
import os
import subprocess
import sys

KUBERNETES = "v1.30.14"
PROMETHEUS_OPERATOR = "v0.85.0"

# (apiVersion, kind): what helm/metro renders with any of its values files and what k8s/ holds.
KINDS = [
    ("v1", "ConfigMap"),
    ("v1", "Namespace"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
]
CRDS = [
    ("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors-crd.json"),
    ("monitoring.coreos.com/v1", "PodMonitor", "podmonitors-crd.json"),
]

INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
NUMBER_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "number"}]}
# Keywords kept from the source schemas; the rest (descriptions, x-kubernetes-*) is dropped.
KEEP = {"type", "properties", "items", "additionalProperties", "required", "enum", "format",
        "$ref", "oneOf", "anyOf", "allOf", "minimum", "maximum", "minLength", "maxLength",
        "pattern", "minItems", "maxItems"}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def module_dir(module, version):
    """Downloads module@version into .cache/go (if not there yet) and returns its directory."""
    cache = os.path.join(ROOT, ".cache")
    env = dict(os.environ, GOPATH=os.path.join(cache, "go"), GOMODCACHE=os.path.join(cache, "go", "pkg", "mod"),
               GOFLAGS="-modcacherw", GOTOOLCHAIN="local")
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"], env=env, cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    if info.get("Error"):
        sys.exit(f"generate.py: {module}@{version}: {info['Error']}")
    return info["Dir"]


def file_name(api_version, kind):
    """kubeconform's name for a kind: <kind>-<first label of the group>-<version>.json."""
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def clean(schema):
    """A copy of schema without descriptions and extensions, strict, with int-or-string spelled out."""
    if isinstance(schema, list):
        return [clean(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string":
        return dict(INT_OR_STRING)
    out = {}
    for key, value in schema.items():
        if key not in KEEP:
            continue
        if key == "properties":
            out[key] = {name: clean(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "oneOf", "anyOf", "allOf"):
            out[key] = clean(value)
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" not in out and not schema.get(
            "x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def reachable(definitions, names):
    """The names of the definitions that names refer to, directly or not (names included)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        stack = [definitions[name]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/definitions/"):
                    todo.append(ref[len("#/definitions/"):])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return seen


def write(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    k8s = module_dir("k8s.io/kubernetes", KUBERNETES)
    with open(os.path.join(k8s, "api", "openapi-spec", "swagger.json"), encoding="utf-8") as f:
        definitions = json.load(f)["definitions"]
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = dict(INT_OR_STRING)
    definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = dict(NUMBER_OR_STRING)

    by_gvk = {}
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            by_gvk[(api_version, gvk["kind"])] = name
    missing = [f"{a} {k}" for a, k in KINDS if (a, k) not in by_gvk]
    if missing:
        sys.exit(f"generate.py: not in Kubernetes {KUBERNETES}: {', '.join(missing)}")

    object_meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    roots = [by_gvk[k] for k in KINDS] + [object_meta]
    used = reachable(definitions, roots)

    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), KUBERNETES)
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".json"):
            os.remove(os.path.join(out_dir, old))
    write(os.path.join(out_dir, "_definitions.json"),
          {"definitions": {name: clean(definitions[name]) for name in sorted(used)}})

    for api_version, kind in KINDS:
        write(os.path.join(out_dir, file_name(api_version, kind)), {
            "allOf": [{"$ref": f"_definitions.json#/definitions/{by_gvk[(api_version, kind)]}"}],
            "properties": {"apiVersion": {"enum": [api_version]}, "kind": {"enum": [kind]}},
            "required": ["apiVersion", "kind", "metadata"],
        })

    operator = module_dir("github.com/prometheus-operator/prometheus-operator", PROMETHEUS_OPERATOR)
    for api_version, kind, crd_file in CRDS:
        with open(os.path.join(operator, "jsonnet", "prometheus-operator", crd_file), encoding="utf-8") as f:
            crd = json.load(f)
        group, version = api_version.split("/")
        if crd["spec"]["group"] != group or crd["spec"]["names"]["kind"] != kind:
            sys.exit(f"generate.py: {crd_file} is not {api_version} {kind}")
        served = [v for v in crd["spec"]["versions"] if v["name"] == version]
        if not served:
            sys.exit(f"generate.py: {crd_file} has no version {version}")
        schema = clean(served[0]["schema"]["openAPIV3Schema"])
        schema["properties"]["metadata"] = {"$ref": f"_definitions.json#/definitions/{object_meta}"}
        schema["properties"]["apiVersion"] = {"enum": [api_version]}
        schema["properties"]["kind"] = {"enum": [kind]}
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
        write(os.path.join(out_dir, file_name(api_version, kind)), schema)

    print(f"generate.py: {len(KINDS) + len(CRDS)} kinds, {len(used)} definitions in {out_dir}")


if __name__ == "__main__":
    main()

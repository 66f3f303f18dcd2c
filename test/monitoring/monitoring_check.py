#!/usr/bin/env python3
"""Checks of monitoring/ for test_monitoring.sh.

  static SOURCE_DIR [LOG_FILE]
      Every alert has a promtool test that fires it and one that does not; the Grafana
      dashboards are plain JSON models whose every query uses the Prometheus datasource
      variable; promtail.yml parses the JSON fields common/log.c writes (as a real log line of
      the stack, when given, has them), with service and level as labels and the request and
      trace ids as structured metadata.
  names SOURCE_DIR PROMETHEUS_URL
      Every metric named by a rule Prometheus loaded, a dashboard query or a dashboard
      variable is exposed by the processes Prometheus scrapes (a series, or a family a process
      declares with # TYPE and has not used yet) or recorded by a rule; and every label a
      selector matches on or groups by is one of that metric's labels, when it has series.
  value PROMETHEUS_URL PROMQL                 the first sample's value (0 when there is none)
  alert PROMETHEUS_URL NAME [LABEL=VALUE...]  the state of the alert NAME with those labels
  unhealthy PROMETHEUS_URL [targets|rules]    targets not up, rules failing to evaluate
"""
import glob
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

try:
    import yaml
except ImportError:  # PyYAML is optional: the rules are read by promtool anyway
    yaml = None

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr)


def dashboards(src):
    return sorted(glob.glob(os.path.join(src, "monitoring/grafana/dashboards/*.json")))


def panels_of(board):
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])  # a collapsed row keeps its panels inside


# ---- static ----

def check_dashboards(src):
    uids = {}
    files = dashboards(src)
    if len(files) < 3:
        fail(f"expected the overview, business and events dashboards, found {files}")
    for path in files:
        name = os.path.basename(path)
        try:
            with open(path) as f:
                board = json.load(f)
        except ValueError as e:
            fail(f"{name}: not JSON: {e}")
            continue
        for key in ("uid", "title", "panels", "templating", "schemaVersion"):
            if key not in board:
                fail(f"{name}: no {key}")
        if board.get("uid") in uids:
            fail(f"{name}: uid {board['uid']} also used by {uids[board['uid']]}")
        uids[board.get("uid")] = name
        variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
        ds = variables.get("datasource")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            fail(f"{name}: no Prometheus datasource variable named datasource")
        ids = set()
        queries = 0
        for p in panels_of(board):
            if p.get("id") in ids:
                fail(f"{name}: panel id {p.get('id')} used twice")
            ids.add(p.get("id"))
            if p.get("type") == "row":
                continue
            title = p.get("title", "?")
            if not isinstance(p.get("gridPos"), dict):
                fail(f"{name}: panel {title!r} has no gridPos")
            if (p.get("datasource") or {}).get("uid") != "${datasource}":
                fail(f"{name}: panel {title!r} does not use the datasource variable")
            if not p.get("targets"):
                fail(f"{name}: panel {title!r} has no query")
            for t in p.get("targets", []):
                queries += 1
                if not t.get("expr", "").strip():
                    fail(f"{name}: panel {title!r} has an empty query")
                if (t.get("datasource") or {}).get("uid") not in (None, "${datasource}"):
                    fail(f"{name}: panel {title!r} has a query on a fixed datasource")
        print(f"ok - {name}: {queries} queries, every panel on the datasource variable")


def log_fields(src):
    """The JSON fields common/log.c writes: "time" and "msg" by hand, the rest through buf_json_field."""
    with open(os.path.join(src, "common/log.c")) as f:
        code = f.read()
    fields = set(re.findall(r'buf_json_field\(&b, "(\w+)"', code))
    fields |= set(re.findall(r'\\"(time|msg)\\":', code))
    return fields


def check_promtail(src, log_file):
    path = os.path.join(src, "monitoring/loki/promtail.yml")
    with open(path) as f:
        text = f.read()
    fields = log_fields(src)
    for must in ("time", "level", "service", "requestId", "traceId", "msg"):
        if must not in fields:
            fail(f"common/log.c no longer writes {must}: update promtail.yml and this check")
    if yaml is None:
        # Without PyYAML: the stages and the field names, by their lines.
        for needle in ("- cri:", "- json:", "- labels:", "- structured_metadata:", "- timestamp:",
                       "request_id: requestId", "trace_id: traceId", "level: level", "service: service"):
            if needle not in text:
                fail(f"promtail.yml: no {needle!r}")
        print("ok - promtail.yml (PyYAML absent: checked line by line)")
    else:
        cfg = yaml.safe_load(text)
        for key in ("server", "positions", "clients", "scrape_configs"):
            if key not in cfg:
                fail(f"promtail.yml: no {key}")
        if not all(c.get("url") for c in cfg.get("clients", [])):
            fail("promtail.yml: a client without url")
        jobs = cfg.get("scrape_configs", [])
        if not jobs:
            fail("promtail.yml: no scrape config")
        for job in jobs:
            stages = {}
            for s in job.get("pipeline_stages", []):
                stages.update(s)
            if not job.get("kubernetes_sd_configs") and not job.get("static_configs"):
                fail(f"promtail.yml {job.get('job_name')}: no targets")
            if not any(r.get("target_label") == "__path__" for r in job.get("relabel_configs", [])):
                fail(f"promtail.yml {job.get('job_name')}: no __path__ (which files to read)")
            expressions = (stages.get("json") or {}).get("expressions") or {}
            for source in expressions.values():
                if source not in fields:
                    fail(f"promtail.yml: the json stage reads {source!r}, which common/log.c does not write")
            extracted = dict(expressions)
            labels = set((stages.get("labels") or {}).keys())
            if labels != {"service", "level"}:
                fail(f"promtail.yml: labels are {sorted(labels)}, expected service and level (few values)")
            meta = set((stages.get("structured_metadata") or {}).keys())
            for want, source in (("request_id", "requestId"), ("trace_id", "traceId")):
                if extracted.get(want) != source or want not in meta:
                    fail(f"promtail.yml: {want} (from {source}) is not structured metadata")
                if want in labels:
                    fail(f"promtail.yml: {want} is a label (a stream per request)")
            ts = stages.get("timestamp") or {}
            if extracted.get(ts.get("source")) != "time":
                fail("promtail.yml: the timestamp does not come from the log's time field")
        print(f"ok - promtail.yml: {len(jobs)} scrape config(s), labels service and level, ids as structured metadata")
    if log_file:
        # A line the stack really wrote has the fields the pipeline reads, and a time that
        # RFC3339Nano takes (fractional seconds, Z).
        with open(log_file, errors="replace") as f:
            lines = [json.loads(line) for line in f if line.startswith("{")][:200]
        if not lines:
            fail(f"no JSON line in {log_file}")
        for rec in lines:
            missing = {"time", "level", "service", "msg"} - rec.keys()
            if missing:
                fail(f"{log_file}: a line without {sorted(missing)}: {rec}")
                break
            if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", rec["time"]):
                fail(f"{log_file}: time {rec['time']!r} is not RFC 3339")
                break
            if rec["level"] not in ("debug", "info", "warn", "error"):
                fail(f"{log_file}: level {rec['level']!r}")
                break
        print(f"ok - {len(lines)} lines of {os.path.basename(log_file)} carry the fields the pipeline parses")


def check_alert_tests(src):
    """Every alert of the rules has a promtool test expecting it firing and one expecting it silent."""
    if yaml is None:
        print("skip - alerts' tests (PyYAML absent; promtool still ran them)")
        return
    alerts = set()
    for path in glob.glob(os.path.join(src, "monitoring/prometheus/rules/*.yml")):
        with open(path) as f:
            for g in yaml.safe_load(f)["groups"]:
                alerts |= {r["alert"] for r in g["rules"] if "alert" in r}
    fired, spared = set(), set()
    for path in glob.glob(os.path.join(src, "monitoring/prometheus/tests/*.yml")):
        with open(path) as f:
            for group in yaml.safe_load(f)["tests"]:
                for case in group.get("alert_rule_test", []):
                    (fired if case.get("exp_alerts") else spared).add(case["alertname"])
    for alert in sorted(alerts):
        if alert not in fired:
            fail(f"no test expects {alert} to fire")
        if alert not in spared:
            fail(f"no test expects {alert} to stay silent")
    for alert in sorted((fired | spared) - alerts):
        fail(f"a test names {alert}, which no rule defines")
    print(f"ok - each of the {len(alerts)} alerts is tested firing and silent")


# ---- names ----

GRAFANA_DURATIONS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
                     "__interval_ms": "60000", "__range_ms": "3600000"}


def grafana_expand(expr):
    """Grafana's variables replaced by values PromQL parses: durations, else a regex that matches all."""
    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return GRAFANA_DURATIONS.get(name, ".*")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", sub, expr)


def queries(src, prom):
    """(where, PromQL) for every rule Prometheus loaded, dashboard query and dashboard variable;
    and the names the recording rules record."""
    out = []
    recorded = set()
    for g in prom.get("/api/v1/rules")["groups"]:
        where = os.path.basename(g.get("file", "?"))
        for r in g["rules"]:
            if r["type"] == "recording":
                recorded.add(r["name"])
            out.append((f"{where}: {r['name']}", r["query"]))
    if not out:
        fail("Prometheus loaded no rule")
    for path in dashboards(src):
        name = os.path.basename(path)
        with open(path) as f:
            board = json.load(f)
        for p in panels_of(board):
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f"{name}: panel {p.get('title')!r}", grafana_expand(t["expr"])))
        for v in board.get("templating", {}).get("list", []):
            if v.get("type") != "query":
                continue
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else q or ""
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", q)
            if m and m.group(1).strip():
                out.append((f"{name}: variable {v.get('name')}", grafana_expand(m.group(1))))
    return out, recorded


class Prom:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]

    def post(self, path, **params):
        data = urllib.parse.urlencode(params).encode()
        try:
            with urllib.request.urlopen(f"{self.url}{path}", data=data, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        return body


def selectors(node, grouping_out=None):
    """(name, [label names matched]) of every vector and range selector in a parse_query AST;
    grouping_out collects (by-labels, names of the selectors under that aggregation)."""
    found = []
    if isinstance(node, dict):
        if node.get("type") in ("vectorSelector", "matrixSelector"):
            labels = [m["name"] for m in node.get("matchers") or []]
            name = node.get("name") or next((m["value"] for m in node.get("matchers") or []
                                             if m["name"] == "__name__" and m["type"] == "="), "")
            found.append((name, [label for label in labels if label != "__name__"]))
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                found += selectors(value, grouping_out)
        if node.get("type") == "aggregation" and not node.get("without") and grouping_out is not None:
            grouping_out.append((node.get("grouping") or [], [n for n, _ in selectors(node.get("expr"))]))
    elif isinstance(node, list):
        for item in node:
            found += selectors(item, grouping_out)
    return found


def check_names(src, url):
    prom = Prom(url)
    exposed = set(prom.get("/api/v1/label/__name__/values"))
    with_series = set(exposed)
    metadata = prom.get("/api/v1/metadata")
    for family, entries in metadata.items():
        kinds = {e.get("type") for e in entries}
        exposed.add(family)
        if "histogram" in kinds:
            exposed |= {family + "_bucket", family + "_sum", family + "_count"}
        if "summary" in kinds:
            exposed |= {family + "_sum", family + "_count"}
    # Label names per metric from the targets' own exposition: a label whose every value is
    # still "" (reason="" on accepted taps) is no label to Prometheus's API, yet it is exposed.
    scraped = {}
    for target in prom.get("/api/v1/targets")["activeTargets"]:
        try:
            with urllib.request.urlopen(target["scrapeUrl"], timeout=10) as r:
                text = r.read().decode("utf-8", "replace")
        except OSError as e:  # restarted by another test meanwhile: its series are in Prometheus
            print(f"note: {target['scrapeUrl']}: {e}")
            continue
        for line in text.splitlines():
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s", line)
            if not m:
                continue
            names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2) or ""))
            # Prometheus keeps its own job and instance, and renames the target's as exported_*.
            names = {f"exported_{n}" if n in ("job", "instance") else n for n in names} - {"le"} | {"job", "instance"}
            if m.group(1).endswith("_bucket"):
                names.add("le")
            scraped.setdefault(m.group(1), set()).update(names)
    with_series |= set(scraped)
    label_cache = {}

    def labels_of(metric):
        if metric not in label_cache:
            label_cache[metric] = set(prom.get("/api/v1/labels", **{"match[]": metric})) | scraped.get(metric, set())
        return label_cache[metric]

    qs, recorded = queries(src, prom)
    missing = {}
    checked = set()
    for where, expr in qs:
        body = prom.post("/api/v1/parse_query", query=expr)
        if body.get("status") != "success":
            fail(f"{where}: PromQL does not parse: {body.get('error')}: {expr}")
            continue
        groupings = []
        for name, matched in selectors(body["data"], groupings):
            checked.add(name)
            if name in recorded:
                continue
            if name not in exposed:
                missing.setdefault(name, []).append(where)
                continue
            if name in with_series:
                unknown = [label for label in matched if label not in labels_of(name)]
                if unknown:
                    fail(f"{where}: {name} has no label {', '.join(unknown)} (its labels: {sorted(labels_of(name))})")
        for by, names in groupings:
            known = [labels_of(n) for n in names if n in with_series]
            if not known:
                continue
            have = set().union(*known)
            unknown = [label for label in by if label not in have]
            if unknown:
                fail(f"{where}: grouping by {', '.join(unknown)}, a label none of {sorted(set(names))} has")
    for name, wheres in sorted(missing.items()):
        shown = "; ".join(sorted(set(wheres))[:4]) + (" ..." if len(set(wheres)) > 4 else "")
        fail(f"metric {name} is exposed by no scraped process (used by {shown})")
    raw = checked - recorded
    print(f"{'FAIL' if missing else 'ok'} - {len(qs)} queries name {len(raw)} metrics and "
          f"{len(checked & recorded)} recorded series; {len(raw) - len(missing)} of those metrics exposed by the stack")


# ---- small questions to Prometheus, for the shell script ----

def value(url, promql):
    result = Prom(url).get("/api/v1/query", query=promql)["result"]
    print(result[0]["value"][1] if result else 0)


def alert(url, name, *matchers):
    want = dict(m.split("=", 1) for m in matchers)
    want["alertname"] = name
    for a in Prom(url).get("/api/v1/alerts")["alerts"]:
        if all(a["labels"].get(k) == v for k, v in want.items()):
            print(a["state"])


def unhealthy(url, what="targets,rules"):
    prom = Prom(url)
    for t in prom.get("/api/v1/targets")["activeTargets"] if "targets" in what else []:
        if t["health"] != "up":
            print(f"target {t['scrapeUrl']}: {t['health']} {t['lastError']}")
    for g in prom.get("/api/v1/rules")["groups"] if "rules" in what else []:
        for r in g["rules"]:
            if r["health"] == "err":
                print(f"rule {r['name']}: {r['lastError']}")


def main():
    args = sys.argv[1:]
    questions = {"value": value, "alert": alert, "unhealthy": unhealthy}
    if len(args) >= 2 and args[0] in questions:
        questions[args[0]](*args[1:])
        return
    if len(args) < 2 or args[0] not in ("static", "names"):
        sys.exit(__doc__)
    src = args[1]
    if args[0] == "static":
        check_alert_tests(src)
        check_dashboards(src)
        check_promtail(src, args[2] if len(args) > 2 else None)
    else:
        check_names(src, args[2])
    if failures:
        print(f"{len(failures)} problem(s)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

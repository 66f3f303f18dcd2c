#!/usr/bin/env bash
# The published GTFS feed (issue 14) as transit tools fetch it: GET /gtfs/metro-hcmc.zip through
# the gateway (and through the nginx edge) with its ETag, Last-Modified and 304s and no
# Content-Encoding; the files inside (feed_info, 30 days of service, route colours, no planned
# line, no hop over 120 km/h, references that resolve); and the MobilityData validator: 0 errors.
set -euo pipefail
. "$METRO_TEST_ENV"
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { echo "ok - $1"; }

L1=tuyen-metro-so-1-ben-thanh-suoi-tien
url=$METRO_HTTP/gtfs/metro-hcmc.zip
work=$(mktemp -d /tmp/metro-gtfs-test.XXXXXX)
edge=$work/edge
cleanup() {
  [ ! -d "$edge" ] || bash "$METRO_SOURCE_DIR/scripts/nginx.sh" stop "$edge" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
hdr=$work/headers
header() { grep -i "^$1:" "$hdr" | tail -n 1 | cut -d: -f2- | sed -e 's/^ *//' -e 's/\r$//'; }
local_day() { date -u -d "@$(($(date +%s) + 7 * 3600 + $1 * 86400))" +%F; }
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
today=$(local_day 0)

token=$(curl -sS --max-time 30 -X POST "$METRO_HTTP/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login\":\"$METRO_TEST_ADMIN_EMAIL\",\"password\":\"$METRO_TEST_ADMIN_PASSWORD\"}" | json 'd["accessToken"]')
admin() { curl -sS --max-time 120 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }

# Line 1's timetable over the feed's 30 days through control, 6 dates a call (the stack seeds
# two; dates that have trips are kept), then the cached feed dropped so the next read sees them.
for from in 0 6 12 18 24; do
  out=$(admin -X POST "$METRO_HTTP/v1/schedules:generate" \
    -d "{\"routeId\":\"$L1\",\"date\":\"$(local_day "$from")\",\"days\":6}")
  [ "$(echo "$out" | json 'len(d["runs"])')" = 6 ] || fail "generating from day $from: $out"
done
admin -X POST "$METRO_HTTP/v1/public/cache:flush" -d '{"kinds":["gtfs"]}' >/dev/null
check "Line 1 has trips from $today for 30 days (control, 6 dates a call)"

# ---- the download ----
# Other tests share the stack and may write the network meanwhile (test_tickets closes and
# reopens a Line 1 station: a new feed and ETag; test_transport imports the same feed again: a
# new Last-Modified). A conditional check that fails after the validators moved is run again on
# the new feed, up to three times; one that fails while they stood still fails the test.
validators_now() { # curl options reaching the feed -> "ETag Last-Modified"
  curl -sS --max-time 60 -o /dev/null -D - "$@" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "etag" { e = $2 } tolower($1) == "last-modified" { m = $2 } END { print e " " m }'
}
retry_or_fail() { # $1: the try; $2...: curl options reaching the feed
  local try=$1
  shift
  [ "$try" -lt 3 ] && [ "$(validators_now "$@")" != "$etag $modified" ] || fail "$why"
  echo "# the feed changed meanwhile (another test wrote the network): again"
}

download() {
  local status
  status=$(curl -sS --max-time 60 -D "$hdr" -o "$work/feed.zip" -w '%{http_code}' -H 'Accept-Encoding: gzip, br' "$url")
  [ "$status" = 200 ] || fail "GET /gtfs/metro-hcmc.zip: $status $(head -c 300 "$work/feed.zip")"
  [ "$(header Content-Type)" = application/zip ] || fail "Content-Type: $(cat "$hdr")"
  [ "$(header Content-Disposition)" = 'attachment; filename="metro-hcmc.zip"' ] || fail "Content-Disposition: $(cat "$hdr")"
  [ -z "$(header Content-Encoding)" ] || fail "the zip was encoded: $(cat "$hdr")"
  etag=$(header ETag)
  modified=$(header Last-Modified)
  [[ $etag =~ ^\"[0-9a-f]{32}\"$ ]] || fail "not a strong 128-bit ETag: '$etag'"
  [ "$(date -u -d "$modified" '+%a, %d %b %Y %H:%M:%S GMT')" = "$modified" ] || fail "Last-Modified is no IMF-fixdate: '$modified'"
  [ "$(date -d "$modified" +%s)" -le "$(date +%s)" ] || fail "Last-Modified in the future: $modified"
  [ "$(header Content-Length)" = "$(stat -c %s "$work/feed.zip")" ] || fail "Content-Length: $(cat "$hdr")"
  [ "\"$(sha256sum "$work/feed.zip" | cut -c1-32)\"" = "$etag" ] || fail "the ETag is not the bytes' hash"
  head -c 4 "$work/feed.zip" | od -An -c | grep -q 'P   K 003 004' || fail "not a zip: $(head -c 100 "$work/feed.zip" | od -c | head -3)"
}

# Sets $why and fails (returns 1) at the first check that does not hold.
conditionals() {
  local status earlier
  rm -f "$work/body" # curl writes no file for an answer without body
  status=$(curl -sS --max-time 60 -D "$hdr" -o "$work/body" -w '%{http_code}' -H "If-None-Match: $etag" "$url")
  [ "$status" = 304 ] || { why="If-None-Match with the current tag: $status"; return 1; }
  [ ! -s "$work/body" ] || fail "a 304 with a body of $(stat -c %s "$work/body") bytes"
  [ "$(header ETag)" = "$etag" ] || { why="the 304 does not repeat the ETag: $(cat "$hdr")"; return 1; }
  [ "$(header Last-Modified)" = "$modified" ] || { why="the 304's Last-Modified: $(cat "$hdr")"; return 1; }
  status=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H "If-None-Match: \"0\", W/$etag" "$url")
  [ "$status" = 304 ] || { why="If-None-Match with a weak form of the tag in a list: $status"; return 1; }
  status=$(curl -sS --max-time 60 -o "$work/again.zip" -w '%{http_code}' -H 'If-None-Match: "0123"' \
    -H "If-Modified-Since: $modified" "$url")
  [ "$status" = 200 ] || fail "If-None-Match with another tag (and a matching date): $status"
  cmp -s "$work/feed.zip" "$work/again.zip" || { why="the same feed read twice differs"; return 1; }
  status=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $modified" "$url")
  [ "$status" = 304 ] || { why="If-Modified-Since: Last-Modified -> $status"; return 1; }
  earlier=$(date -u -d "@$(($(date -d "$modified" +%s) - 1))" '+%a, %d %b %Y %H:%M:%S GMT')
  status=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $earlier" "$url")
  [ "$status" = 200 ] || fail "If-Modified-Since a second before Last-Modified: $status"
}

for try in 1 2 3; do
  download
  conditionals && break
  retry_or_fail "$try" "$url"
done
check "200 application/zip, attachment metro-hcmc.zip, ETag $etag (the bytes' SHA-256), Last-Modified $modified, no Content-Encoding"
check "If-None-Match: the current tag (alone or weak in a list) -> 304 without body; another tag -> 200, If-Modified-Since ignored"
check "If-Modified-Since: Last-Modified -> 304, a second earlier -> 200"

# HEAD on the wire (curl -I reads no body even when one is sent): the head, then nothing.
python3 - "${METRO_HTTP#http://}" <<'PY' || fail "HEAD /gtfs/metro-hcmc.zip"
import re, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=30)
s.sendall(f"HEAD /gtfs/metro-hcmc.zip HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
data = b""
while chunk := s.recv(65536):
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
assert lines[0].startswith("HTTP/1.1 200"), lines[0]
assert re.fullmatch(r'"[0-9a-f]{32}"', fields.get("etag", "")), fields
assert int(fields["content-length"]) > 0 and rest == b"", (fields, len(rest))
PY
check "HEAD -> 200 with the ETag and Content-Length, and no body"

# ---- through the nginx edge: never gzip'ed there either ----
METRO_STACK_FREE_PORTS=1 METRO_EDGE_RATE=100r/s METRO_EDGE_BURST=100 METRO_EDGE_PROXY_BIND=127.0.0.3 \
  bash "$METRO_SOURCE_DIR/scripts/nginx.sh" start "$edge" "${METRO_HTTP#http://}" >/dev/null
# shellcheck disable=SC1091
. "$edge/env"
edge_url=$METRO_EDGE_HTTPS/gtfs/metro-hcmc.zip
tls=(--cacert "$METRO_EDGE_CA")
for try in 1 2 3; do
  status=$(curl -sS --max-time 60 "${tls[@]}" -D "$hdr" -o "$work/edge.zip" -w '%{http_code}' \
    -H 'Accept-Encoding: gzip, deflate, br' "$edge_url")
  [ "$status" = 200 ] || fail "through nginx: $status"
  [ -z "$(header Content-Encoding)" ] || fail "nginx encoded the zip: $(cat "$hdr")"
  etag=$(header ETag)
  modified=$(header Last-Modified)
  [ "\"$(sha256sum "$work/edge.zip" | cut -c1-32)\"" = "$etag" ] || fail "nginx changed the bytes: $(cat "$hdr")"
  status=$(curl -sS --max-time 60 "${tls[@]}" -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$edge_url")
  why="If-None-Match through nginx: $status"
  [ "$status" = 304 ] && break
  retry_or_fail "$try" "${tls[@]}" "$edge_url"
done
check "through nginx (Accept-Encoding: gzip): the zip as sent, no Content-Encoding; 304 on If-None-Match"

# ---- the files ----
curl -sS --max-time 30 "$METRO_HTTP/v1/lines" >"$work/lines.json"
python3 - "$work/feed.zip" "$work/lines.json" "$today" "$L1" <<'PY'
import csv, datetime, io, json, math, re, sys, zipfile
feed, lines_json, today, l1 = sys.argv[1:]
z = zipfile.ZipFile(feed)
def table(name):
    return list(csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8-sig", newline="")))
def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)
names = set(z.namelist())
want = {"agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt", "calendar.txt",
        "calendar_dates.txt", "transfers.txt", "feed_info.txt"}
if not want <= names: fail(f"files missing: {sorted(want - names)}")
if "metro_route_stations.txt" in names: fail("the consumer feed carries metro_route_stations.txt")
agency, stops, routes, trips = table("agency.txt"), table("stops.txt"), table("routes.txt"), table("trips.txt")
times, calendar, dates, info = table("stop_times.txt"), table("calendar.txt"), table("calendar_dates.txt"), table("feed_info.txt")

# feed_info: who publishes it, in Vietnamese, for today and the next 29 days.
day0 = datetime.date.fromisoformat(today)
ymd = lambda d: d.strftime("%Y%m%d")
if len(info) != 1: fail(f"feed_info.txt has {len(info)} rows")
fi = info[0]
if not fi["feed_publisher_name"] or not fi["feed_publisher_url"].startswith("https://"): fail(f"publisher: {fi}")
if fi["feed_lang"] != "vi": fail(f"feed_lang {fi['feed_lang']}")
if (fi["feed_start_date"], fi["feed_end_date"]) != (ymd(day0), ymd(day0 + datetime.timedelta(29))):
    fail(f"feed dates {fi['feed_start_date']}-{fi['feed_end_date']}, want {ymd(day0)} + 29 days")
if not fi["feed_version"].startswith(ymd(day0) + "-"): fail(f"feed_version {fi['feed_version']}")
print(f"ok - feed_info.txt: {fi['feed_publisher_name']} ({fi['feed_publisher_url']}), vi, "
      f"{fi['feed_start_date']}-{fi['feed_end_date']}, version {fi['feed_version']}")

# Routes: the operational lines only, each with its colours.
status = {l["routeId"]: l["status"] for l in json.load(open(lines_json))["lines"]}
planned = {r for r, s in status.items() if s == "planned"}
ids = [r["route_id"] for r in routes]
if l1 not in ids: fail(f"Line 1 is not in routes.txt: {ids}")
if planned & set(ids): fail(f"planned lines in the feed: {sorted(planned & set(ids))}")
hexcolor = re.compile(r"^[0-9A-F]{6}$")
for r in routes:
    if not hexcolor.match(r["route_color"]) or not hexcolor.match(r["route_text_color"]):
        fail(f"route {r['route_id']} colours {r['route_color']!r} / {r['route_text_color']!r}")
l1row = next(r for r in routes if r["route_id"] == l1)
if (l1row["route_color"], l1row["route_text_color"]) != ("E4002B", "FFFFFF"): fail(f"Line 1's colours: {l1row}")
print(f"ok - routes.txt: {len(routes)} route(s), none of the {len(planned)} planned lines, colours "
      + ", ".join(f"{r['route_short_name']} {r['route_color']}/{r['route_text_color']}" for r in routes))

# Ids unique, references resolve.
def unique(rows, key, what):
    seen = [r[key] for r in rows]
    if len(seen) != len(set(seen)): fail(f"{what}: repeated {key}")
    return set(seen)
stop_ids, route_ids, trip_ids = unique(stops, "stop_id", "stops"), unique(routes, "route_id", "routes"), unique(trips, "trip_id", "trips")
services = unique(calendar, "service_id", "calendar") | {d["service_id"] for d in dates}
for t in trips:
    if t["route_id"] not in route_ids or t["service_id"] not in services: fail(f"trip {t['trip_id']} refers to nothing: {t}")
for s in times:
    if s["trip_id"] not in trip_ids or s["stop_id"] not in stop_ids: fail(f"stop_times row refers to nothing: {s}")
for a, b in [(x["from_stop_id"], x["to_stop_id"]) for x in table("transfers.txt")]:
    if a not in stop_ids or b not in stop_ids: fail(f"transfer {a} -> {b}")
for s in stops:
    lat, lon = float(s["stop_lat"]), float(s["stop_lon"])
    if not (10.3 < lat < 11.2 and 106.3 < lon < 107.1): fail(f"stop {s['stop_id']} at {lat},{lon}: not in Ho Chi Minh City")
print(f"ok - {len(stops)} stops, {len(trips)} trips, {len(times)} stop times, {len(services)} services: ids unique, "
      "references resolve, stops inside the city")

# 30 days of service: every date of the feed has trips, none outside it.
def parse(d): return datetime.date(int(d[:4]), int(d[4:6]), int(d[6:]))
runs = {}
for c in calendar:
    d, end = parse(c["start_date"]), parse(c["end_date"])
    if c["start_date"] < fi["feed_start_date"] or c["end_date"] > fi["feed_end_date"]: fail(f"calendar outside feed_info: {c}")
    flags = [c[w] == "1" for w in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")]
    while d <= end:
        if flags[d.weekday()]: runs.setdefault(c["service_id"], set()).add(d)
        d += datetime.timedelta(1)
for x in dates:
    d = parse(x["date"])
    (runs.setdefault(x["service_id"], set()).add if x["exception_type"] == "1" else runs.setdefault(x["service_id"], set()).discard)(d)
per_day = {}
for t in trips:
    for d in runs.get(t["service_id"], ()):
        per_day[d] = per_day.get(d, 0) + 1
window = [day0 + datetime.timedelta(i) for i in range(30)]
missing = [str(d) for d in window if not per_day.get(d)]
if missing: fail(f"dates without service: {missing}")
if set(per_day) - set(window): fail(f"service outside the 30 days: {sorted(set(per_day) - set(window))}")
print(f"ok - 30 days of service from {today}: {min(per_day.values())}-{max(per_day.values())} trips a day over "
      f"{len(calendar)} calendar rows and {len(dates)} calendar_dates exceptions")

# Times rise along each trip; no hop between consecutive stops faster than 120 km/h.
pos = {s["stop_id"]: (float(s["stop_lat"]), float(s["stop_lon"])) for s in stops}
def secs(v):
    h, m, s = map(int, v.split(":"))
    return h * 3600 + m * 60 + s
def km(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))
by_trip = {}
for s in times: by_trip.setdefault(s["trip_id"], []).append(s)
fastest = (0.0, "")
for trip, rows in by_trip.items():
    rows.sort(key=lambda s: int(s["stop_sequence"]))
    for a, b in zip(rows, rows[1:]):
        dep, arr = secs(a["departure_time"]), secs(b["arrival_time"])
        if secs(a["arrival_time"]) > dep or arr <= dep: fail(f"times do not rise on {trip}: {a} {b}")
        v = km(pos[a["stop_id"]], pos[b["stop_id"]]) / ((arr - dep) / 3600)
        if v > fastest[0]: fastest = (v, f"{a['stop_id']} -> {b['stop_id']} on {trip}")
if fastest[0] > 120: fail(f"{fastest[0]:.0f} km/h between {fastest[1]}")
print(f"ok - stop times rise along every trip; the fastest hop is {fastest[0]:.0f} km/h ({fastest[1]})")
PY

# ---- the canonical validator ----
bash "$METRO_SOURCE_DIR/scripts/gtfs-validator.sh" "$work/feed.zip" "$work/validator" "$today" ||
  fail "the MobilityData GTFS validator reports errors (above)"
check "the MobilityData GTFS validator: 0 errors (warnings listed above)"

# ---- /v1/gtfs as before ----
curl -sS --max-time 60 "$METRO_HTTP/v1/gtfs?startDate=$today&days=1" >"$work/v1.json"
[ "$(json 'd["fileName"] + " " + d["contentType"]' <"$work/v1.json")" = "metro-hcmc-gtfs.zip application/zip" ] ||
  fail "/v1/gtfs: $(head -c 300 "$work/v1.json")"
json 'd["data"]' <"$work/v1.json" | base64 -d >"$work/v1.zip"
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert "metro_route_stations.txt" in z.namelist()' \
  "$work/v1.zip" || fail "/v1/gtfs is not the admin form"
check "GET /v1/gtfs still answers the base64 zip (one service per date)"
echo "gtfs feed: all checks passed"

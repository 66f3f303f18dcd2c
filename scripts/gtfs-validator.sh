#!/usr/bin/env bash
# Runs the canonical MobilityData GTFS validator on a feed: its library from Maven Central (the
# pinned test/gtfs-validator/pom.xml, cached in .cache/ like the Kafka broker's jars) driven by
# test/gtfs-validator/Validate.java. Writes OUT_DIR/report.json, prints one line per notice code
# (severity, count, first sample) and exits 1 when the feed has any ERROR notice or the run failed.
#   usage: gtfs-validator.sh FEED.zip OUT_DIR [YYYY-MM-DD: the date validated for, default today
#          in Asia/Ho_Chi_Minh]
set -euo pipefail

[ $# -ge 2 ] && [ $# -le 3 ] || { echo "usage: $0 FEED.zip OUT_DIR [YYYY-MM-DD]" >&2; exit 2; }
feed=$(realpath -- "$1")
out=$(realpath -m -- "$2")
date=${3:-$(date -u -d "@$(($(date +%s) + 7 * 3600))" +%F)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
pom=$root/test/gtfs-validator/pom.xml
driver=$root/test/gtfs-validator/Validate.java
version=$(sed -n 's:.*<gtfs-validator.version>\(.*\)</gtfs-validator.version>.*:\1:p' "$pom")
[ -n "$version" ] || { echo "gtfs-validator.sh: no <gtfs-validator.version> in $pom" >&2; exit 1; }
cache=$root/.cache
home=$cache/gtfs-validator-$version
libs=$home/libs
classes=$home/classes

# The validator's jars, copied from Maven Central once; a marker says the copy completed.
if ! { [ -f "$libs/.complete" ] && [ "$(cat "$libs/.complete")" = "$(sha256sum <"$pom")" ]; }; then
  command -v mvn >/dev/null || { echo "gtfs-validator.sh: mvn not found (run scripts/install-deps.sh --test)" >&2; exit 1; }
  echo "gtfs-validator.sh: resolving the GTFS validator $version from Maven Central into $libs" >&2
  rm -rf "$libs"
  mkdir -p "$cache/m2"
  mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$cache/m2" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  [ -f "$libs/gtfs-validator-main-$version.jar" ] || { echo "gtfs-validator.sh: Maven did not produce gtfs-validator-main-$version.jar" >&2; exit 1; }
  sha256sum <"$pom" >"$libs/.complete"
fi
classpath=$(find "$libs" -name '*.jar' | sort | tr '\n' ':')

# The driver, compiled again when it changed.
stamp=$(cat "$pom" "$driver" | sha256sum)
if ! { [ -f "$classes/.complete" ] && [ "$(cat "$classes/.complete")" = "$stamp" ]; }; then
  command -v javac >/dev/null || { echo "gtfs-validator.sh: javac not found (a JDK 17 or newer)" >&2; exit 1; }
  rm -rf "$classes"
  mkdir -p "$classes"
  javac -nowarn -cp "$classpath" -d "$classes" "$driver"
  echo "$stamp" >"$classes/.complete"
fi

rm -rf "$out"
mkdir -p "$out"
java -cp "$classpath$classes" Validate "$feed" "$out" "$date" >"$out/validator.log" 2>&1 ||
  { tail -n 30 "$out/validator.log" >&2; echo "gtfs-validator.sh: the validator did not complete" >&2; exit 1; }

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
notices = json.load(open(f"{out}/report.json"))["notices"]
system = json.load(open(f"{out}/system_errors.json")).get("notices", [])
count = {s: sum(n["totalNotices"] for n in notices if n["severity"] == s) for s in ("ERROR", "WARNING", "INFO")}
print(f"gtfs-validator: {count['ERROR']} errors, {count['WARNING']} warnings, {count['INFO']} infos, "
      f"{len(system)} system errors")
for n in sorted(notices, key=lambda n: ("ERROR", "WARNING", "INFO").index(n["severity"])):
    sample = json.dumps(n["sampleNotices"][0], ensure_ascii=False)[:240] if n["sampleNotices"] else ""
    print(f"  {n['severity']:7} {n['code']} x{n['totalNotices']}: {sample}")
for n in system:
    print(f"  SYSTEM  {n.get('code')}: {json.dumps(n, ensure_ascii=False)[:240]}")
sys.exit(1 if count["ERROR"] or system else 0)
PY

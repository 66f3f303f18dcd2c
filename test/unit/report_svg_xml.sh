#!/bin/sh
# Runs test_report_svg with METRO_SVG_OUT_DIR set, then parses every chart it wrote with
# report_svg_xml.py (Python's XML parser).  Usage: report_svg_xml.sh TEST_BINARY OUT_DIR CHECK_PY
set -eu
[ $# -eq 3 ] || { echo "usage: $0 TEST_BINARY OUT_DIR CHECK_PY" >&2; exit 2; }
rm -rf "$2"
mkdir -p "$2"
METRO_SVG_OUT_DIR=$2 "$1"
exec python3 "$3" "$2"

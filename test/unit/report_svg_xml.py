#!/usr/bin/env python3
"""Checks the report charts written by test_report_svg with a real XML parser.

Every *.svg in the directory must be well-formed XML whose root is an SVG <svg> element with a
size and viewBox, with a <title>, axis lines (the group class="axes") and text labels, and with no
script, foreignObject or style element, no on* event attribute, no link and no DTD anywhere.
Standard library only; exit status 0 = all charts passed.

    python3 test/unit/report_svg_xml.py DIR
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET

SVG_NS = "{http://www.w3.org/2000/svg}"
FORBIDDEN_ELEMENTS = {"script", "foreignobject", "style", "iframe", "object", "embed"}


def local_name(name):
    return name.rsplit("}", 1)[-1]


def problems(path):
    """The list of what is wrong with one chart (empty when it passes)."""
    with open(path, "rb") as f:
        raw = f.read()
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        return ["has a DTD or entity declaration"]
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        return [f"not well-formed: {e}"]
    found = []
    if root.tag != SVG_NS + "svg":
        found.append(f"root is {root.tag}, not {SVG_NS}svg")
    for attr in ("width", "height", "viewBox"):
        if not root.get(attr):
            found.append(f"root lacks {attr}")
    if root.find(SVG_NS + "title") is None:
        found.append("no <title> child of the root")
    axes = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "axes"]
    if len(axes) != 1 or len(axes[0].findall(SVG_NS + "line")) < 2:
        found.append("no axis group with at least two lines")
    labels = [t for t in root.iter(SVG_NS + "text") if (t.text or "").strip()]
    if len(labels) < 2:
        found.append("fewer than two text labels")
    for el in root.iter():
        name = local_name(el.tag)
        if name.lower() in FORBIDDEN_ELEMENTS:
            found.append(f"forbidden element <{name}>")
        for attr, value in el.attrib.items():
            attr_name = local_name(attr).lower()
            if attr_name.startswith("on"):
                found.append(f"event attribute {attr} on <{name}>")
            if "href" in attr_name or attr_name == "style":
                found.append(f"attribute {attr} on <{name}>")
            if "url(" in value or "javascript:" in value.lower():
                found.append(f"external reference in {attr}={value!r} on <{name}>")
    return found


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    paths = sorted(glob.glob(os.path.join(argv[1], "*.svg")))
    if not paths:
        print(f"FAIL: no *.svg in {argv[1]}", file=sys.stderr)
        return 1
    failed = 0
    for path in paths:
        found = problems(path)
        if found:
            failed += 1
            for p in found:
                print(f"FAIL {os.path.basename(path)}: {p}")
        else:
            print(f"ok - {os.path.basename(path)}")
    print(f"{len(paths) - failed}/{len(paths)} charts passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

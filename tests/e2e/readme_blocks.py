#!/usr/bin/env python3
"""The shell blocks of a README section as one script, for test_readme.sh.

usage: readme_blocks.py README SECTION LODGE_DIR MARKET_PORT P1_PORT P2_PORT
Prints a POSIX sh script: `set -e`, then each ```sh block of the section
(up to the next heading of its level or above) in order, each followed by
"ok - README: <its title>" (the bold lead-in of the paragraph before it,
else its first line).  A block preceded by "<!-- test_readme: skip" is
left out.  Only the walk-through's set-up lines change: $LODGE and the
ports (export LODGE=..., export MARKET_PORT=...).
"""
import re, sys

readme, section, lodge, mport, p1, p2 = sys.argv[1:7]
text = open(readme).read().splitlines()
start = next(i for i, l in enumerate(text) if l.strip() == section)
level = len(section) - len(section.lstrip("#"))
end = len(text)
for i in range(start + 1, len(text)):
    m = re.match(r"^(#+) ", text[i])
    if m and len(m.group(1)) <= level:
        end = i
        break
out = ["set -e"]
i, title, skip, n = start + 1, "", False, 0
while i < end:
    line = text[i]
    m = re.match(r"^\*\*(.+?)\*\*", line)
    if m:
        title = m.group(1).rstrip(".")
    if line.startswith("<!-- test_readme: skip"):
        skip = True
    if line.startswith("```sh"):
        block = []
        i += 1
        while not text[i].startswith("```"):
            block.append(text[i])
            i += 1
        n += 1
        if not skip:
            for b in block:
                b = re.sub(r"^export LODGE=.*", "export LODGE=" + lodge, b)
                b = re.sub(r"^export MARKET_PORT=.*",
                           "export MARKET_PORT=%s P1_PORT=%s P2_PORT=%s"
                           % (mport, p1, p2), b)
                out.append(b)
            name = title or block[0]
            out.append("echo 'ok - README block %d: %s'" %
                       (n, name.replace("'", "")))
        skip = False
    i += 1
print("\n".join(out))

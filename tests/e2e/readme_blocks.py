#!/usr/bin/env python3
"""The shell blocks of a README section as one script, for test_readme.sh.

usage: readme_blocks.py README SECTION LODGE_DIR MARKET_PORT P1_PORT P2_PORT
       readme_blocks.py --commands README SECTION
The second form prints, for every line of the section's ```sh blocks
that runs one of Lodge's binaries, "BINARY SUBCOMMAND... | --OPTION..."
(the options it uses), for the test to check against each --help.
Prints a POSIX sh script: `set -e`, then each ```sh block of the section
(up to the next heading of its level or above) in order, each followed by
"ok - README: <its title>" (the bold lead-in of the paragraph before it,
else its first line).  A block preceded by "<!-- test_readme: skip" is
left out.  Only the walk-through's set-up lines change: $LODGE and the
ports (export LODGE=..., export MARKET_PORT=...).
"""
import re, shlex, sys

BINS = ("market", "provider", "tenant", "ledger", "sdl")
GROUPS = {"provider": ("sandbox", "prepare", "wasm"), "sdl": ("akash",),
          "ledger": ("proof", "witness")}


def section_lines(readme, section):
    text = open(readme).read().splitlines()
    start = next(i for i, l in enumerate(text) if l.strip() == section)
    level = len(section) - len(section.lstrip("#"))
    for i in range(start + 1, len(text)):
        m = re.match(r"^(#+) ", text[i])
        if m and len(m.group(1)) <= level:
            return text[start:i]
    return text[start:]


def commands(readme, section):
    lines, inblock, cur = section_lines(readme, section), False, ""
    for line in lines:
        if line.startswith("```"):
            inblock = line.startswith("```sh")
            continue
        if not inblock:
            continue
        cur += line.rstrip("\\") + " "
        if line.endswith("\\"):
            continue
        text, cur = cur, ""
        try:
            toks = shlex.split(text, comments=True)
        except ValueError:
            continue
        # each command of a pipeline or list
        cmd = []
        for t in toks + [";"]:
            if t in (";", "&&", "||", "|", "&"):
                if cmd and cmd[0] in BINS and len(cmd) > 1:
                    sub = [cmd[1]]
                    if cmd[1] in GROUPS.get(cmd[0], ()) and len(cmd) > 2:
                        sub.append(cmd[2])
                    opts = sorted({c.split("=")[0] for c in cmd
                                   if c.startswith("--") and len(c) > 2})
                    print(cmd[0], " ".join(sub), "|", " ".join(opts))
                cmd = []
            else:
                cmd.append(t)


if sys.argv[1] == "--commands":
    commands(sys.argv[2], sys.argv[3])
    sys.exit(0)

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

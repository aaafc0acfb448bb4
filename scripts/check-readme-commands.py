#!/usr/bin/env python3
"""Runs every `cerebellum …` command a document names (in backticks) with --help and checks that each
flag it shows for it is one the command takes. Run by `make test` (test-readme) over the README and docs.

Usage: check-readme-commands.py BINARY FILE...
"""
import re, subprocess, sys

binary = sys.argv[1]
files = sys.argv[2:] or ["README.md"]
help_cache = {}


def help_text(path):
    key = tuple(path)
    if key not in help_cache:
        r = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, timeout=60)
        help_cache[key] = (r.returncode, r.stdout + r.stderr)
    return help_cache[key]


def subcommands(help_out):
    """The subcommand names a help text lists under SUBCOMMANDS."""
    names, inside = set(), False
    for line in help_out.splitlines():
        if line.startswith("SUBCOMMANDS:"):
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            m = re.match(r"\s+([a-z][a-z0-9-]*)", line)
            if m:
                names.add(m.group(1))
    return names


problems, checked = [], 0
spans = [(f, s) for f in files for s in re.findall(r"`(cerebellum [^`]*)`", open(f).read())]
for readme, span in spans:
    words = span.split()[1:]
    path = []
    for w in words:
        code, out = help_text(path)
        if w in subcommands(out):
            path.append(w)
        else:
            break
    code, out = help_text(path)
    if code != 0:
        problems.append(f"{readme}: `{span}`: `cerebellum {' '.join(path)} --help` exits {code}")
        continue
    if not path:
        problems.append(f"{readme}: `{span}`: `{words[0] if words else ''}` is not a cerebellum command")
        continue
    for flag in sorted(set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", span))):
        if not re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", out):
            problems.append(f"{readme}: `{span}`: `cerebellum {' '.join(path)}` has no option {flag}")
    checked += 1

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"readme: {checked} command lines in {len(files)} files, {len(help_cache)} --help pages, every command and flag exists")

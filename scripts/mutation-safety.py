#!/usr/bin/env python3
"""Mutation testing of Sources/Safety (make mutation-safety), as opendbc does for its safety code.

Each mutant changes one thing in one line of a Safety source file: a comparison flipped or moved across
its boundary, an arithmetic or boolean operator swapped, a negation dropped, a constant changed, a
statement removed. For each, the Safety module and its tests are rebuilt in a package of their own
(.build-mutation/pkg: CZlib, RobotCore, Safety, SafetyTests) and the tests run; a mutant is killed when a test
fails (or the run crashes or times out) and survives when every test passes. A mutant that does not
compile is stillborn and not counted.

A survivor is explained when its line, or the comment line right above it, says `equivalent mutant:` and
why. The run fails when any survivor is unexplained.

Usage: mutation-safety.py [--sample N] [--seed S] [--match TEXT] [--json FILE]
  --sample N: a deterministic sample of N mutants (CI); default all.
  --match TEXT: only mutants of lines that contain TEXT (to re-check survivors after a fix).
"""
import argparse, json, os, random, re, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".build-mutation")
PKG = os.path.join(WORK, "pkg")
SOURCES = os.path.join(ROOT, "Sources", "Safety")

PACKAGE = """// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "SafetyMutants", targets: [
    .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
    .target(name: "RobotCore", dependencies: ["CZlib"]),
    .target(name: "Safety", dependencies: ["RobotCore"]),
    .testTarget(name: "SafetyTests", dependencies: ["Safety", "RobotCore"]),
])
"""

# (name, pattern, replacement): applied to one occurrence at a time, outside strings and comments.
OPERATORS = [
    ("< to <=", r"(?<=\s)<(?=\s)", "<="), ("<= to <", r"(?<=\s)<=(?=\s)", "<"),
    ("> to >=", r"(?<=\s)>(?=\s)", ">="), (">= to >", r"(?<=\s)>=(?=\s)", ">"),
    ("< to >", r"(?<=\s)<(?=\s)", ">"), ("> to <", r"(?<=\s)>(?=\s)", "<"),
    ("== to !=", r"(?<=\s)==(?=\s)", "!="), ("!= to ==", r"(?<=\s)!=(?=\s)", "=="),
    ("+ to -", r"(?<=\s)\+(?=\s)", "-"), ("- to +", r"(?<=\s)-(?=\s)", "+"),
    ("* to /", r"(?<=\s)\*(?=\s)", "/"), ("/ to *", r"(?<=\s)/(?=\s)", "*"),
    ("+= to -=", r"(?<=\s)\+=(?=\s)", "-="), ("-= to +=", r"(?<=\s)-=(?=\s)", "+="),
    ("&& to ||", r"(?<=\s)&&(?=\s)", "||"), ("|| to &&", r"(?<=\s)\|\|(?=\s)", "&&"),
    ("drop !", r"(?<![\w)\]!=])!(?=[\w(.])", ""),
    ("true to false", r"\btrue\b", "false"), ("false to true", r"\bfalse\b", "true"),
    ("n to n+1", r"(?<![\w.])(\d+)(?![\w.])", None),
    ("min to max", r"\bmin\(", "max("), ("max to min", r"\bmax\(", "min("),
    ("insert to remove", r"\.insert\(", ".remove("),
]

STATEMENT = re.compile(r"^\s*(?!let |var |return|guard |if |else|switch |case |default|for |while |func |init|public |private |static |\}|\{|@)"
                       r"[\w.\[\]]+(\s*[-+*/]?=\s*.+|\(.*\))\s*$")


def code_part(line):
    """The line with string literals and the trailing comment blanked (same length), so patterns match code only."""
    out, i, in_string = list(line), 0, False
    while i < len(line):
        c = line[i]
        if not in_string and line.startswith("//", i):
            for j in range(i, len(line)):
                out[j] = " "
            break
        if c == '"':
            in_string = not in_string
        elif in_string:
            out[i] = " "
        i += 1
    return "".join(out)


def mutants():
    for name in sorted(os.listdir(SOURCES)):
        if not name.endswith(".swift"):
            continue
        lines = open(os.path.join(SOURCES, name)).read().split("\n")
        for n, line in enumerate(lines):
            stripped = line.strip()
            if not stripped or stripped.startswith("//") or stripped.startswith("import "):
                continue
            code = code_part(line)
            explained = "equivalent mutant:" in line or (n > 0 and "equivalent mutant:" in lines[n - 1])
            for op, pattern, replacement in OPERATORS:
                for m in re.finditer(pattern, code):
                    new = str(int(m.group(1)) + 1) if replacement is None else replacement
                    mutated = line[:m.start()] + new + line[m.end():]
                    yield dict(file=name, line=n + 1, operator=op, original=line, mutated=mutated, explained=explained)
            if STATEMENT.match(code) and not stripped.endswith((",", "(", "[")):
                yield dict(file=name, line=n + 1, operator="remove statement", original=line,
                           mutated=re.match(r"^\s*", line).group(0) + "// (removed)", explained=explained)


def run(cmd, timeout, env=None):
    try:
        p = subprocess.run(cmd, cwd=PKG, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, env=env)
        return p.returncode, p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, "timeout"


def setup():
    os.makedirs(os.path.join(PKG, "Sources"), exist_ok=True)
    os.makedirs(os.path.join(PKG, "Tests"), exist_ok=True)
    with open(os.path.join(PKG, "Package.swift"), "w") as f:
        f.write(PACKAGE)
    for link, target in [("Sources/CZlib", "Sources/CZlib"), ("Sources/RobotCore", "Sources/RobotCore"),
                         ("Tests/SafetyTests", "Tests/SafetyTests")]:
        path = os.path.join(PKG, link)
        if not os.path.islink(path):
            os.symlink(os.path.join(ROOT, target), path)
    safety = os.path.join(PKG, "Sources", "Safety")
    shutil.rmtree(safety, ignore_errors=True)
    shutil.copytree(SOURCES, safety)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--match")
    ap.add_argument("--json", default=os.path.join(WORK, "report.json"))
    args = ap.parse_args()
    setup()
    env = dict(os.environ, CEREBELLUM_PROPERTY_SEQUENCES="3000")
    build = ["swift", "build", "--build-tests", "-j", "2"]
    test = ["swift", "test", "--skip-build"]
    code, out = run(build, 1200)
    if code != 0:
        sys.exit("mutation-safety: the unmutated Safety package does not build:\n" + out[-3000:])
    code, out = run(test, 600, env)
    if code != 0:
        sys.exit("mutation-safety: the unmutated Safety tests fail:\n" + out[-3000:])
    everything = list(mutants())
    chosen = [m for m in everything if args.match is None or args.match in m["original"]]
    if args.sample and args.sample < len(chosen):
        chosen = sorted(random.Random(args.seed).sample(chosen, args.sample), key=lambda m: (m["file"], m["line"]))
    print("mutation-safety: %d mutants of Sources/Safety, running %d" % (len(everything), len(chosen)), flush=True)
    killed, survived, stillborn = [], [], []
    start = time.time()
    for i, m in enumerate(chosen):
        path = os.path.join(PKG, "Sources", "Safety", m["file"])
        original = open(os.path.join(SOURCES, m["file"])).read().split("\n")
        mutated = list(original)
        mutated[m["line"] - 1] = m["mutated"]
        with open(path, "w") as f:
            f.write("\n".join(mutated))
        code, out = run(build, 600)
        if code != 0:
            stillborn.append(m)
            verdict = "stillborn"
        else:
            code, out = run(test, 300, env)
            if code == 0:
                survived.append(m)
                verdict = "SURVIVED" + (" (explained)" if m["explained"] else "")
            else:
                killed.append(m)
                verdict = "killed" + (" (timeout)" if code is None else "")
        with open(path, "w") as f:
            f.write("\n".join(original))
        print("  [%d/%d] %s:%d %s: %s" % (i + 1, len(chosen), m["file"], m["line"], m["operator"], verdict), flush=True)
    run(build, 600)
    unexplained = [m for m in survived if not m["explained"]]
    counted = len(killed) + len(survived)
    print("mutation-safety: %d killed, %d survived (%d explained as equivalent), %d stillborn; mutation score %.1f %% in %.0f s"
          % (len(killed), len(survived), len(survived) - len(unexplained), len(stillborn),
             100.0 * len(killed) / counted if counted else 100.0, time.time() - start))
    for m in unexplained:
        print("  survivor %s:%d %s\n    - %s\n    + %s" % (m["file"], m["line"], m["operator"], m["original"].strip(), m["mutated"].strip()))
    with open(args.json, "w") as f:
        json.dump(dict(total=len(everything), run=len(chosen), killed=len(killed), survived=survived, stillborn=len(stillborn)), f, indent=1)
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()

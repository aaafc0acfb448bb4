#!/usr/bin/env python3
"""Checks that docs/architecture.md's module table is the module graph of Package.swift, that every
dependency points to a lower layer, and that every Swift library module has its own test target
(`MODULE` is tested by `MODULETests`). Run by `make test` (test-architecture).

The table's rows are `| LAYER | MODULE | DEPENDS ON |` (module names in backticks, dependencies separated
by commas, `—` for none); Package.swift's targets and their dependencies (names and products) are read
from its `.target`, `.systemLibrary` and `.executableTarget` declarations. Test targets are not layers.
"""
import re, sys, os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_graph(text):
    graph = {}
    for m in re.finditer(r'\.(target|systemLibrary|executableTarget)\(\s*name:\s*"([^"]+)"', text):
        kind, name = m.group(1), m.group(2)
        # The declaration runs to its closing parenthesis; the dependencies list is the first [...] after it.
        depth, i = 0, m.end() - 1
        start = text.index("(", m.start())
        for i in range(start, len(text)):
            if text[i] == "(":
                depth += 1
            elif text[i] == ")":
                depth -= 1
                if depth == 0:
                    break
        decl = text[start:i]
        deps = set()
        d = re.search(r'dependencies:\s*\[(.*?)\]\s*(,|\)|$)', decl, re.S)
        if d:
            body = d.group(1)
            deps |= set(re.findall(r'\.product\(name:\s*"([^"]+)"', body))
            body = re.sub(r'\.product\([^)]*\)', "", body)
            deps |= set(re.findall(r'"([^"]+)"', body))
        path = re.search(r'path:\s*"([^"]+)"', decl)
        if path and path.group(1).startswith("Tests/"):
            continue  # test support and harnesses are not layers
        graph[name] = deps
    return graph


def documented_graph(text):
    layers, graph = {}, {}
    for line in text.splitlines():
        m = re.match(r'\|\s*(\d+)\s*\|\s*`([^`]+)`\s*\|([^|]*)\|', line)
        if not m:
            continue
        layer, name, deps = int(m.group(1)), m.group(2), m.group(3).strip()
        layers[name] = layer
        graph[name] = set() if deps in ("—", "-", "") else {d.strip().strip("`") for d in deps.split(",")}
    return layers, graph


def main():
    package = open(os.path.join(ROOT, "Package.swift")).read()
    doc_path = os.path.join(ROOT, "docs", "architecture.md")
    layers, documented = documented_graph(open(doc_path).read())
    actual = package_graph(package)
    problems = []
    for name in sorted(set(actual) | set(documented)):
        if name not in documented:
            problems.append(f"docs/architecture.md: module {name} (Package.swift) has no row")
            continue
        if name not in actual:
            problems.append(f"docs/architecture.md: module {name} is not a target of Package.swift")
            continue
        if actual[name] != documented[name]:
            problems.append(f"docs/architecture.md: {name} depends on {sorted(actual[name])} in Package.swift, "
                            f"the table says {sorted(documented[name])}")
        for dep in actual[name]:
            if dep in layers and layers[dep] >= layers[name]:
                problems.append(f"{name} (layer {layers[name]}) depends on {dep} (layer {layers[dep]}): not a lower layer")
            if dep not in layers and not external(dep, package):
                problems.append(f"{name} depends on {dep}, which is neither a documented module nor an external package")
    tests = set(re.findall(r'\.testTarget\(\s*name:\s*"([^"]+)"', package))
    for name in sorted(actual):
        swift = os.path.isdir(os.path.join(ROOT, "Sources", name)) and any(
            f.endswith(".swift") for f in os.listdir(os.path.join(ROOT, "Sources", name)))
        executable = re.search(r'\.executableTarget\(\s*name:\s*"' + re.escape(name) + '"', package)
        if swift and not executable and name + "Tests" not in tests:
            problems.append(f"Package.swift: module {name} has no test target {name}Tests")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"architecture: {len(actual)} modules, {sum(len(d) for d in actual.values())} dependencies, "
          "every one to a lower layer, as docs/architecture.md says; every Swift library module has its test target")


def external(name, package):
    return re.search(r'\.product\(name:\s*"' + re.escape(name) + '"', package) is not None


if __name__ == "__main__":
    main()

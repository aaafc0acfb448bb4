#!/usr/bin/env python3
"""Fails when a Swift or C source line is longer than the project's 140 columns (characters, not bytes):
swift-format keeps code within them but cannot break a string literal or a comment."""
import subprocess
import sys

LIMIT = 140
files = subprocess.run(["git", "ls-files", "*.swift", "*.c", "*.h"], capture_output=True, text=True, check=True).stdout.split()
long_lines = []
for path in files:
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            width = len(line.rstrip("\n"))
            if width > LIMIT:
                long_lines.append(f"{path}:{number}: {width} columns")
for entry in long_lines:
    print(entry)
if long_lines:
    print(f"{len(long_lines)} line(s) over {LIMIT} columns")
    sys.exit(1)
print(f"line length: {len(files)} files, none over {LIMIT} columns")

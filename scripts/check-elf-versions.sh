#!/usr/bin/env bash
# Prints the highest glibc and libstdc++ symbol versions an ELF program asks of the system it runs on (its
# version-needs section) and fails if either is above the given limit (the board OSes a build supports,
# docs/arm64.md) or if it loads the Swift runtime as shared libraries. readelf reads any architecture's ELF.
# Usage: scripts/check-elf-versions.sh BINARY MAX_GLIBC MAX_GLIBCXX   e.g. … cerebellum 2.35 3.4.30
set -euo pipefail
binary=$1; max_glibc=$2; max_glibcxx=$3
needs=$(readelf -V -W "$binary" | sed -n 's/.*Name: \([A-Z_]*_[0-9.]*\).*/\1/p' | sort -u)
highest() { echo "$needs" | sed -n "s/^$1_\([0-9.]*\)$/\1/p" | sort -V | tail -1; }
glibc=$(highest GLIBC); glibcxx=$(highest GLIBCXX)
echo "$binary needs glibc ${glibc:-none} (at most $max_glibc), libstdc++ GLIBCXX ${glibcxx:-none} (at most $max_glibcxx)"
above() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" != "$2" ]; }
status=0
if above "$glibc" "$max_glibc"; then
  echo "check-elf-versions: $binary asks for glibc $glibc: the board OSes with glibc $max_glibc could not run it;" \
    "these symbols need more:" >&2
  readelf --dyn-syms -W "$binary" | grep -o '[A-Za-z0-9_]*@GLIBC_[0-9.]*' | sort -u | while read -r s; do
    if above "${s##*_}" "$max_glibc"; then echo "  $s" >&2; fi
  done
  status=1
fi
if above "$glibcxx" "$max_glibcxx"; then
  echo "check-elf-versions: $binary asks for libstdc++ GLIBCXX_$glibcxx, above $max_glibcxx" >&2
  status=1
fi
# The board has no Swift toolchain: the runtime must be linked in (a build without --static-swift-stdlib is not it).
swift_libs=$(readelf -d -W "$binary" | sed -n 's/.*(NEEDED).*\[\(lib\(swift\|Foundation\|_Foundation\|dispatch\|BlocksRuntime\)[^]]*\)\]/\1/p' | tr '\n' ' ')
if [ -n "$swift_libs" ]; then
  echo "check-elf-versions: $binary loads the Swift runtime from shared libraries ($swift_libs), which a board does not have" >&2
  status=1
fi
exit $status

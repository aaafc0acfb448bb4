#!/usr/bin/env bash
# Runs a command with Debian sid's Swift toolchain (swiftlang 6.2) on this machine without installing it: the
# command runs chrooted in a sid root file system (scripts/sid-root.sh) inside a user namespace (unshare --user
# --map-root-user --mount), with this repository at its own path (so the paths a build records are the host's:
# tests built here run on the host), /opt/swift-packages and the system git configuration (how the package's
# dependencies resolve) bound in. Nothing of the host's dpkg, apt or binfmt state is touched.
# With --arm64 the arm64 sysroot is unpacked too and appears at /sysroot-arm64 with its Swift SDK bundle in
# /sysroot-arm64/swift-sdks, and pkg-config answers for the target (the arm64 sysroot's .pc files).
# Usage: scripts/swift-sid.sh [--arm64] COMMAND…   (run in the repository)
# CACHE (default ~/.cache/cerebellum/swift-sid) keeps the roots: a second run downloads nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(pwd)
cache=${CACHE:-$HOME/.cache/cerebellum/swift-sid}
root=$cache/root-amd64
"$here/sid-root.sh" amd64 "$root" bash dash coreutils git make pkgconf findutils grep sed gawk
target_env=()
if [ "${1:-}" = --arm64 ]; then
  shift
  "$here/sid-root.sh" arm64 "$cache/sysroot-arm64"
  mkdir -p "$root/sysroot-arm64"
  pc=/sysroot-arm64/usr/lib/aarch64-linux-gnu/pkgconfig:/sysroot-arm64/usr/share/pkgconfig
  target_env=(PKG_CONFIG_SYSROOT_DIR=/sysroot-arm64 "PKG_CONFIG_LIBDIR=$pc" "PKG_CONFIG_PATH=$pc")
fi
cp /etc/gitconfig "$root/etc/gitconfig" 2>/dev/null || true
# The command, quoted for the shell inside the namespace.
command=$(printf '%q ' "$@")
exec unshare --user --map-root-user --mount bash -c "
  set -e
  for d in proc dev sys; do mount --rbind /\$d '$root/'\$d; done
  mkdir -p '$root$repo' && mount --bind '$repo' '$root$repo'
  [ -d /opt/swift-packages ] && mount --bind /opt/swift-packages '$root/opt/swift-packages'
  [ -n '${target_env[*]}' ] && mount --bind '$cache/sysroot-arm64' '$root/sysroot-arm64'
  exec chroot '$root' /usr/bin/env -i HOME=/tmp PATH=/usr/libexec/swift/bin:/usr/bin:/bin TERM=dumb ${target_env[*]} \
    bash -c 'cd $repo && $command'
"

#!/usr/bin/env bash
# Downloads Debian's own kernel for ARCH (amd64 | arm64) without installing it: linux-image, the
# matching headers and kbuild, linux-source-6.1 (for gpio-sim) and, for arm64, busybox-static, unpacked under OUT.
# A private apt state (own lists, cache and sources built from the system's) leaves the host's apt alone.
# Usage: hil/fetch-kernel.sh ARCH OUT
set -euo pipefail
arch=$1; out=$2
mkdir -p "$out"; out=$(cd "$out" && pwd)
apt_dir="$out/apt"
mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,etc/apt.conf.d,etc/preferences.d,debs}
: > "$apt_dir/status"
# The system's sources (deb822 or one-line), as they are.
{ cat /etc/apt/sources.list 2>/dev/null || true; } > "$apt_dir/etc/sources.list"
mkdir -p "$apt_dir/etc/sources.list.d"
cp /etc/apt/sources.list.d/*.sources "$apt_dir/etc/sources.list.d/" 2>/dev/null || true
cp /etc/apt/sources.list.d/*.list "$apt_dir/etc/sources.list.d/" 2>/dev/null || true
APT=(apt-get -q -o "Dir::State=$apt_dir" -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
     -o "Dir::Etc=$apt_dir/etc" -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
     -o "Dir::Etc::sourceparts=$apt_dir/etc/sources.list.d" -o "APT::Architecture=$arch"
     -o "APT::Architectures::=$arch" -o "APT::Architectures::=all" -o "Debug::NoLocking=1")
APT_CACHE=(apt-cache -o "Dir::State=$apt_dir" -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
     -o "Dir::Etc=$apt_dir/etc" -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
     -o "Dir::Etc::sourceparts=$apt_dir/etc/sources.list.d" -o "APT::Architecture=$arch"
     -o "APT::Architectures::=$arch" -o "APT::Architectures::=all")
if [ ! -f "$apt_dir/updated" ] || [ -n "$(find "$apt_dir/updated" -mmin +720)" ]; then
  # A mirror mid-sync can fail one index; what did arrive is enough if the kernel resolves below.
  "${APT[@]}" update >/dev/null || echo "fetch-kernel: apt-get update reported errors; going on with the indexes that arrived" >&2
  touch "$apt_dir/updated"
fi
# The current kernel ABI, resolved now: security updates replace versions and drop old ones.
meta=linux-image-$arch
image=$("${APT_CACHE[@]}" depends "$meta" | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$image" ] || { echo "fetch-kernel: cannot resolve $meta" >&2; exit 1; }
kver=${image#linux-image-}
kbase=${kver%-$arch}; kbase=${kbase%-cloud}
# linux-headers-VER-ARCH depends on linux-headers-VER-common and linux-kbuild-MAJOR.MINOR.
common=linux-headers-$kbase-common
kbuild=$("${APT_CACHE[@]}" depends "linux-headers-$kver" | awk '/Depends: linux-kbuild-/{print $2; exit}')
echo "fetch-kernel: $arch kernel $kver ($kbuild)"
if [ ! -f "$out/kernel-$kver.done" ]; then
  cd "$apt_dir/debs"
  rm -f ./*.deb
  extra=(linux-source-6.1)
  # The arm64 guest also needs an arm64 busybox for its PID 1.
  [ "$arch" = amd64 ] || extra+=(busybox-static)
  "${APT[@]}" download "$image" "linux-headers-$kver" "$common" "$kbuild" "${extra[@]}" >/dev/null
  rm -rf "$out/root"; mkdir -p "$out/root"
  for d in ./*.deb; do dpkg -x "$d" "$out/root"; done
  rm -f "$out"/kernel-*.done
  echo "$kver" > "$out/kernel-version"
  touch "$out/kernel-$kver.done"
  rm -f ./*.deb
fi
echo "$kver" > "$out/kernel-version"

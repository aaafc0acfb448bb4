#!/usr/bin/env bash
# Unpacks a Debian sid root file system for ARCH (amd64 | arm64) with Swift 6.2 (package swiftlang) and the C
# libraries this project links (and g++ for the C++ headers a dependency compiles against), without installing
# anything on the host: a private apt state downloads the packages and their dependency closure, `dpkg -x`
# unpacks them (no maintainer scripts run), and what those scripts would have done is done here: the OpenBLAS
# alternatives links and the loader's cache.
# sid's and trixie's libgpiod-dev are the v2 API; the drivers are written for 1.6 (bookworm's), so bookworm's
# libgpiod-dev is unpacked instead. The amd64 root is where the compiler runs (scripts/swift-sid.sh); the arm64
# root is the sysroot an aarch64 build compiles against and runs on under qemu.
# Usage: scripts/sid-root.sh ARCH ROOT [EXTRA_PACKAGE…]   ROOT is reused once complete (ROOT/.complete).
set -euo pipefail
arch=$1; root=$2; shift 2
# amd64 is the root the compiler runs in: all sid (its swift-frontend needs sid's C library). arm64 is the target's
# sysroot: sid's Swift runtime (linked into the binary statically) over bookworm's C library and the C libraries the
# binary loads, so that what it asks of a board OS is no more than Debian bookworm (glibc 2.36) provides; the few
# functions of glibc 2.38 that sid's runtime calls are in Sources/CShims/glibc-compat.c.
case $arch in
  amd64) triple=x86_64-linux-gnu overlay=(libgpiod-dev/bookworm libgpiod2/bookworm) ;;
  arm64) triple=aarch64-linux-gnu
         overlay=(libgpiod-dev/bookworm libc6/bookworm libc6-dev/bookworm libgfortran5/bookworm libopenblas0/bookworm
                  libopenblas0-pthread/bookworm libopenblas-dev/bookworm libopenblas-pthread-dev/bookworm
                  libv4l-0/bookworm libv4lconvert0/bookworm libv4l-dev/bookworm libi2c0/bookworm libi2c-dev/bookworm
                  zlib1g/bookworm zlib1g-dev/bookworm libjpeg62-turbo/bookworm libstdc++6/bookworm libgcc-s1/bookworm) ;;
  *) echo "sid-root: ARCH must be amd64 or arm64, not '$arch'" >&2; exit 2 ;;
esac
# A root made from another package list is made again.
stamp="script $(sha256sum "$0" | cut -c1-16) overlay ${overlay[*]} packages $*"
[ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$stamp" ] && exit 0
mkdir -p "$root"; root=$(cd "$root" && pwd)
apt_dir=$root.apt
# base-files brings the merged-/usr links (/lib → usr/lib) the loader path in libc.so goes through.
packages=(base-files swiftlang libc6-dev g++ libopenblas-dev libv4l-dev libi2c-dev zlib1g-dev "$@")
mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial,etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,overlay}
: > "$apt_dir/status"
{
  for suite in sid trixie bookworm; do
    echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
  done
} > "$apt_dir/etc/sources.list"
# sid's Release file can be past its Valid-Until date on a mirror that lags; its signature is still checked.
apt=(apt-get -q -o "Dir::State=$apt_dir" -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
     -o "Dir::Etc=$apt_dir/etc" -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
     -o "Dir::Etc::sourceparts=$apt_dir/etc/sources.list.d" -o "APT::Architecture=$arch"
     -o "APT::Architectures::=$arch" -o "APT::Default-Release=sid" -o "Debug::NoLocking=1"
     -o "Acquire::Check-Valid-Until=false" -o "APT::Sandbox::User=root")
echo "sid-root: downloading swiftlang and its dependencies for $arch into $apt_dir (once)" >&2
"${apt[@]}" update >/dev/null
"${apt[@]}" install --download-only -y --no-install-recommends "${packages[@]}" >/dev/null
# Unpacked last, over what the closure brought: the target's C libraries (arm64) and libgpiod 1.6.
(cd "$apt_dir/overlay" && rm -f ./*.deb && "${apt[@]}" download "${overlay[@]}" >/dev/null)
echo "sid-root: unpacking $(ls "$apt_dir"/cache/archives/*.deb | wc -l) packages into $root" >&2
rm -rf "$root"; mkdir -p "$root"
# Unpacked as dpkg -x would, except that the merged-/usr links (/lib → usr/lib) stay links when a package from a
# release without merged /usr (bookworm's C library) ships files under /lib.
for deb in "$apt_dir"/cache/archives/*.deb "$apt_dir"/overlay/*.deb; do
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --keep-directory-symlink
done
if [ "$arch" = arm64 ]; then
  # The unit tests load sid's shared Swift runtime, which needs glibc 2.38 and sid's libstdc++: trixie's C library
  # and sid's C++ runtime beside the sysroot's own (under /opt, where no link looks) are what scripts/test-arm64.sh
  # runs them with.
  (cd "$apt_dir/overlay" && rm -f ./*.deb && "${apt[@]}" download libc6/trixie >/dev/null)
  mkdir -p "$root/opt/test-runtime"
  for deb in "$apt_dir"/overlay/libc6_*.deb "$apt_dir"/cache/archives/libstdc++6_*.deb "$apt_dir"/cache/archives/libgcc-s1_*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root/opt/test-runtime"
  done
  # A sysroot is read from another root: its absolute links (libm.so → /lib/…/libm.so.6) are made relative.
  find "$root" -type l -lname '/*' | while read -r link; do
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$root$(readlink "$link")")" "$link"
  done
fi
# The links update-alternatives would make: OpenBLAS's pthread build as libblas, liblapack and openblas.pc.
lib=$root/usr/lib/$triple
for name in libopenblas.so libopenblas.so.0 libblas.so libblas.so.3 liblapack.so liblapack.so.3; do
  [ -e "$lib/openblas-pthread/$name" ] && ln -sfn "openblas-pthread/$name" "$lib/$name"
done
# The target links libgpiod 1.6 statically: trixie's boards ship only libgpiod 2 (another soname and API).
[ "$arch" = arm64 ] && rm -f "$lib/libgpiod.so"
mkdir -p "$lib/pkgconfig"
ln -sfn ../openblas-pthread/pkgconfig/openblas.pc "$lib/pkgconfig/openblas.pc"
# The loader's search path for the Swift runtime, and (for the root that runs) its cache.
mkdir -p "$root/etc/ld.so.conf.d" "$root"/{proc,dev,sys,tmp,opt/swift-packages}
chmod 1777 "$root/tmp"
echo "include /etc/ld.so.conf.d/*.conf" > "$root/etc/ld.so.conf"
echo /usr/libexec/swift/lib/swift/linux > "$root/etc/ld.so.conf.d/swift.conf"
# The package links usr/lib/swift to its resources but not usr/lib/swift_static, where the driver looks for the
# static runtime's start-up object when it links with the static standard library.
ln -sfn ../libexec/swift/lib/swift_static "$root/usr/lib/swift_static"
echo "/usr/lib/$triple/openblas-pthread" > "$root/etc/ld.so.conf.d/openblas.conf"
[ "$arch" = amd64 ] && /sbin/ldconfig -r "$root"
if [ "$arch" = arm64 ]; then
  # A Swift SDK bundle (SE-0387) for cross-compiling against this root, which scripts/swift-sid.sh mounts at
  # /sysroot-arm64 inside the amd64 root: sid's own stdlib, Foundation and XCTest for aarch64, linked by lld.
  sdk=$root/swift-sdks/debian-sid-aarch64.artifactbundle
  mkdir -p "$sdk/sdk"
  cat > "$sdk/info.json" <<JSON
{"schemaVersion": "1.0", "artifacts": {"debian-sid-aarch64": {"type": "swiftSDK", "version": "6.2",
  "variants": [{"path": "sdk"}]}}}
JSON
  cat > "$sdk/sdk/swift-sdk.json" <<JSON
{"schemaVersion": "4.0", "targetTriples": {"aarch64-unknown-linux-gnu": {
  "sdkRootPath": "/sysroot-arm64",
  "swiftResourcesPath": "/sysroot-arm64/usr/lib/swift",
  "swiftStaticResourcesPath": "/sysroot-arm64/usr/lib/swift_static",
  "toolsetPaths": ["toolset.json"]}}}
JSON
  cat > "$sdk/sdk/toolset.json" <<JSON
{"schemaVersion": "1.0", "swiftCompiler": {"extraCLIOptions": ["-use-ld=lld"]}}
JSON
fi
echo "$stamp" > "$root/.complete"

#!/bin/sh
# arm64-sysroot.sh [--closure] SYSROOT PACKAGE...: makes SYSROOT, a build-time root file system
# holding Debian's arm64 build of exactly PACKAGE... (not their dependencies: the caller lists
# every package it needs, see ARM64_PACKAGES in the Makefile; --closure adds every dependency
# too, which deploy/footprint.sh's arm64 "plain" row needs: the device without its stand-ins
# loads OpenCV, FFmpeg and the rest), for the cross build
# (cmake/aarch64-linux-gnu.cmake) and for running its programs under qemu-user (-L SYSROOT).
# Listing them keeps the sysroot to what the device's programs link and load: the dependency
# closure of libtorch-dev and the other -dev packages is about 400 packages (211 MB), most of
# them what Debian's libtorch names but never calls (OpenCV, FFmpeg, GDAL, Qt...), which the
# device replaces by empty stand-ins (cmake/torch-stubs.py) and so never loads.
#
# Why not multiarch (`dpkg --add-architecture arm64; apt-get install libtorch-dev:arm64`):
# on Debian 12 that co-installation is impossible next to the native build's packages.
# libtorch-dev has no Multi-Arch field, and libtorch1.13:arm64 depends on libraries that are not
# Multi-Arch: same (libpthreadpool0, libxnnpack0, libtensorpipe0, libgflags2.2,
# libgoogle-glog0v6, libgloo0, libhdf4-0-alt, libogdi4.1, ...), so apt would remove the native
# libtorch-dev, libtorch1.13, python3-torch and python3-torchvision to install them; and
# libhdf5-dev:arm64 would remove the native libhdf5-dev. So the arm64 packages are fetched by
# apt with a private state (arm64 as the only architecture, an empty dpkg status, its own
# package lists under SYSROOT.apt/), downloaded there (`apt-get download`), and unpacked with
# `dpkg -x` into SYSROOT. The system's dpkg database, architectures and packages are not touched.
#
# Idempotent: SYSROOT/.sl-sysroot records the package list it was made from; when it matches,
# nothing is done. Needs root (apt's download), dpkg, and the network to Debian's mirror.
# Exits non-zero, leaving no SYSROOT/.sl-sysroot, when any step fails: 75 (EX_TEMPFAIL) when the
# packages cannot be had (not root, apt-get failing: no network, the mirror down, a package that
# does not exist for arm64, which apt names), 1 or 2 otherwise.
set -eu

closure=
if [ "${1:-}" = --closure ]; then
    closure=--closure
    shift
fi
if [ $# -lt 2 ]; then
    echo "usage: $0 [--closure] SYSROOT PACKAGE..." >&2
    exit 2
fi
sysroot=$(realpath -m "$1") # absolute: apt reads relative folders from /
shift
want="${closure:+$closure }$*"
pkgs="$*"
stamp="$sysroot/.sl-sysroot"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "$0: making the arm64 sysroot $sysroot downloads packages with apt-get: run it" \
        "(or make device-arm64) as root" >&2
    exit 75
fi
apt_dir="$sysroot.apt"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache" "$apt_dir/debs/partial"
: >"$apt_dir/state/status"
# The system's sources, but our own state, lists, cache and download folder; arm64 only; the
# download runs as root (the _apt sandbox user cannot write into a root-owned build folder).
set -- -o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/state/status" \
    -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::archives=$apt_dir/debs" \
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" \
    -o APT::Architecture=arm64 -o "APT::Architectures::=arm64" \
    -o APT::Install-Recommends=false -o APT::Sandbox::User=root -o Debug::NoLocking=1

echo "arm64 sysroot: updating arm64 package lists in $apt_dir"
apt-get -qq "$@" update || exit 75
# shellcheck disable=SC2086 # pkgs is a list of package names
if [ -n "$closure" ]; then
    echo "arm64 sysroot: downloading $(echo "$pkgs" | wc -w) packages and their dependencies"
    apt-get -qq -y "$@" --download-only install $pkgs || exit 75
else
    echo "arm64 sysroot: downloading $(echo "$pkgs" | wc -w) packages"
    (cd "$apt_dir/debs" && apt-get -qq "$@" download $pkgs) || exit 75
fi

echo "arm64 sysroot: unpacking into $sysroot"
rm -f "$stamp"
mkdir -p "$sysroot"
# SYSROOT/.sl-debs lists the .deb files already unpacked: a longer package list unpacks only
# what it adds.
done_list="$sysroot/.sl-debs"
touch "$done_list"
n=0
for deb in "$apt_dir"/debs/*.deb; do
    name=$(basename "$deb")
    n=$((n + 1))
    grep -qxF "$name" "$done_list" && continue
    dpkg-deb -x "$deb" "$sysroot"
    echo "$name" >>"$done_list"
done

# dpkg -x keeps absolute symbolic links (libz.so -> /lib/aarch64-linux-gnu/libz.so.1.2.13), which
# would point into the build machine's own root: make each one relative, inside the sysroot.
find "$sysroot" -lname '/*' | while IFS= read -r link; do
    ln -sfnr "$sysroot$(readlink "$link")" "$link"
done

# What the packages' postinst scripts would do (update-alternatives) and dpkg -x does not:
# hdf5.pc (pkg-config's name for HDF5) is hdf5-serial.pc; libblas.so.3 and liblapack.so.3
# (libtorch links them) come from their subfolders.
lib="$sysroot/usr/lib/aarch64-linux-gnu"
if [ -f "$lib/pkgconfig/hdf5-serial.pc" ]; then
    ln -sfn hdf5-serial.pc "$lib/pkgconfig/hdf5.pc"
fi
for sub in blas lapack; do
    [ -d "$lib/$sub" ] || continue
    for so in "$lib/$sub"/*.so*; do
        name=$(basename "$so")
        [ -e "$lib/$name" ] || ln -sfn "$sub/$name" "$lib/$name"
    done
done

printf '%s' "$want" >"$stamp"
echo "arm64 sysroot: $n packages in $sysroot ($(du -sh "$sysroot" | cut -f1))"

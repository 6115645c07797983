#!/usr/bin/env python3
"""torch-stubs.py: empty stand-ins for the libraries that Debian's libtorch links but never calls.

Debian's libtorch_cpu.so.1.13 names 45 libraries in its DT_NEEDED, among them OpenCV (13 of
them), FFmpeg (5), ZeroMQ, LevelDB, LMDB and Snappy, from which it imports no symbol at all (they
are left over from Caffe2's optional operators), and which load, with their own dependencies
(Qt, GDAL, poppler, ...), about 225 more libraries: 61 MB of the idle device process's resident
memory natively (172 -> 111 MB), 15 MB of it its own pages (relocated data and what their
constructors allocate), and half its start-up (docs/benchmarks.md, "arm64"). The dynamic
loader needs a file of each name; it does not need their contents when nothing refers to them.

This script finds those libraries and writes, for each, an empty shared library with the same
soname (no code, no symbols, no constructor) into OUT. The build writes OUT as lib/torch-stubs,
next to lib/libsl_torch.so (the target sl_torch_stubs in CMakeLists.txt, natively and in the
arm64 cross build that make device-arm64 runs), and the shim's loader dlopens each file of it before the shim library, so that
libtorch's DT_NEEDED of that soname is met by the stand-in already loaded (shim/loader.c; it
falls back to plain loading if the shim then fails to load). It decides from the ELF files only, and refuses what it cannot prove:

  - a candidate is a library named in some loaded library's DT_NEEDED from which no library
    that stays loaded imports a symbol (the symbols each library leaves undefined, against the
    symbols the candidate defines), and that no staying library needs for itself with a
    version (Verneed);
  - after choosing, every strong undefined symbol of every staying library must be defined by a
    staying library (or the dynamic loader), or the script fails and writes nothing: dlopen
    with RTLD_NOW would fail the same way.

ROOT need not hold the libraries to be replaced: the arm64 sysroot holds only what the device
loads (ARM64_PACKAGES in the Makefile). A library named but absent defines nothing here, so it is
replaced when what stays needs no symbol and no version from it (the check above), and the
script fails, naming it, when what stays does.

A library reached only through dlopen/dlsym by name would not be seen; libtorch does not open
these ones so (the arm64 tests run the device with the stubs, tests/arm64/).

usage: torch-stubs.py --root ROOT --cc CC --out OUT [--keep SONAME ...] [--or-none] [--cache FILE]
                      ELF...
  ROOT  the file system the libraries come from: / natively, the arm64 sysroot for the device
  CC    the C compiler for the target (gcc, aarch64-linux-gnu-gcc)
  ELF   every program that will load OUT (its shim's loader, OUT being next to
        lib/libsl_torch.so), and what they dlopen
        (bin/sl-offload bin/sl-preprocess lib/libsl_torch.so): a library that one of them
        uses is never replaced (sl-offload uses libzstd, which libtorch_cpu names but does
        not call)
Prints what it replaced, and the counts of libraries before and after, on stdout. Exits 1, with
OUT untouched, on any failure; with --or-none (the native build), it removes OUT instead, says
that the programs will load libtorch's libraries as named, and exits 0: no stand-ins is slower,
never wrong. --cache FILE keeps what was read of each library between runs (by path, size and
modification time): the build's rebuilds, after a program changed, read only the programs again.
Needs readelf (binutils).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


class Refused(Exception):
    """What the script cannot prove or do; main() reports it."""


def fail(msg):
    raise Refused(msg)


def readelf(args, path):
    r = subprocess.run(["readelf", "-W", *args, path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"readelf {' '.join(args)} {path}: {r.stderr.strip()}")
    return r.stdout


# --cache FILE: what was read of each library, by path, size and modification time, so that a
# rebuild reads again only the files that changed (the programs), not the 290 libraries.
_cache = {}


def file_key(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


class Lib:
    """One shared library: its DT_NEEDED and RPATH/RUNPATH; its versions needed and symbols are
    read when first asked for."""

    def __init__(self, path):
        self.path = path
        self.key = file_key(path)
        c = _cache.get(path)
        if c and c["key"] == self.key:
            self.needed, self.runpath = c["needed"], c["runpath"]
            self._verneed = set(c["verneed"]) if c["verneed"] is not None else None
            self._defined = set(c["defined"]) if c["defined"] is not None else None
            self._undefined = set(c["undefined"]) if c["undefined"] is not None else None
            return
        dyn = readelf(["-d"], path)
        self.needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dyn)
        self.runpath = []
        for kind in ("RPATH", "RUNPATH"):
            for v in re.findall(rf"\({kind}\)\s+Library \w+: \[(.*)\]", dyn):
                self.runpath += v.split(":")
        self._verneed = self._defined = self._undefined = None

    def cached(self):
        """This library's entry of the cache."""
        def opt(v):
            return sorted(v) if v is not None else None
        return {"key": self.key, "needed": self.needed, "runpath": self.runpath,
                "verneed": opt(self._verneed), "defined": opt(self._defined),
                "undefined": opt(self._undefined)}

    @property
    def verneed(self):
        """The files from which this library needs a symbol version (Verneed)."""
        if self._verneed is None:
            needs = readelf(["-V"], self.path).split("Version needs section", 1)
            self._verneed = set(re.findall(r"File: (\S+)", needs[1])) if len(needs) > 1 else set()
        return self._verneed

    def _symbols(self):
        self._defined, self._undefined = set(), set()
        for line in readelf(["--dyn-syms"], self.path).splitlines():
            p = line.split()
            if len(p) < 8 or not p[0].endswith(":") or p[2] == "Size":
                continue
            name = p[7].split("@")[0]
            if p[6] == "UND":
                if p[4] != "WEAK" and name:  # a weak reference may stay unresolved
                    self._undefined.add(name)
            elif p[4] in ("GLOBAL", "WEAK", "UNIQUE") and p[3] != "SECTION":
                self._defined.add(name)

    @property
    def defined(self):
        if self._defined is None:
            self._symbols()
        return self._defined

    @property
    def undefined(self):
        """Strong undefined symbols only."""
        if self._undefined is None:
            self._symbols()
        return self._undefined


def search_dirs(root, triplet):
    """The dynamic loader's default folders and ld.so.conf.d's, under root ("" natively)."""
    dirs = [f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib"]
    for conf in sorted(glob.glob(root + "/etc/ld.so.conf.d/*.conf")):
        with open(conf) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line.startswith("/"):
                    dirs.append(line)
    return [root + d for d in dirs]


def resolve_in(path, root):
    """realpath of path inside root: absolute symbolic links are read as if root were /."""
    for _ in range(40):
        if not os.path.islink(path):
            return os.path.normpath(path)
        t = os.readlink(path)
        path = root + t if t.startswith("/") else os.path.join(os.path.dirname(path), t)
    fail(f"{path}: too many symbolic links")


def find(name, dirs, origin, rpaths, root):
    """The file the dynamic loader would open for soname `name`, or None."""
    for d in [*(r.replace("$ORIGIN", origin) if "$ORIGIN" in r else root + r for r in rpaths), *dirs]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return resolve_in(p, root)
    return None


_libs = {}


def lib_at(path):
    """The Lib of path, read once."""
    if path not in _libs:
        _libs[path] = Lib(path)
    return _libs[path]


def load_closure(roots, dirs, root, stubbed, absent=None):
    """The libraries loaded from roots ((name, path) pairs), not descending into stubbed
    sonames: {soname: Lib}. A needed library not found under root fails, unless absent is a
    set: then its name is added there and it is not descended into."""
    libs, todo = {}, list(roots)
    while todo:
        name, path = todo.pop(0)
        if name in libs or name in stubbed:
            continue
        lib = lib_at(path)
        libs[name] = lib
        for n in lib.needed:
            if n in libs or n in stubbed or (absent is not None and n in absent):
                continue
            p = find(n, dirs, os.path.dirname(path), lib.runpath, root)
            if p is None:
                if absent is None:
                    fail(f"{n} (needed by {path}) not found under {root}")
                absent.add(n)
                continue
            todo.append((n, p))
    return libs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep", action="append", default=[], help="a soname never to replace")
    ap.add_argument("--or-none", action="store_true",
                    help="on failure remove OUT and exit 0 (no stand-ins: plain loading)")
    ap.add_argument("--cache", help="what was read of each library, kept between runs")
    ap.add_argument("libraries", nargs="+")
    a = ap.parse_args()
    if a.cache:
        try:
            with open(a.cache) as f:
                _cache.update(json.load(f))
        except (OSError, ValueError):
            pass  # none yet, or unreadable: read everything
    try:
        stubs(a)
    except (Refused, OSError) as e:  # OSError: readelf or the compiler missing, a file unreadable
        print(f"torch-stubs: {e}", file=sys.stderr)
        if not a.or_none:
            sys.exit(1)
        if os.path.isdir(a.out):
            shutil.rmtree(a.out)
        print(f"torch-stubs: no stand-ins in {a.out}: the programs load every library libtorch "
              f"names (plain loading, about 0.3 s of CPU more per start; not an error)")


def save_cache(path):
    """Writes the cache (temporary file + rename); best effort, like reading it."""
    try:
        with open(path + ".tmp", "w") as f:
            json.dump({p: l.cached() for p, l in _libs.items()}, f)
        os.replace(path + ".tmp", path)
    except OSError as e:
        print(f"torch-stubs: cannot write the cache {path}: {e}", file=sys.stderr)


def stubs(a):
    root = os.path.realpath(a.root).rstrip("/")  # "" for /
    machine = readelf(["-h"], a.libraries[0])
    triplet = "aarch64-linux-gnu" if "AArch64" in machine else "x86_64-linux-gnu"
    dirs = search_dirs(root, triplet)

    # A library absent from ROOT (its package not unpacked: cmake/arm64-sysroot.sh unpacks only
    # what the device loads) defines nothing here, so it can only be replaced, and only when
    # what stays resolves every symbol and version by itself (checked below).
    absent = set()
    full = load_closure([(os.path.basename(r), r) for r in a.libraries], dirs, root, set(), absent)
    # Kept from the start: what was asked for, the C library and loader, libtorch's own.
    keep = {os.path.basename(r) for r in a.libraries} | set(a.keep)
    keep |= {n for n in full if n.startswith(("ld-linux", "libc.so", "libm.so", "libtorch", "libc10"))}
    if keep & absent:
        fail(f"not found under {root}: {' '.join(sorted(keep & absent))}")
    # Grow the kept set from there: a library that a kept one names in DT_NEEDED is kept when
    # it defines a symbol that the kept ones use and do not define, or when a kept one needs a
    # symbol version from it. Everything named and not kept is replaced.
    while True:
        kept = load_closure([(n, full[n].path) for n in sorted(keep)], dirs, root,
                            (set(full) | absent) - keep)
        have = set().union(*(l.defined for l in kept.values()))
        want = set().union(*(l.undefined for l in kept.values())) - have
        versioned = set().union(*(l.verneed for l in kept.values()))
        named = {n for l in kept.values() for n in l.needed} - keep
        missing = named & absent & versioned
        if missing:
            fail(f"a kept library needs a symbol version from {' '.join(sorted(missing))}, "
                 f"not found under {root}")
        more = {n for n in named - absent if n in versioned or full[n].defined & want}
        if not more:
            break
        keep |= more
    if want:
        some = ", ".join(sorted(want)[:5])
        fail(f"{len(want)} symbols that the kept libraries use are defined by none of them nor "
             f"by a library they name: {some}")
    stubbed = named
    staying = kept
    if not stubbed:
        fail("nothing to replace: every library the program loads is used")

    tmp = tempfile.mkdtemp(prefix=".torch-stubs.", dir=os.path.dirname(os.path.abspath(a.out)) or ".")
    try:
        src, obj = os.path.join(tmp, "empty.c"), os.path.join(tmp, "empty.o")
        with open(src, "w") as f:
            f.write("/* An empty stand-in library (cmake/torch-stubs.py). */\n")
        r = subprocess.run([a.cc, "-c", "-o", obj, src], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"{a.cc} -c {src}: {r.stderr.strip()}")

        # Compiled once, linked once per name, a few at a time: 22 runs of the whole compiler
        # one after the other took most of this script's time.
        def link(n):
            return n, subprocess.run([a.cc, "-shared", "-nostdlib", "-Wl,-soname," + n, "-o",
                                      os.path.join(tmp, n), obj], capture_output=True, text=True)

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for n, r in pool.map(link, sorted(stubbed)):
                if r.returncode != 0:
                    fail(f"{a.cc} for {n}: {r.stderr.strip()}")
        os.remove(src)
        os.remove(obj)
        with open(os.path.join(tmp, "README"), "w") as f:
            f.write("Empty libraries standing in for ones that libtorch names in DT_NEEDED but never\n"
                    "calls (made by cmake/torch-stubs.py). The shim's loader, finding this folder next\n"
                    "to libsl_torch.so, loads them first (shim/loader.c; SL_TORCH_STUBS=0: not).\n")
        if os.path.isdir(a.out):
            shutil.rmtree(a.out)
        os.rename(tmp, a.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if a.cache:
        save_cache(a.cache)
    print(f"torch-stubs: {len(stubbed)} libraries replaced by empty ones in {a.out}: "
          f"{' '.join(sorted(stubbed))}")
    found = f"{len(full)} (and {len(absent)} not unpacked)" if absent else f"{len(full)}"
    print(f"torch-stubs: the program's libraries: {found} -> {len(staying)}")


if __name__ == "__main__":
    main()

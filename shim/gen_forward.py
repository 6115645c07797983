#!/usr/bin/env python3
"""gen_forward.py: the C forwarding layer of the shim, generated from its public headers.

The shim's C++ (shim/*.cpp over libtorch) is built as a shared library that commands open with
dlopen on their first model-running call (shim/loader.c), so that a command that runs no model
never loads libtorch. Callers keep calling the functions declared in shim/*.h; this script reads
those headers and writes, for every declared function, a C definition of the same name that
loads the library if needed and calls the library's function of that name.

    gen_forward.py --forward OUT.c --abi ABI.c HEADER...
        writes the forwarders (linked into every command) and the ABI stamp (linked into the
        shared library; the loader refuses a library built from other headers)
    gen_forward.py --check-exports LIB.so HEADER...
        fails unless the built library exports every declared function (run after linking it)

What a forwarder does when the library cannot be loaded (the caller sees an ordinary failure and
sl_torch_last_error() says "cannot load the model runtime: <why>"):
  int -> SLT_ETORCH, int64_t -> -1, size_t -> 0, double -> -1, sl_dtype -> SL_DT_NONE,
  pointer -> NULL, void -> nothing. Any other return type stops the build: add it to FAIL_VALUE.
Two kinds of function never load the library:
  *_free       nothing can have been allocated before the library was loaded: a no-op
  *_last_error the loader's own message for this thread until the library is loaded

Every top-level declaration of a header must be understood: a function prototype (forwarded), a
typedef, or an enum / struct / union definition (skipped; both sides share the header). Anything
else (a variable, a variadic function, an unnamed parameter, a macro-wrapped prototype) stops the
build with the file, the declaration and the reason, so that the forwarders cannot silently drift
from the headers.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys

FAIL_VALUE = {
    "int": "SLT_ETORCH",
    "int64_t": "-1",
    "size_t": "0",
    "double": "-1.0",
    "sl_dtype": "SL_DT_NONE",
}

C_TYPE_WORDS = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool",
    "const", "volatile", "restrict", "struct", "enum", "union", "size_t", "int64_t", "uint64_t",
    "int32_t", "uint32_t", "uint8_t", "int8_t", "int16_t", "uint16_t",
}


class ParseError(Exception):
    pass


def strip_comments_and_directives(text):
    """Removes comments, preprocessor lines (with continuations) and extern "C" braces; keeps
    line breaks so that line numbers stay right."""
    out = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ParseError("unterminated comment")
            out.append("\n" * text.count("\n", i, j + 2))
            i = j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    lines = []
    cont = False
    for line in "".join(out).split("\n"):
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            lines.append("")
        else:
            lines.append(line)
    text = "\n".join(lines)
    # extern "C" { ... }: drop the opening; its closing brace is skipped as a stray '}' below.
    return re.sub(r'extern\s+"C"\s*\{', lambda m: " " * len(m.group(0)), text)


def statements(text):
    """Top-level declarations as (line, text): split at ';' outside braces and parentheses; an
    inline function body ends its statement at its closing brace."""
    stmts = []
    cur, depth, paren, line, start = [], 0, 0, 1, None
    for ch in text:
        if ch == "\n":
            line += 1
        if depth == 0 and paren == 0 and ch == "}":
            continue  # the closing brace of extern "C"
        if start is None and not ch.isspace():
            start = line
        cur.append(ch)
        if ch == "(":
            paren += 1
        elif ch == ")":
            paren -= 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            s = "".join(cur)
            if depth == 0 and re.search(r"\)\s*\{", s) and not s.lstrip().startswith(("typedef", "enum", "struct", "union")):
                stmts.append((start, s.strip()))
                cur, start = [], None
        elif ch == ";" and depth == 0 and paren == 0:
            stmts.append((start, "".join(cur)[:-1].strip()))
            cur, start = [], None
    if "".join(cur).strip():
        raise ParseError("declaration not ended by ';' at line %d: %s" % (start, "".join(cur).strip()))
    return stmts


def strip_attributes(s):
    """Removes __attribute__((...)) (balanced parentheses)."""
    while True:
        m = re.search(r"__attribute__\s*\(", s)
        if not m:
            return s
        i, depth = m.end() - 1, 0
        for j in range(i, len(s)):
            depth += s[j] == "("
            depth -= s[j] == ")"
            if depth == 0:
                break
        else:
            raise ParseError("unbalanced __attribute__")
        s = s[:m.start()] + " " + s[j + 1:]


def split_params(s):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def param_name(p):
    m = re.match(r"^[^()]*\(\s*\*\s*(\w+)\s*\)\s*\(.*\)$", p, re.S)  # function pointer
    if m:
        return m.group(1)
    if "(" in p:
        raise ParseError("parameter '%s' is not understood" % p)
    q = re.sub(r"(\[[^\]]*\]\s*)+$", "", p).strip()  # arrays: stride[2]
    m = re.search(r"(\w+)$", q)
    if not m or m.group(1) in C_TYPE_WORDS or not q[:m.start()].strip():
        raise ParseError("parameter '%s' has no name" % p)
    if not re.search(r"[\w*]", q[:m.start()]):
        raise ParseError("parameter '%s' has no type" % p)
    return m.group(1)


def parse_function(decl):
    d = " ".join(strip_attributes(decl).split())
    m = re.match(r"^(?P<ret>(?:[A-Za-z_]\w*\s*|\*\s*)+?)\s*(?P<name>[A-Za-z_]\w*)\s*\((?P<params>.*)\)$", d)
    if not m:
        raise ParseError("not a function prototype")
    ret = m.group("ret").strip()
    ret = re.sub(r"^(extern|static|inline)\s+", "", ret)
    if re.match(r"^(static|inline)\b", d):
        return None
    ret = re.sub(r"\s*((?:\*\s*)+)$", lambda p: " " + p.group(1).replace(" ", ""), ret).strip()
    name = m.group("name")
    params = m.group("params").strip()
    if params in ("", "void"):
        if params == "":
            raise ParseError("'%s()' declares no prototype: write '%s(void)'" % (name, name))
        names = []
        params = "void"
    else:
        plist = split_params(params)
        if "..." in plist:
            raise ParseError("variadic function %s cannot be forwarded" % name)
        names = [param_name(p) for p in plist]
    if ret.endswith("*"):
        fail = "NULL"
    elif ret == "void":
        fail = None
    elif ret in FAIL_VALUE:
        fail = FAIL_VALUE[ret]
    else:
        raise ParseError("no failure value for return type '%s' of %s: add one to FAIL_VALUE in "
                         "shim/gen_forward.py" % (ret, name))
    return {"ret": ret, "name": name, "params": params, "args": names, "fail": fail}


def parse_header(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        body = strip_comments_and_directives(text)
        stmts = statements(body)
    except ParseError as e:
        raise SystemExit("%s: %s" % (path, e))
    funcs = []
    for line, s in stmts:
        flat = " ".join(s.split())
        if re.match(r"^typedef\b", flat):
            continue
        if re.match(r"^(enum|struct|union)\b", flat) and ("{" in flat or "(" not in flat):
            continue  # a type definition or forward declaration
        if re.search(r"\)\s*\{", flat):
            if re.match(r"^static\s+inline\b|^inline\b", flat):
                continue  # defined in the header itself
            raise SystemExit("%s:%d: a function defined in a public header must be static inline: %s" % (path, line, flat[:120]))
        if "(" not in flat:
            raise SystemExit("%s:%d: cannot forward this declaration (a variable?): %s" % (path, line, flat))
        try:
            fn = parse_function(flat)
        except ParseError as e:
            raise SystemExit("%s:%d: %s: %s" % (path, line, e, flat))
        if fn:
            fn["header"] = path
            funcs.append(fn)
    return funcs


def parse_all(headers):
    funcs, seen = [], {}
    for h in headers:
        for fn in parse_header(h):
            if fn["name"] in seen:
                raise SystemExit("%s: %s is also declared in %s" % (h, fn["name"], seen[fn["name"]]))
            seen[fn["name"]] = h
            funcs.append(fn)
    if not funcs:
        raise SystemExit("no function declarations found in %s" % " ".join(headers))
    return funcs


def abi_stamp(funcs):
    h = hashlib.sha256()
    for fn in funcs:
        h.update(("%s %s(%s);\n" % (fn["ret"], fn["name"], fn["params"])).encode())
    return h.hexdigest()[:16]


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def include_of(header):
    parts = os.path.normpath(os.path.abspath(header)).split(os.sep)
    return "/".join(parts[-2:])  # "shim/sl_torch.h", as the project includes it


def forward_source(headers, funcs):
    out = ["/* Generated by shim/gen_forward.py from %s: do not edit. */" %
           ", ".join(include_of(h) for h in headers),
           '#include "shim/loader.h"', ""]
    for h in headers:
        out.append('#include "%s"' % include_of(h))
    out += ["", "#include <stddef.h>", "",
            'const char sl_shim_abi_expected[] = "%s";' % abi_stamp(funcs),
            "const size_t sl_shim_nfn = %d;" % len(funcs),
            "const char *const sl_shim_fn_names[] = {"]
    out += ['    "%s",' % fn["name"] for fn in funcs]
    out += ["};", "void *sl_shim_fn[%d];" % len(funcs), ""]
    for i, fn in enumerate(funcs):
        call = "((__typeof__(&%s))sl_shim_fn[%d])(%s)" % (fn["name"], i, ", ".join(fn["args"]))
        out.append("%s%s%s(%s)" % (fn["ret"], "" if fn["ret"].endswith("*") else " ", fn["name"], fn["params"]))
        out.append("{")
        if fn["name"].endswith("_free") and fn["ret"] == "void":
            out.append("    if (!sl_shim_loaded()) return; /* nothing to free before the load */")
        elif fn["name"].endswith("_last_error") and fn["ret"].endswith("*"):
            out.append("    if (!sl_shim_loaded()) return sl_shim_error();")
        elif fn["fail"] is None:
            out.append('    if (sl_shim_need("%s")) return;' % fn["name"])
        else:
            out.append('    if (sl_shim_need("%s")) return %s;' % (fn["name"], fn["fail"]))
        out.append("    %s%s;" % ("" if fn["ret"] == "void" else "return ", call))
        out.append("}")
        out.append("")
    return "\n".join(out)


def abi_source(headers, funcs):
    return ("/* Generated by shim/gen_forward.py: the stamp of the headers this library was built\n"
            " * from, which the loader (shim/loader.c) compares with its own. Do not edit. */\n"
            '__attribute__((visibility("default"))) const char sl_shim_abi[] = "%s";\n'
            % abi_stamp(funcs))


def check_exports(lib, funcs):
    try:
        nm = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                            capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit("gen_forward.py: cannot list the symbols of %s: %s" % (lib, e))
    exported = {l.split()[-1].split("@")[0] for l in nm.splitlines() if l.split()[1:2] == ["T"]}
    missing = [fn["name"] for fn in funcs if fn["name"] not in exported]
    if missing:
        raise SystemExit("%s does not define %d declared function(s): %s" %
                         (lib, len(missing), ", ".join(missing)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--forward")
    ap.add_argument("--abi")
    ap.add_argument("--check-exports")
    ap.add_argument("headers", nargs="+")
    a = ap.parse_args()
    headers = sorted(a.headers)
    funcs = parse_all(headers)
    if a.forward:
        write_if_changed(a.forward, forward_source(headers, funcs))
    if a.abi:
        write_if_changed(a.abi, abi_source(headers, funcs))
    if a.check_exports:
        check_exports(a.check_exports, funcs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

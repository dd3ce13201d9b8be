#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The files a traced run needs, for scripts/bench-pack.sh.

Usage: bench-closure.py TRACE [EXCLUDE...] <EXTRA

TRACE is strace's output (-f -y, successful calls only). Every path it
names is taken: absolute string arguments, a directory descriptor's path
joined with the name beside it (QEMU's 9p server walks the guest's paths
one component at a time, openat on the parent's descriptor), and the path
of a returned descriptor. EXTRA lists more paths, one a line. Paths under
/proc, /sys, /dev, /tmp, /run and /var/tmp (the packed host mounts or
makes its own) and under the EXCLUDE prefixes are left out. Each path is
taken as it lies in the tree: its parent directories resolved, and every
symbolic link on the way (an ancestor, or the path itself) kept with what
it points to. Prints them without the leading slash, sorted, for tar's
--no-recursion -T.
"""
import os
import re
import sys

RETURNED = re.compile(r"= \d+<(/[^>]*)>")
AT_NAME = re.compile(r'\(\d+<(/[^>]*)>, "([^"]*)"')
ABSOLUTE = re.compile(r'"(/[^"]*)"')
SKIP = ("/proc", "/sys", "/dev", "/tmp", "/run", "/var/tmp")


def traced(path):
    """Paths named in the trace."""
    found = set()
    with open(path, errors="replace", encoding="utf-8") as f:
        for line in f:
            for m in RETURNED.finditer(line):
                found.add(m.group(1))
            for m in AT_NAME.finditer(line):
                d, n = m.groups()
                found.add(os.path.normpath(os.path.join(d, n)) if n else d)
            for m in ABSOLUTE.finditer(line):
                found.add(os.path.normpath(m.group(1)))
    return found


def under(path, prefixes):
    return any(path == p or path.startswith(p.rstrip("/") + "/")
               for p in prefixes)


def take(path, out):
    """PATH and the links that lead to it, as they lie on disk."""
    parts = path.split("/")
    for i in range(2, len(parts)):
        a = "/".join(parts[:i])
        if os.path.islink(a) and a not in out:
            out.add(a)
            take(os.path.normpath(os.path.join(os.path.dirname(a),
                                               os.readlink(a))), out)
    path = os.path.join(os.path.realpath(os.path.dirname(path)),
                        os.path.basename(path))
    if not os.path.lexists(path) or path in out:
        return
    out.add(path)
    if os.path.islink(path):
        take(os.path.normpath(os.path.join(os.path.dirname(path),
                                           os.readlink(path))), out)


def main():
    paths = traced(sys.argv[1])
    paths.update(l.strip() for l in sys.stdin if l.startswith("/"))
    exclude = SKIP + tuple(sys.argv[2:])
    out = set()
    for p in sorted(paths):
        if p != "/" and not under(p, exclude):
            take(p, out)
    for p in sorted(out):
        print(p.lstrip("/"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The names the driver's code defines against the names its documents use.

  scripts/docs-names.py [REPO]

From the code (drivers/target/user, the selftest hooks of debug.c and the
KUnit tests aside): the configfs attributes and actions (CONFIGFS_ATTR*),
the control options (tcmu_tokens), the module parameters (module_param*),
the info fields (the format strings of the info lines and the zero-copy
counter names), the debugfs files and the tracepoints (TRACE_EVENT).

Checked, each mismatch one line "docs-names: ...", exit 1 if any:
  - every name appears in the admin guide (Documentation/target/
    tcmu-admin.rst) as ``name`` (info fields: as ``Field`` or in the
    example);
  - the reverse, for the admin guide's tables of the driver's
    attributes, control options, module parameters, debugfs files and
    tracepoints: every row names something the code defines;
  - the State:, Pool: and ZeroCopy: info lines of the admin guide's
    example and of the README list the code's fields, in its order;
  - the README's module parameter table lists exactly the code's
    parameters.
"""
import glob
import os
import re
import sys

repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")
drv = os.path.join(repo, "drivers/target/user")
bad = []


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


code = {}
for path in sorted(glob.glob(os.path.join(drv, "*.[ch]"))):
    if os.path.basename(path) == "debug.c" or path.endswith(".mod.c"):
        continue
    code[os.path.basename(path)] = read(path)
allc = "\n".join(code.values())

attrs = re.findall(r"CONFIGFS_ATTR(?:_RO|_WO)?\(tcmu_, (\w+)\)", allc)
tokens = allc[allc.index("tcmu_tokens"):]
tokens = tokens[:tokens.index("};")]
opts = re.findall(r'"(\w+)=%', tokens)
params = re.findall(r"module_param(?:_cb|_named)?\((\w+),", allc)
debugfs = re.findall(r'debugfs_create_file\("(\w+)"', allc)
traces = re.findall(r"TRACE_EVENT\((\w+),", allc)


def fmt_keys(prefix):
    """The keys of the info line whose format string starts with prefix"""
    m = re.search(r'"(%s: [^"]*)\\n"' % prefix, code["configfs.c"])
    if not m:
        bad.append("no %s line in configfs.c's info" % prefix)
        return []
    keys = re.findall(r"(\w+): %", m.group(1))
    return keys if keys[:1] == [prefix] else [prefix] + keys


zc = code["zero_copy.c"]
zc_names = zc[zc.index("tcmu_zc_stat_names"):]
zc_names = re.findall(r'\] = "(\w+)"', zc_names[:zc_names.index("};")])
zc_head = re.search(r'"(ZeroCopy: %s ZcMinKB: %u)"', zc)
if not zc_head:
    bad.append("no ZeroCopy line in zero_copy.c")
info = {
    "State": fmt_keys("State"),
    "Pool": fmt_keys("Pool"),
    "Ring": fmt_keys("Ring"),
    "ZeroCopy": ["ZeroCopy", "ZcMinKB"] + zc_names,
}
for what, names in (("attribute", attrs), ("control option", opts),
                    ("module parameter", params), ("debugfs file", debugfs),
                    ("tracepoint", traces), ("info line", info["State"])):
    if not names:
        bad.append("found no %s in the code: the check is out of date" % what)

admin = read(os.path.join(repo, "Documentation/target/tcmu-admin.rst"))
readme = read(os.path.join(repo, "README.md"))

# 1. every name of the code in the admin guide
for what, names in (("attribute or action", attrs),
                    ("control option", opts),
                    ("module parameter", params),
                    ("debugfs file", debugfs), ("tracepoint", traces)):
    for n in names:
        if "``%s``" % n not in admin:
            bad.append("%s %s is not in the admin guide" % (what, n))
for line, names in info.items():
    for n in names:
        if not re.search(r"\b%s\b" % n, admin):
            bad.append("info field %s (%s: line) is not in the admin guide"
                       % (n, line))


# 2. the admin guide's tables name nothing the code lacks
def table_after(label, text=admin):
    """First-column ``names`` of the first table after the label"""
    at = text.index(label)
    rows, rules = [], 0
    for ln in text[at:].splitlines():
        if re.match(r"^=+(  +=+)+\s*$", ln):
            rules += 1
            if rules == 3:
                break
            continue
        if rules == 2:
            m = re.match(r"^``(\w+)``", ln)
            if m:
                rows.append(m.group(1))
    return rows


for label, names, what in (
        (".. _tcmu_admin_attrib:", attrs, "attribute"),
        (".. _tcmu_admin_control:", opts, "control option"),
        (".. _tcmu_admin_params:", params, "module parameter"),
        (".. _tcmu_admin_trace:", traces, "tracepoint")):
    rows = table_after(label)
    if not rows:
        bad.append("no table after %s in the admin guide" % label)
    for r in rows:
        if r not in names:
            bad.append("the admin guide's %s table names %s, which the "
                       "code does not define" % (what, r))
    if what in ("module parameter", "tracepoint"):
        for n in names:
            if n not in rows:
                bad.append("the admin guide's %s table lacks %s" % (what, n))

# 3. the info lines of the admin guide's example and of the README
for doc, text in (("admin guide", admin), ("README", readme)):
    for line, names in info.items():
        found = re.findall(r"^\s+%s: .*$" % line, text, re.M)
        if not found:
            bad.append("the %s shows no %s: info line" % (doc, line))
        for f in found:
            keys = re.findall(r"(\w+):", f)
            if keys != names:
                bad.append("the %s's %s: line has %s; the code writes %s"
                           % (doc, line, " ".join(keys), " ".join(names)))

# 4. the README's module parameter table
rows = []
for cell in re.findall(r"^\| ([^|]+) \|", readme[readme.index("| parameter |"):]
                       .split("\n\n")[0], re.M):
    rows += re.findall(r"`(\w+)`", cell)
if sorted(rows) != sorted(params):
    bad.append("the README's parameter table lists %s; the code defines %s"
               % (" ".join(sorted(rows)), " ".join(sorted(params))))

for b in bad:
    print("docs-names: " + b)
print("docs-names: %d attributes and actions, %d control options, "
      "%d parameters, %d info fields, %d debugfs files, %d tracepoints; "
      "%d mismatches" % (len(attrs), len(opts), len(params),
                         sum(len(v) for v in info.values()), len(debugfs),
                         len(traces), len(bad)))
sys.exit(1 if bad else 0)

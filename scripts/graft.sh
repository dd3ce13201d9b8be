#!/bin/bash
# Put this repository's driver into a Linux 6.12 source tree in place of
# the stock TCMU driver: drivers/target/user/, the UAPI header, the
# drivers/target Kconfig/Makefile entries, the two pages under
# Documentation/target/ (added to its toctree after the stock
# tcmu-design, which stays: it documents the unchanged ring ABI) and the
# driver's MAINTAINERS entry (the file MAINTAINERS at the top of this
# repository, put where the sorted section titles want it).  Idempotent:
# a second run changes nothing, and an edited entry replaces the old one.
#   scripts/graft.sh LINUX_SRC
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=${1:?usage: $0 LINUX_SRC}

mkdir -p "$src/drivers/target/user"
# copy only what changed, so make rebuilds only what it must
rsync -a --delete --checksum \
	--exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
	--exclude='modules.order' --exclude='Module.symvers' \
	"$repo/drivers/target/user/" "$src/drivers/target/user/"
rsync -a --checksum "$repo/include/uapi/linux/target_core_user.h" \
	"$src/include/uapi/linux/target_core_user.h"
rsync -a --checksum "$repo/Documentation/target/tcmu-ng.rst" \
	"$repo/Documentation/target/tcmu-admin.rst" "$src/Documentation/target/"

python3 - "$src/drivers/target" <<'PY'
import re, sys
d = sys.argv[1]
kc = open(d + "/Kconfig").read()
if 'source "drivers/target/user/Kconfig"' not in kc:
    kc, n = re.subn(r'config TCM_USER2\n(?:\t.*\n|\n(?=\t))*',
                    'source "drivers/target/user/Kconfig"\n', kc)
    assert n == 1, "stock TCM_USER2 entry not found"
    open(d + "/Kconfig", "w").write(kc)
mk = open(d + "/Makefile").read()
if "user/" not in mk:
    mk, n = re.subn(r'obj-\$\(CONFIG_TCM_USER2\)\s*\+= target_core_user\.o',
                    'obj-$(CONFIG_TCM_USER2)\t\t+= user/', mk)
    assert n == 1, "stock TCM_USER2 Makefile line not found"
    open(d + "/Makefile", "w").write(mk)
PY

python3 - "$src" "$repo/MAINTAINERS" <<'PY'
import re, sys
src, entry_file = sys.argv[1], sys.argv[2]

# Documentation/target/index.rst: our pages right after tcmu-design
idx = src + "/Documentation/target/index.rst"
rst = open(idx).read()
prev = "tcmu-design"
for page in ("tcmu-ng", "tcmu-admin"):
    if not re.search(r'^[ \t]+%s[ \t]*$' % page, rst, re.M):
        rst, n = re.subn(r'^([ \t]+)%s[ \t]*\n' % prev,
                         r'\g<0>\g<1>%s\n' % page, rst, count=1, flags=re.M)
        assert n == 1, prev + " not found in the target toctree"
    prev = page
if rst != open(idx).read():
    open(idx, "w").write(rst)

# MAINTAINERS: sections are separated by blank lines and sorted by title
# (scripts/parse-maintainers.pl compares them upper-cased, THE REST last)
entry = open(entry_file).read().strip("\n") + "\n"
title = entry.split("\n", 1)[0]
mf = src + "/MAINTAINERS"
blocks = open(mf).read().split("\n\n")

def section_title(block):
    lines = block.strip("\n").split("\n")
    if len(lines) > 1 and re.match(r'[A-Z]:\t', lines[1]) and \
       not re.match(r'[A-Z]:', lines[0]):
        return lines[0]
    return None

def key(t):
    return t.upper().replace("THE REST", "ZZZZZZ")

# ours: by title, or by the driver's directory if the title changed
old = [i for i, b in enumerate(blocks) if section_title(b) and
       (section_title(b) == title or
        "\nF:\tdrivers/target/user/\n" in b.strip("\n") + "\n")]
assert len(old) <= 1, "our MAINTAINERS section appears twice"
if not old or blocks[old[0]].strip("\n") + "\n" != entry:
    if old:
        del blocks[old[0]]
    sections = [i for i, b in enumerate(blocks) if section_title(b)]
    assert sections, "no section found in MAINTAINERS"
    keys = [key(section_title(blocks[i])) for i in sections]
    # between two neighbours that sort around it; an entry out of place
    # elsewhere in the file does not move it
    at = [sections[j + 1] for j in range(len(sections) - 1)
          if keys[j] < key(title) < keys[j + 1]]
    at += [i for i, k in zip(sections, keys) if k > key(title)]
    blocks.insert(at[0] if at else sections[-1] + 1, entry.rstrip("\n"))
    open(mf, "w").write("\n\n".join(blocks))
PY

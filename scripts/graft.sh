#!/bin/bash
# Put this repository's driver into a Linux 6.12 source tree in place of
# the stock TCMU driver: drivers/target/user/, the UAPI header, and the
# drivers/target Kconfig/Makefile entries.  Idempotent.
#   scripts/graft.sh LINUX_SRC
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${1:?usage: $0 LINUX_SRC}

mkdir -p "$src/drivers/target/user"
# copy only what changed, so make rebuilds only what it must
rsync -a --delete --checksum \
	--exclude='*.o' --exclude='*.ko' --exclude='*.mod*' --exclude='.*.cmd' \
	--exclude='modules.order' --exclude='Module.symvers' \
	"$repo/drivers/target/user/" "$src/drivers/target/user/"
rsync -a --checksum "$repo/include/uapi/linux/target_core_user.h" \
	"$src/include/uapi/linux/target_core_user.h"

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

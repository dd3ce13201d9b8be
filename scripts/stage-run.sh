#!/bin/bash
# Run selftests in a VM on the debug or Debian kernel with the current
# tree (make selftests, make selftest T=...): installs what it needs,
# builds the kernel (cached) and the module, stages them.  Output under
# ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}/stage-KIND/out.
#   scripts/stage-run.sh debug|debian [TEST...]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kind=${1:?usage: $0 debug|debian [TEST...]}
shift
"$st/vm/deps.sh"
debug=()
if [[ $kind == debug ]]; then
	kdir=$("$st/vm/kernel.sh" debug)
	debug=(CONFIG_TCM_USER2_DEBUG=y)
else
	kdir=$("$st/vm/kernel.sh" debian | sed -n 2p)
fi
"$repo/scripts/build-module.sh" "$kdir" "${debug[@]}" >/dev/null
if [[ $kind == debug ]]; then
	"$repo/scripts/install-debug-module.sh" "$kdir"
	TCMU_STOCK_KO=$("$repo/scripts/build-stock.sh" "$kdir" "$cache/stock-debug")
	export TCMU_STOCK_KO
fi
make -s -C "$st/handler"
make -s -C "$st/fuzz"
make -s -C "$st/ublk"
exec "$repo/scripts/vm-selftests.sh" "$kind" "$cache/stage-$kind" "$@"

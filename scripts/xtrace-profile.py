#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where a selftest's time goes: sums the xtrace of a run with
TCMU_XTRACE=1 (run_tests.sh) by source line.

    scripts/xtrace-profile.py [-n N] STAGE/out/test_*.xtrace

Each traced line is charged the time until the next one.  Background
subshells write to the same trace, so a line of theirs can take time that
the test's own line spent waiting: read the figures as where the wall
clock went, not as CPU time."""
import argparse
import collections
import re

LINE = re.compile(r'^\++(\d+\.\d+) (\S+) (.*)$')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-n', type=int, default=8, help='lines per test')
    ap.add_argument('files', nargs='+')
    args = ap.parse_args()
    for path in args.files:
        rows = []
        with open(path, errors='replace') as f:
            for ln in f:
                m = LINE.match(ln.rstrip('\n'))
                if m:
                    rows.append((float(m.group(1)), m.group(2), m.group(3)))
        if not rows:
            continue
        spent = collections.Counter()
        first = {}
        for (t, where, cmd), (t2, _, _) in zip(rows, rows[1:]):
            spent[where] += t2 - t
            first.setdefault(where, cmd)
        print('== %s: %.0f s' % (path.rsplit('/', 1)[-1], rows[-1][0] - rows[0][0]))
        for where, secs in spent.most_common(args.n):
            print('  %6.1f s  %-24s %.80s' % (secs, where, first[where]))


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check an iscsi-test-cu run against the expected results.

usage: cu-check.py LOG EXPECTED CONFIG [TESTS]
       cu-check.py --started LOG

LOG is iscsi-test-cu's output in its verbose mode (the default): CUnit
prints "Suite: NAME", then "Test: NAME ..." and, after whatever the test
logs, "passed" or "FAILED".  A test that passed after logging
"[SKIPPED]" (libiscsi's way of saying the target lacks the command or
feature) counts as SKIP.  LOG may hold several runs, each ended by the
line "=== iscsi-test-cu exit STATUS" that test_iscsi_01.sh writes: a
test that had started when a run ended with a status of 128 or more
(the client killed by a signal, as glibc's abort on heap corruption
does) counts as CRASH.  --started prints the tests LOG shows started,
as ALL.Suite.Test, one a line: what a run after a crash leaves out.

EXPECTED lists every test whose result is not PASS in some configuration
(see its header); CONFIG names its column.  TESTS, a file of the tests
that were asked for (ALL.Suite.Test, one a line), limits the check to
them: a listed test that was not asked for need not run.  Prints the
counts and every difference; exits 1 on any difference, 2 on a bad input.
"""
import re
import sys

RESULTS = ("PASS", "FAIL", "SKIP", "CRASH", "ANY")


def parse_log(path):
    """({Suite.Test: PASS|FAIL|SKIP|CRASH}, [Suite.Test started]), in
    the order they ran"""
    res = {}
    started = []
    suite = test = None
    skipped = False
    text = open(path, errors="replace").read()
    # one token stream: CUnit writes "Test: X ..." and the result on the
    # same line when the test logs nothing; "[FAILED]" in brackets is a
    # test's own log line, not CUnit's verdict
    tok = re.compile(r"^Suite: (\S+)|Test: (\S+) \.\.\.|\[SKIPPED\]|"
                     r"(?<!\[)\b(passed|FAILED)\b(?!\])|"
                     r"^=== iscsi-test-cu exit (\d+)$", re.M)
    for m in tok.finditer(text):
        if m.group(1):
            suite, test = m.group(1), None
        elif m.group(2):
            test, skipped = m.group(2), False
            if suite is not None:
                started.append(suite + "." + test)
        elif m.group(4):
            if test is not None and suite is not None and \
                    int(m.group(4)) >= 128:
                res[suite + "." + test] = "CRASH"
            suite = test = None
        elif m.group(0) == "[SKIPPED]":
            skipped = True
        elif test is not None and suite is not None:
            if m.group(3) == "FAILED":
                r = "FAIL"
            else:
                r = "SKIP" if skipped else "PASS"
            res[suite + "." + test] = r
            test = None
    return res, started


def parse_expected(path, config):
    cols = None
    exp = {}
    why = {}
    for n, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            m = re.match(r"#\s*test\s+(.*?)\s+why\s*$", line)
            if m:
                cols = m.group(1).split()
            continue
        if cols is None:
            sys.exit("%s:%d: no column header (# test ... why) before the "
                     "first entry" % (path, n))
        f = line.split(None, len(cols) + 1)
        if len(f) < len(cols) + 2:
            sys.exit("%s:%d: a test, %d results and a reason expected" %
                     (path, n, len(cols)))
        for r in f[1:len(cols) + 1]:
            if r not in RESULTS:
                sys.exit("%s:%d: unknown result %s" % (path, n, r))
        if config not in cols:
            sys.exit("%s: no column %s (has %s)" %
                     (path, config, " ".join(cols)))
        exp[f[0]] = f[1 + cols.index(config)]
        why[f[0]] = f[-1]
    return exp, why


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--started":
        for t in parse_log(sys.argv[2])[1]:
            print("ALL." + t)
        return 0
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    log, expected, config = sys.argv[1:4]
    asked = None
    if len(sys.argv) == 5:
        asked = {t.strip().split(".", 1)[1] for t in open(sys.argv[4])
                 if t.count(".") == 2}
    got = parse_log(log)[0]
    if not got:
        print("cu-check: no test result in %s" % log)
        return 2
    exp, why = parse_expected(expected, config)
    counts = {r: sum(1 for v in got.values() if v == r)
              for r in ("PASS", "FAIL", "SKIP", "CRASH")}
    print("cu-check %s: %d tests: %d passed, %d failed, %d skipped, "
          "%d crashed the client" %
          (config, len(got), counts["PASS"], counts["FAIL"], counts["SKIP"],
           counts["CRASH"]))
    bad = 0
    for t, r in got.items():
        e = exp.get(t, "PASS")
        if e != "ANY" and r != e:
            bad += 1
            print("cu-check %s: %s: %s, expected %s%s" %
                  (config, t, r, e, " (%s)" % why[t] if t in why else ""))
    for t in exp:
        if t not in got and (asked is None or t in asked):
            bad += 1
            print("cu-check %s: %s is in the expected list but did not run" %
                  (config, t))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

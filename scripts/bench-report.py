#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the output of scripts/bench-guest.sh into the benchmark report.

usage: bench-report.py OUTDIR DESTDIR [README]

OUTDIR holds raw/r<round>-<target>-<handler>-<point>.{json,rc}, mem.txt,
density.txt (scripts/density-guest.sh) and env.txt. Writes DESTDIR/results.md (tables), results.json (every run
and the medians) and results.png (chart, drawn by gnuplot). With README,
the tables also replace what lies between its bench:begin and bench:end
markers.

A run whose fio exited non-zero or reported an error is counted as failed
and left out of the median; the table says how many failed.
"""
import json
import os
import re
import statistics
import subprocess
import sys

# inline: ours loaded with completion=inline; handoff: ours with
# completion_inline_depth=0 (both optional in a run)
EXTRA = {"inline": "completion=inline, reaping in the handler's write() "
                   "as the stock driver does",
         "handoff": "completion_inline_depth=0, every kick handed to a "
                    "completion thread",
         "zc": "LUNs created with zero_copy=1 and zero_copy_read=1 "
               "(zero_copy_min_kb 64): large commands shown to the handler "
               "in place, not copied",
         "zcw": "LUNs created with zero_copy=1 alone (zero_copy_read=0, the "
                "default): only WRITEs shown in place",
         "base": "tcmu-ng's module built from another tree, loaded and "
                 "set up as ours: ours/base is the change",
         "ublk": "no TCMU: the selftests' ublk server (ublk/) with the "
                 "same store as the handler's, behind LIO's block "
                 "backstore; the kernel copies each request to or from "
                 "the server's buffer",
         "ublkuc": "the ublk server with UBLK_F_USER_COPY: it copies "
                   "between its store and the request with pread/pwrite "
                   "on /dev/ublkcN"}
# extra targets that are compared with stock, not with ours
VS_STOCK = {"zc", "zcw"}
# extra targets that are another path altogether: ours/t, and zc/t when
# the run has zc
PEERS = {"ublk", "ublkuc"}
TARGETS = ["ceiling", "stock", "ours"] + list(EXTRA)
HANDLERS = {
    "null": "tests' C handler, --store null (data not touched: the "
            "kernel's own data movement is what is measured)",
    "mem": "tests' C handler, --store mem (stores and returns the data)",
    "qcow": "tcmu-runner 1.5.4, qcow handler on a raw tmpfs file",
    "rbd": "tcmu-runner 1.5.4, rbd handler (librbd, cache off) on a "
           "one-node Ceph cluster in the guest (one monitor, one manager, "
           "one memstore OSD on 127.0.0.1; an image per LUN, written "
           "whole before the first round; the cluster up for these "
           "rounds only)",
}
# handlers served by tcmu-runner (no --threads of the C handler)
RUNNER = {"qcow", "rbd"}
# point: (description, [(metric key, unit, higher is better)])
POINTS = {
    "rr4k-d1": ("4 KiB random read, depth 1",
                [("p50", "p50 µs", False), ("p99", "p99 µs", False),
                 ("iops", "IOPS", True)]),
    "rw4k-d1": ("4 KiB random write, depth 1",
                [("p50", "p50 µs", False), ("p99", "p99 µs", False),
                 ("iops", "IOPS", True)]),
    "rr4k-d16": ("4 KiB random read, depth 16", [("iops", "IOPS", True)]),
    "rw4k-d16": ("4 KiB random write, depth 16", [("iops", "IOPS", True)]),
    "sw256k-4x8": ("256 KiB seq. write, 4 jobs x depth 8",
                   [("mibs", "MiB/s", True)]),
    "sr256k-4x8": ("256 KiB seq. read, 4 jobs x depth 8",
                   [("mibs", "MiB/s", True)]),
    "rr4k-d16-4lun": ("4 KiB random read, 4 LUNs x depth 16",
                      [("iops", "IOPS", True)]),
    "rr4k-d16-16lun": ("4 KiB random read, 16 LUNs x depth 16",
                       [("iops", "IOPS", True)]),
    "mix4k-d16": ("4 KiB random 70/30 read/write, depth 16",
                  [("iops", "IOPS", True)]),
}
# (chart label, point, metric) for the throughput chart
CHART = [("4k rr d1", "rr4k-d1", "iops"), ("4k rw d1", "rw4k-d1", "iops"),
         ("4k rr d16", "rr4k-d16", "iops"), ("4k rw d16", "rw4k-d16", "iops"),
         ("256k sw", "sw256k-4x8", "mibs"), ("256k sr", "sr256k-4x8", "mibs"),
         ("4k rr 4 LUN", "rr4k-d16-4lun", "iops"),
         ("4k rr 16 LUN", "rr4k-d16-16lun", "iops"),
         ("4k 70/30", "mix4k-d16", "iops")]
RAW = re.compile(r"^r(\d+)-(ceiling|stock|ours|inline|handoff|zc|zcw|base|ublk|ublkuc)-(\w+)-"
                 r"([\w-]+)\.json$")


def fio_metrics(path):
    """The metrics of one fio JSON output, or None if the run failed."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("{")
    if start < 0:
        return None
    data = json.loads(text[start:])
    jobs = data.get("jobs") or []
    if not jobs or any(j.get("error") for j in jobs):
        return None
    job = jobs[0]
    rd, wr = job["read"], job["write"]
    main = rd if rd["io_bytes"] >= wr["io_bytes"] else wr
    # fio's total latency (lat: io_submit to completion) where the run
    # asked for its percentiles; runs before --lat_percentiles have only
    # clat's, which leaves out the time spent inside io_submit
    lat = "lat" if "percentile" in main.get("lat_ns", {}) else "clat"
    pct = main.get(lat + "_ns", {}).get("percentile", {})
    if rd["io_bytes"] + wr["io_bytes"] == 0:
        return None
    return {
        "iops": rd["iops"] + wr["iops"],
        "mibs": (rd["bw_bytes"] + wr["bw_bytes"]) / 2**20,
        "p50": pct.get("50.000000", 0) / 1000.0,
        "p99": pct.get("99.000000", 0) / 1000.0,
        "lat": lat,
    }


def load_runs(outdir):
    """{(target, handler, point): [metrics or None per round]}"""
    runs = {}
    rawdir = os.path.join(outdir, "raw")
    if not os.path.isdir(rawdir):
        return runs
    for name in sorted(os.listdir(rawdir)):
        m = RAW.match(name)
        if not m:
            continue
        rnd, target, handler, point = m.groups()
        base = os.path.join(rawdir, name[:-len(".json")])
        try:
            with open(base + ".rc", encoding="ascii") as f:
                rc = int(f.read().strip() or "1")
        except (OSError, ValueError):
            rc = 1
        metrics = None
        if rc == 0:
            try:
                metrics = fio_metrics(base + ".json")
            except (OSError, ValueError, KeyError):
                metrics = None
        runs.setdefault((target, handler, point), []).append(
            {"round": int(rnd), "ok": metrics is not None, **(metrics or {})})
    return runs


def summary(rounds, key):
    """(median, spread in % of it, rounds, failed) of one metric."""
    vals = [r[key] for r in rounds if r["ok"]]
    failed = sum(1 for r in rounds if not r["ok"])
    if not vals:
        return None, None, len(rounds), failed
    med = statistics.median(vals)
    spread = (max(vals) - min(vals)) / med * 100 if med else 0.0
    return med, spread, len(rounds), failed


def fmt(value):
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(s):
    med, spread, n, failed = s
    if med is None:
        return f"FAILED ({failed}/{n})" if n else "–"
    text = f"{fmt(med)} ±{spread:.0f}%"
    if failed:
        text += f" ({failed}/{n} failed)"
    return text


def ratio(a, b):
    if a[0] is None or b[0] is None or not b[0]:
        return "–"
    return f"{a[0] / b[0]:.2f}"


def env(outdir):
    vals = {}
    path = os.path.join(outdir, "env.txt")
    if not os.path.exists(path):
        return vals
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("runtime="):
                # "runtime=6 ramp=2 reps=3 luns=16 size=64M"
                for tok in line.split():
                    key, _, val = tok.partition("=")
                    vals[key] = val
                continue
            key, _, val = line.partition("=")
            vals[key] = val.strip()
    return vals


def lat_note(runs):
    """What the p50/p99 cells measure: fio's lat, or clat in old runs."""
    kinds = {m["lat"] for rounds in runs.values() for m in rounds if m}
    if kinds == {"lat"}:
        return ("Latencies: fio's total latency (lat, from io_submit to "
                "completion), not clat, which leaves out the time inside "
                "io_submit, all of it where a path completes there.")
    if kinds == {"clat"}:
        return ("Latencies: fio's clat (from the end of io_submit to "
                "completion: the time inside io_submit is not in it), "
                "from fio runs made before the bench asked for lat.")
    return ("Latencies: fio's lat where the run has it, clat elsewhere "
            "(runs from before the bench asked for lat).")


def copy_note(e):
    """What the guest's CPU flags make of the kernel's data movement, and
    what moving a byte costs on this clock (measured in the guest)."""
    flags = e.get("copyflags", "").strip()
    f = set(flags.split())
    if "fsrm" in f:
        copy = "`memcpy` and `copy_{to,from}_user` are one `rep movsb`"
    elif "erms" in f:
        copy = ("`memcpy` is `memcpy_orig` (a loop of 8-byte moves) and "
                "`copy_{to,from}_user` `rep movsb`")
    else:
        copy = ("`memcpy` is `memcpy_orig` and `copy_{to,from}_user` "
                "`rep movsq`")
    if "erms" in f:
        clear = "`clear_page` is `clear_page_erms` (`rep stosb`)"
    elif "rep_good" in f:
        clear = "`clear_page` is `clear_page_rep` (`rep stosq`)"
    else:
        clear = "`clear_page` is `clear_page_orig` (a loop)"
    flags = flags or "none of rep_good, erms, fsrm"
    text = (f"The guest's CPU (QEMU `-cpu max`) has {flags}, so {copy} "
            f"and {clear}.")
    cost = []
    for key, what in (("copy_ins_per_kib", "copying"),
                      ("zero_ins_per_kib", "zeroing")):
        if e.get(key):
            cost.append(f"{what} 4 KiB costs "
                        f"{4 * float(e[key]):,.0f} instructions")
    if cost:
        text += (" Measured in the guest with dd between tmpfs and "
                 "/dev/null (1 MiB blocks): " + ", ".join(cost) +
                 ". Silicon moves 4 KiB in a few hundred cycles at most, "
                 "so where one instruction of a `rep` string op counts "
                 "per byte or word, this clock prices copying and "
                 "zeroing above their share on hardware, which favours "
                 "the paths that move no bytes (zero copy, the ceiling).")
    return text


def load_cpu(outdir):
    """{(target, point): [(commands, ns, cluster ns, runner ns, busy ns)]}
    of the rbd rounds (raw/r<round>-<target>-rbd-<point>.cpu)"""
    cpu = {}
    rawdir = os.path.join(outdir, "raw")
    pat = re.compile(r"^r\d+-(\w+)-rbd-([\w-]+)\.cpu$")
    for name in sorted(os.listdir(rawdir) if os.path.isdir(rawdir) else []):
        m = pat.match(name)
        if not m:
            continue
        with open(os.path.join(rawdir, name), encoding="ascii") as f:
            vals = [int(v) for v in f.read().split()]
        if len(vals) == 5 and vals[0] > 0 and vals[4] > 0:
            cpu.setdefault(m.groups(), []).append(vals)
    return cpu


def cpu_section(outdir, runs, e):
    """Per rbd command: the whole path's cost (10^9 / IOPS), the shares of
    the vCPUs' busy time that the Ceph cluster's daemons and tcmu-runner
    took, and whether the driver's difference shows through the
    cluster's cost."""
    cpu = load_cpu(outdir)
    rows = []
    if not cpu:
        return [], rows
    unit = ("instructions" if e.get("clock") == "icount"
            else "ns of the wall clock")
    both = {"stock", "ours"} <= {k[0] for k in cpu}
    text = ["\n### rbd: what the cluster costs against the driver\n",
            f"*path*: thousands of {unit} per command, 10^9 / IOPS (the "
            "whole path, every vCPU's work). *cluster*, *runner*: the "
            "shares of the vCPUs' busy time (/proc/stat) that ceph-mon, "
            "ceph-mgr and ceph-osd, and tcmu-runner (librbd and its "
            "messenger, the handler, its syscalls: the stock driver's "
            "completions among them) ran while fio ran (every thread's "
            "schedstat, before and after); on this clock a vCPU's time "
            "runs on while the other executes, so these are shares, not "
            "counts. *cluster/cmd*: stock's path x its cluster share. "
            "*ours − stock*: the driver's difference per command, and "
            "that difference against the cluster's cost per command. "
            "Medians over the rounds."]
    idle = e.get("ceph_idle", "").split()
    if len(idle) == 2 and int(idle[1]):
        text.append(f"With no IO the daemons ran {int(idle[0]) / 1e6:,.0f} "
                    f"ms of CPU time in {int(idle[1]) / 1e9:.0f} s "
                    f"({int(idle[0]) / int(idle[1]) * 100:.1f} % of one "
                    "vCPU), which every rbd figure carries.")
    text[-1] += "\n"
    targets = [t for t in TARGETS if any(k[0] == t for k in cpu)]
    text.append("| workload | " + " | ".join(
        f"{t}: path | {t}: cluster | {t}: runner" for t in targets) +
        (" | cluster/cmd | ours − stock | (ours − stock) / cluster |"
         if both else " |"))
    text.append("|---|" + "---:|" * (3 * len(targets)) +
                ("---:|---:|---:|" if both else ""))
    for point, (desc, _) in POINTS.items():
        if not any((t, point) in cpu for t in targets):
            continue
        row = {"point": point}
        cells = []
        for t in targets:
            iops = summary(runs.get((t, "rbd", point), []), "iops")[0]
            vals = cpu.get((t, point), [])
            path = 1e9 / iops if iops else None
            cl = statistics.median(v[2] / v[4] for v in vals) if vals else None
            rn = statistics.median(v[3] / v[4] for v in vals) if vals else None
            row[t] = {"path": path, "cluster_share": cl, "runner_share": rn}
            cells += [fmt(path / 1000) if path else "–",
                      f"{cl * 100:.0f} %" if cl is not None else "–",
                      f"{rn * 100:.0f} %" if rn is not None else "–"]
        if both:
            a, b = row["stock"], row["ours"]
            if a["path"] and b["path"] and a["cluster_share"]:
                clu = a["path"] * a["cluster_share"]
                d = b["path"] - a["path"]
                row["cluster_per_cmd"], row["ours_minus_stock"] = clu, d
                cells += [fmt(clu / 1000), f"{d / 1000:+,.1f}",
                          f"{d / clu:+.2f}"]
            else:
                cells += ["–", "–", "–"]
        text.append(f"| {desc} | " + " | ".join(cells) + " |")
        rows.append(row)
    return text, rows


def mem_table(outdir):
    path = os.path.join(outdir, "mem.txt")
    if not os.path.exists(path):
        return [], {}
    rows = {}
    order = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5:
                continue
            target, handler, what, kib, pages = parts
            if what not in order:
                order.append(what)
            rows.setdefault((target, handler), {})[what] = (int(kib), pages)
    return order, rows


DENSITY_FIELDS = ("devices", "stop", "create_ms", "enabled_kib", "served",
                  "failed", "idle_kib", "remove_ms")
DENSITY_STOP = {"cap": "the cap", "memory": "memory short",
                "enable": "enable failed"}


def density_rows(outdir):
    """{driver: {field: value}} from density.txt"""
    path = os.path.join(outdir, "density.txt")
    rows = {}
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 1 + len(DENSITY_FIELDS):
                continue
            vals = dict(zip(DENSITY_FIELDS, parts[1:]))
            for k in DENSITY_FIELDS:
                if k != "stop":
                    vals[k] = int(vals[k])
            rows[parts[0]] = vals
    return rows


def density_section(rows, e):
    """The density tables: what an idle device costs, how many fit."""
    out = ["\n## Density\n"]
    mem = e.get("density_mem", "2G")
    out.append(f"A second boot of the same kernel with {mem} of RAM "
               "(scripts/density-guest.sh), stock then ours. Devices of "
               "64 MiB with the default 8 MiB ring and 1 GiB data area "
               "are created and enabled one at a time, up to the cap, "
               "while 128 MiB stays available: *devices* is the most "
               "the guest held (and what stopped it). *kernel/device*: "
               "kernel memory (slab, vmalloc, per-CPU and bare pages: "
               "MemTotal − MemFree − per-CPU free lists − LRU − stacks − "
               "page tables, after every slab cache was shrunk) that one "
               "more device adds, enabled, and again after the devices "
               "were served in turn by the test handler for a verified "
               "1 MiB burst through tcm_loop (*served*: how many; the "
               "last 16 handlers stay attached) and then sat idle for "
               f"{e.get('idle', '30')} s. Times are per device"
               + (", in ms of guest instructions" if e.get("clock") ==
                  "icount" else "") + ".\n")
    out.append("| driver | devices | create+enable | kernel/device enabled "
               "| served (failed) | kernel/device idle after IO "
               "| remove |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for drv in ("stock", "ours"):
        r = rows.get(drv)
        if not r:
            out.append(f"| {drv} | failed | | | | | |")
            continue
        out.append(f"| {drv} | {r['devices']} "
                   f"({DENSITY_STOP.get(r['stop'], r['stop'])}) "
                   f"| {r['create_ms']} ms | {r['enabled_kib']:,} KiB "
                   f"| {r['served']} ({r['failed']}) "
                   f"| {r['idle_kib']:,} KiB | {r['remove_ms']} ms |")
    s, o = rows.get("stock"), rows.get("ours")
    if s and o:
        def x(a, b):
            return f"{a / b:.1f}x" if b else "–"
        out.append(f"| stock/ours | {x(s['devices'], o['devices'])} "
                   f"| {x(s['create_ms'], o['create_ms'])} "
                   f"| {x(s['enabled_kib'], o['enabled_kib'])} | "
                   f"| {x(s['idle_kib'], o['idle_kib'])} "
                   f"| {x(s['remove_ms'], o['remove_ms'])} |")
    return out


def main():
    outdir, dest = sys.argv[1], sys.argv[2]
    runs = load_runs(outdir)
    e = env(outdir)
    handlers = [h for h in HANDLERS
                if any(k[1] == h for k in runs)]
    out = []
    out.append("# tcmu-ng benchmark\n")
    command = e.get("command", "`make bench` (scripts/bench.sh)")
    out.append(f"Command: {command}. Commit "
               f"{e.get('commit', '?')}, {e.get('date', '?')}.\n")
    out.append(f"Guest: Debian kernel {e.get('kernel', '?')} (its own "
               f"production config) in QEMU TCG, {e.get('cpus', '?')} vCPUs; "
               f"host: {e.get('host', '?')}; {e.get('qemu', '?')}; "
               f"{e.get('fio', '?')}.\n")
    if not runs:
        out.append("No fio matrix in this run (BENCH_DENSITY=only).\n")
    fabric = ("exported over iSCSI to the kernel's initiator (LIO's "
              "iSCSI target and open-iscsi on the guest's 127.0.0.1, a "
              "session per LUN)" if e.get("fabric") == "iscsi" else
              "exported on tcm_loop")
    out.append(f"Each point: fio libaio, O_DIRECT, {e.get('runtime', '?')} s "
               f"after a {e.get('ramp', '?')} s ramp, on one LUN of "
               f"{e.get('size', '?')} unless said, {fabric}, in each of "
               f"{e.get('reps', '?')} rounds; the targets take turns "
               f"within a round in an order that rotates each round. "
               f"Cells: median ±spread (max−min, % of the median). "
               f"Ratios are of the medians. {lat_note(runs)}\n")
    if e.get("clock") == "icount":
        out.append("**Clock: instruction-counted** (QEMU `-icount "
                   "shift=0,sleep=off,align=off`). The guest's clock "
                   "advances one nanosecond per guest instruction and "
                   "skips idle time, so a guest second is 10^9 guest "
                   "instructions: IOPS are commands per 10^9 "
                   "instructions, MiB/s is MiB moved per 10^9 "
                   "instructions, and a latency in µs is thousands of "
                   "instructions. Every figure is the cost of the whole "
                   "path (fio, block layer, SCSI, tcm_loop, target core, "
                   "the driver, the handler and its syscalls), the same "
                   "whatever the host's load. It cannot show parallel "
                   "scaling (all vCPUs run on one host thread, one "
                   "instruction at a time) nor the real price of a "
                   "wake-up, a cache miss or a page fault on silicon: "
                   "every instruction counts the same. "
                   + copy_note(e) + "\n")
    else:
        out.append("**Clock: wall.** QEMU TCG (no KVM) distorts absolute "
                   "numbers: every instruction is emulated, so all figures "
                   "are far below real hardware, and this host's speed "
                   "drifts 2-3x within minutes. Compare the ratios, which "
                   "are measured in the same boot, with the same handler "
                   "and settings, and read their spreads.\n")
    extra = [t for t in EXTRA if any(k[0] == t for k in runs)]
    if extra:
        out.append("*ours*: the module's defaults (completion=percpu, "
                   "completion_inline_depth=1). " +
                   " ".join(f"*{t}*: {EXTRA[t]}." if t in PEERS else
                            f"*{t}*: the same module with {EXTRA[t]}."
                            if t != "base" else
                            f"*base*: {e.get('base', '?')}, {EXTRA[t]}."
                            for t in extra) + "\n")
    results = {"env": e, "points": []}
    for handler in handlers:
        threads = ""
        if handler not in RUNNER and e.get("handler_threads", "4") != "4":
            threads = (f", --threads {e['handler_threads']}" +
                       (" (the ring's reader runs each batch, one kick "
                        "a batch)" if e["handler_threads"] == "0" else ""))
        out.append(f"\n## Handler: {handler}: {HANDLERS[handler]}"
                   f"{threads}\n")
        zc = "zc" in extra
        out.append("| workload | metric | ceiling (rd_mcp) | stock | ours "
                   "| ours/stock | ours/ceiling |" +
                   "".join(f" {t} | {t}/stock | {t}/ceiling |"
                           if t in VS_STOCK else
                           f" {t} | ours/{t} |" + (f" zc/{t} |" if zc else "")
                           if t in PEERS else
                           f" {t} | ours/{t} |" for t in extra))
        out.append("|---|---|---:|---:|---:|---:|---:|" +
                   "".join("---:|---:|---:|" if t in VS_STOCK else
                           "---:|---:|" + ("---:|" if zc else "")
                           if t in PEERS else
                           "---:|---:|" for t in extra))
        for point, (desc, metrics) in POINTS.items():
            for key, unit, higher in metrics:
                s = {t: summary(runs.get((t, handler if t != "ceiling"
                                          else "rd", point), []), key)
                     for t in TARGETS}
                if not any(s[t][0] is not None for t in TARGETS):
                    continue
                note = "" if higher else " (lower is better)"
                out.append(f"| {desc} | {unit}{note} | {cell(s['ceiling'])} "
                           f"| {cell(s['stock'])} | {cell(s['ours'])} "
                           f"| {ratio(s['ours'], s['stock'])} "
                           f"| {ratio(s['ours'], s['ceiling'])} |" +
                           "".join(f" {cell(s[t])} | {ratio(s[t], s['stock'])} "
                                   f"| {ratio(s[t], s['ceiling'])} |"
                                   if t in VS_STOCK else
                                   f" {cell(s[t])} | {ratio(s['ours'], s[t])} |"
                                   + (f" {ratio(s['zc'], s[t])} |" if zc
                                      else "")
                                   if t in PEERS else
                                   f" {cell(s[t])} | {ratio(s['ours'], s[t])} |"
                                   for t in extra))
                results["points"].append({
                    "handler": handler, "point": point, "metric": key,
                    **{t: {"median": s[t][0], "spread_pct": s[t][1],
                           "rounds": s[t][2], "failed": s[t][3]}
                       for t in TARGETS}})
        if handler == "rbd":
            text, rows = cpu_section(outdir, runs, e)
            out += text
            results["rbd_cpu"] = rows
    order, mrows = mem_table(outdir)
    if order:
        out.append("\n## Memory\n")
        out.append("Served by the null handler (ceiling: rd_mcp). "
                   "*kernel*: growth of kernel memory that no other "
                   "/proc/meminfo line accounts for (MemTotal − MemFree − "
                   "free pages on the per-CPU lists − LRU − slab − stacks − "
                   "page tables − per-cpu), from "
                   "just before the LUNs were created: the data area "
                   "pages and the ramdisk live there, and so do the "
                   "command rings (vmalloc'ed by stock, page by page by "
                   "tcmu-ng). *pages*: data area pages "
                   "tcmu-ng says it holds (global_data_pages; the stock "
                   "driver has no such counter). Steps: 16 LUNs created; "
                   "after a 256 KiB write burst on one LUN; after "
                   f"{e.get('idle', '30')} s idle; the peak while all LUNs "
                   "write 256 KiB at depth 16 under a global limit far "
                   "below the sum of their data areas (sampled every "
                   "0.2 s); after the LUNs were removed.\n")
        out.append("| target | " + " | ".join(order) +
                   " | write MiB/s during the peak |")
        out.append("|---|" + "---:|" * (len(order) + 1))
        for (target, handler), vals in mrows.items():
            cells = []
            for what in order:
                if what not in vals:
                    cells.append("–")
                    continue
                kib, pages = vals[what]
                c = f"{kib / 1024:.1f} MiB"
                if pages != "-":
                    c += f" ({pages} pages)"
                cells.append(c)
            peak = os.path.join(outdir, "raw",
                                f"rmem-{target}-{handler}-all-luns.json")
            try:
                m = fio_metrics(peak)
            except (OSError, ValueError, KeyError):
                m = None
            cells.append(f"{m['mibs']:.0f}" if m else "failed")
            out.append(f"| {target} ({handler}) | " + " | ".join(cells) + " |")
        results["memory"] = [
            {"target": t, "handler": h, "step": w, "kernel_kib": v[w][0],
             "data_pages": v[w][1]}
            for (t, h), v in mrows.items() for w in v]
    drows = density_rows(outdir)
    if drows:
        out += density_section(drows, e)
        results["density"] = drows
    # the chart compares ours with stock and the ceiling
    charted = handlers and all(any(k[0] == t for k in runs)
                               for t in ("ceiling", "stock", "ours"))
    if charted:
        out.append("\n![benchmark chart](results.png)\n")
    results["runs"] = [{"target": k[0], "handler": k[1], "point": k[2], **r}
                       for k, v in sorted(runs.items()) for r in v]
    with open(os.path.join(dest, "results.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    with open(os.path.join(dest, "results.json"), "w",
              encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    if charted:
        chart(runs, handlers, dest, e)
    if len(sys.argv) > 3:
        splice(sys.argv[3], "\n".join(out) + "\n")


def splice(readme, body):
    """Put the tables (one heading level down) between the markers."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if begin not in text or end not in text:
        return
    body = re.sub(r"^# .*\n", "", body, count=1)
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)
    body = body.replace("](results.png)", "](bench/results.png)")
    head, rest = text.split(begin, 1)
    text = head + begin + "\n" + body.strip() + "\n" + end + \
        rest.split(end, 1)[1]
    with open(readme, "w", encoding="utf-8") as f:
        f.write(text)


def chart(runs, handlers, dest, e):
    """Two panels: ours/stock per workload and handler; fraction of the
    ceiling reached by stock and ours (null handler)."""
    def med(t, h, p, k):
        return summary(runs.get((t, h if t != "ceiling" else "rd", p), []),
                       k)[0]
    dat = os.path.join(dest, "results-chart.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# label " + " ".join(f"ours/stock:{h}" for h in handlers)
                + " stock/ceiling ours/ceiling (null handler)\n")
        ceiling_cols = False
        for label, point, key in CHART:
            cols = []
            for h in handlers:
                o, s = med("ours", h, point, key), med("stock", h, point, key)
                cols.append(f"{o / s:.3f}" if o and s else "?")
            c = med("ceiling", "rd", point, key)
            for t in ("stock", "ours"):
                v = med(t, "null", point, key)
                cols.append(f"{v / c:.3f}" if v and c else "?")
                ceiling_cols |= bool(v and c)
            f.write(f'"{label}" ' + " ".join(cols) + "\n")
    n = len(handlers)
    plot1 = ", ".join(
        f"'{dat}' using {i + 2}:xtic(1) title '{h}'"
        for i, h in enumerate(handlers))
    # the second panel needs the null handler and the ceiling
    panel2 = f"""set title 'fraction of the ceiling (LIO rd_mcp, no userspace), null handler'
set yrange [0:*]
plot '{dat}' using {n + 2}:xtic(1) title 'stock', '' using {n + 3} title 'ours'
""" if ceiling_cols else ""
    layout = 2 if ceiling_cols else 1
    script = f"""
set terminal pngcairo size 1200,900 font ',10' noenhanced
set output '{os.path.join(dest, "results.png")}'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set xtics rotate by -20
set key top left
set multiplot layout {layout},1 title "tcmu-ng vs stock target_core_user, Debian {e.get('kernel', '')}, QEMU TCG {e.get('cpus', '?')} vCPUs (ratios; higher is better)"
set title 'ours / stock throughput (IOPS or MiB/s), by handler'
set yrange [0:*]
plot {plot1}, 1 with lines lc rgb 'black' dt 2 notitle
{panel2}unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()

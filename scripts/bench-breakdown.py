#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the cost-breakdown output of scripts/bench-guest.sh
(BENCH_BREAKDOWN=1) into guest instructions per command, by phase.

usage: bench-breakdown.py OUTDIR DESTDIR

OUTDIR holds raw/bd-<target>-<handler>-<point>.* and env.txt; writes
DESTDIR/breakdown.md, breakdown.json and breakdown.png (stacked bars,
drawn by gnuplot).

The guest runs with one vCPU on the instruction-counted clock, so a
nanosecond of its time is one of its instructions.  For each point:

- untraced run: every task's CPU time (schedstat) and the commands the
  disk completed, before and after.  A task's time per command is what
  that task costs; their sum is the total.
- traced run: function_graph on the entry functions of each phase
  (bench-guest.sh's bd_funcs), time asleep excluded.  Each traced call's
  own time (its duration less that of its traced callees) goes to its
  phase.  The tracer's cost per call, c, is measured in the guest (a
  loop of kill -0 traced and not).  Part of c falls between a call's own
  timestamps: the cheapest leaf function called for at least every
  other command bounds that part (its true cost is small, not zero, so
  the correction takes a little too much), and it is taken off every
  call; the rest of c is taken off the caller of each traced call.

What a task spent outside every traced function (fio's own code, the
handler's own code, untraced kernel entry) goes to that task's phase;
what no task and no traced function explains (interrupts, the
scheduler, kworkers, idle entry) is "other".
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

PHASES = [
    ("fio", "fio and aio (user space, io_submit/io_getevents)"),
    ("block", "block layer"),
    ("scsi", "SCSI and tcm_loop"),
    ("core", "target core (submit, complete)"),
    ("submit", "driver submission (tcmu_queue_cmd: ring entry, data "
               "copy; ublk: queue_rq and its task work, the copy into "
               "the server's buffer)"),
    ("zc", "zero copy (map, detach, faults)"),
    ("ucopy", "ublk user copy (the server's pread/pwrite on /dev/ublkcN)"),
    ("handler", "handler or ublk server (user space, syscalls, page "
                "faults)"),
    ("reap", "driver reap and completion (kick, reap; ublk: commit and "
             "fetch, the copy out of the server's buffer)"),
    ("kthreads", "kernel threads (kworkers, completion threads), untraced"),
    ("other", "other (the idle task, interrupts taken while idle)"),
    ("snapshot", "the measurement (reading every task's time, twice)"),
]
COLOURS = ["#9467bd", "#2ca02c", "#17becf", "#ff7f0e", "#ffdd55",
           "#1f77b4", "#aec7e8", "#d62728", "#333333", "#e377c2",
           "#8c564b", "#bbbbbb"]
FUNC_PHASE = {
    "__x64_sys_io_submit": "fio", "__x64_sys_io_getevents": "fio",
    "aio_complete_rw": "fio",
    "blk_mq_submit_bio": "block", "blk_complete_reqs": "block",
    "scsi_queue_rq": "scsi", "tcm_loop_queuecommand": "scsi",
    "scsi_done": "scsi", "tcm_loop_queue_data_in": "scsi",
    "tcm_loop_queue_status": "scsi",
    "target_submit_prep": "core", "target_submit": "core",
    "target_complete_cmd": "core",
    "target_complete_cmd_with_length": "core",
    "target_complete_ok_work": "core",
    "tcmu_queue_cmd": "submit",
    "tcmu_zc_map": "zc", "tcmu_zc_detach": "zc", "tcmu_zc_release": "zc",
    "tcmu_zc_fault": "zc", "tcmu_zc_mkwrite": "zc",
    "tcmu_irqcontrol": "reap", "tcmu_uio_irqcontrol": "reap",
    "tcmu_ring_reap": "reap",
    # LIO's block backstore, and ublk under it
    "iblock_execute_rw": "core", "iblock_bio_done": "core",
    "ublk_queue_rq": "submit", "ublk_rq_task_work_cb": "submit",
    "ublk_ch_uring_cmd": "reap",
    "ublk_ch_read_iter": "ucopy", "ublk_ch_write_iter": "ucopy",
}
# syscalls and faults: phase by the task they ran for
BY_TASK = {"__x64_sys_write", "__x64_sys_read", "__x64_sys_poll",
           "__x64_sys_ppoll", "uio_write", "uio_read", "uio_poll",
           "handle_mm_fault", "__x64_sys_io_uring_enter"}
POINTS = {"rr4k-d16": "4 KiB random read, depth 16",
          "rw4k-d16": "4 KiB random write, depth 16",
          "rr4k-d1": "4 KiB random read, depth 1",
          "rw4k-d1": "4 KiB random write, depth 1",
          "sr256k-4x8": "256 KiB seq. read, 4 jobs x depth 8",
          "sw256k-4x8": "256 KiB seq. write, 4 jobs x depth 8"}
TARGETS = ["stock", "ours", "inline", "handoff", "zc", "zcw", "base", "ublk",
           "ublkuc"]
MOD = re.compile(r" \[\w+\]$")   # a module function's "[module]"
LINE = re.compile(r"^\s*(?P<proc>\S+-\d+)\s+\|\s*(?:[+!#*@$]\s*)?"
                  r"(?:(?P<dur>[\d.]+) us)?\s*\|\s*(?P<text>.*)$")


def tasks(path):
    """{tid: (comm, ns)}"""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                out[parts[0]] = (" ".join(parts[1:-1]), int(parts[-1]))
    return out


def read_words(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split()


def task_costs(base, cmds):
    """Instructions per command of each task class in the untraced run."""
    t0, t1 = tasks(base + ".untraced.tasks0"), tasks(base + ".untraced.tasks1")
    handler = set(read_words(base + ".handler"))
    this = set(read_words(base + ".self"))
    per = defaultdict(float)
    for tid, (comm, ns) in t1.items():
        d = ns - t0.get(tid, (comm, 0))[1]
        if d <= 0:
            continue
        if tid in this:
            per["self"] += d / cmds
            continue
        if comm == "fio":
            key = "fio"
        elif tid in handler:
            key = "handler"
        else:
            key = "other"
        per[key] += d / cmds
    return per, handler


def parse_trace(path, handler):
    """Per function (and, for BY_TASK ones, per task kind): own time in
    ns, calls, and traced callees; the submitted command count."""
    own = defaultdict(float)
    calls = defaultdict(int)
    children = defaultdict(int)
    stacks = defaultdict(list)
    submitted = 0

    def kind(proc):
        comm, _, tid = proc.rpartition("-")
        if comm == "fio":
            return "fio"
        if tid in handler:
            return "handler"
        return "other"

    def key(name, proc):
        return f"{name}@{kind(proc)}"

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            proc, dur, text = m["proc"], m["dur"], m["text"].strip()
            st = stacks[proc]
            if text.endswith("() {"):
                st.append([MOD.sub("", text[:-4]), 0.0, 0])
            elif text.endswith("();") and dur:
                name, d = MOD.sub("", text[:-3]), float(dur) * 1000
                k = key(name, proc)
                own[k] += d
                calls[k] += 1
                if name == "scsi_queue_rq":
                    submitted += 1
                if st:
                    st[-1][1] += d
                    st[-1][2] += 1
            elif text.startswith("}") and dur:
                if not st:
                    continue
                name, child, nchild = st.pop()
                d = float(dur) * 1000
                k = key(name, proc)
                own[k] += d - child
                calls[k] += 1
                children[k] += nchild
                if name == "scsi_queue_rq":
                    submitted += 1
                if st:
                    st[-1][1] += d
                    st[-1][2] += 1
    return own, calls, children, submitted


def fio_ios(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    data = json.loads(text[text.index("{"):])
    job = data["jobs"][0]
    return job["read"]["iops"] + job["write"]["iops"]


def phase_of(k):
    name, who = k.split("@")
    if name in BY_TASK:
        return who if who in ("fio", "handler") else "kthreads"
    return FUNC_PHASE.get(name, "other")


def tracer_cost(raw):
    """Instructions function_graph adds per traced call, from the
    guest's kill -0 loop traced and not (bench-guest.sh's
    bd_calibrate)."""
    n, off, on = (int(w) for w in read_words(
        os.path.join(raw, "bd-calibration")))
    return max(0.0, (on - off) / n)


def breakdown(base, c):
    cmds, ns, _ = (int(w) for w in read_words(base + ".untraced.cmds"))
    traced, traced_ns, _ = (int(w) for w in read_words(
        base + ".traced.cmds"))
    if not cmds or not traced:
        return None
    fio_ios(base + ".untraced.json")    # fio finished and reported
    per_task, handler = task_costs(base, cmds)
    total = sum(per_task.values())
    own, calls, children, submitted = parse_trace(base + ".trace", handler)
    if not submitted:
        return None
    submitted = traced
    ncalls = sum(calls.values()) / submitted
    t_off, t_on = ns / cmds, traced_ns / traced
    phases = defaultdict(float)
    in_task = defaultdict(float)
    # Part of the tracer's cost falls between a call's own timestamps:
    # the cheapest leaf called for most commands bounds it (its true
    # cost is small but not nothing, so this takes a little too much)
    leaves = [own[k] / calls[k] for k in own
              if not children[k] and calls[k] >= submitted / 2]
    inside = min([c] + leaves)
    for k, ns in own.items():
        v = max(0.0, (ns - inside * calls[k] - (c - inside) * children[k])
                / submitted)
        phases[phase_of(k)] += v
        in_task[k.split("@")[1]] += v
    # the tasks' own code: their time less the traced calls made in them
    for who, phase in (("fio", "fio"), ("handler", "handler"),
                       ("other", "kthreads")):
        phases[phase] += max(0.0, per_task.get(who, 0.0) - in_task[who])
    # interrupts and softirqs taken while idle, and what the idle task
    # runs, are in no task's time: the rest of the window
    # this shell's own time: it reads every task's time, twice
    phases["snapshot"] = per_task.pop("self", 0.0)
    known = sum(v for p, v in phases.items() if p != "other")
    phases["other"] = max(0.0, t_off - known)
    return {"phases": dict(phases), "tasks_total": total, "total": t_off,
            "traced_cost": t_on, "tracer_per_call": c,
            "calls_per_cmd": ncalls, "commands": cmds,
            "traced_commands": submitted, "tracer_inside": inside,
            "tasks": dict(per_task)}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    outdir, dest = sys.argv[1:3]
    raw = os.path.join(outdir, "raw")
    e = {}
    env_path = os.path.join(outdir, "env.txt")
    if os.path.exists(env_path):
        with open(env_path, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                e[k] = v
                if k == "runtime":
                    # "runtime=1 ramp=0.5 reps=2 luns=16 ..."
                    for kv in line.split()[1:]:
                        a, _, b = kv.partition("=")
                        e[a] = b
                    e[k] = v.split()[0]
    found = {}
    c = tracer_cost(raw)
    for name in sorted(os.listdir(raw)):
        m = re.match(r"^bd-(\w+)-(\w+)-([\w-]+)\.trace$", name)
        if m:
            try:
                r = breakdown(os.path.join(raw, name[:-len(".trace")]), c)
            except (OSError, ValueError, KeyError) as err:
                print(f"bench-breakdown: {name}: {err}", file=sys.stderr)
                r = None
            if r:
                found[(m[1], m[2], m[3])] = r
    if not found:
        sys.exit("bench-breakdown: no usable breakdown in " + raw)
    os.makedirs(dest, exist_ok=True)
    order = sorted(found, key=lambda k: (
        k[1], list(POINTS).index(k[2]) if k[2] in POINTS else 99,
        TARGETS.index(k[0]) if k[0] in TARGETS else 99))
    md = ["# Where a command's instructions go", "",
          f"Command: `make bench-breakdown`. Commit {e.get('commit', '?')}, "
          f"{e.get('date', '?')}. Guest: Debian kernel "
          f"{e.get('kernel', '?')}, 1 vCPU, instruction-counted clock "
          "(a ns is a guest instruction); one LUN, fio libaio O_DIRECT, "
          f"{e.get('runtime', '?')} s per run.", "",
          "Guest instructions per command, by phase (own time: a traced "
          "function's callees that are traced count in their own phase). "
          "Each point: fio runs on; a window of its steady state is "
          "measured untraced, then another traced. *total*: the "
          "guest's time over the untraced window per command the disk "
          "completed in it; *the tasks' time*: every task's CPU time in "
          "that window, per command (interrupts count in the task they "
          "interrupted; the idle task is in no task).", ""]
    for handler, point in dict.fromkeys((k[1], k[2]) for k in order):
        group = [k for k in order if k[1:] == (handler, point)]
        md.append(f"**{POINTS.get(point, point)}**, {handler} handler; "
                  "commands in the untraced / traced window: " +
                  ", ".join(f"{k[0]} {found[k]['commands']:,} / "
                            f"{found[k]['traced_commands']:,}"
                            for k in group))
        md.append("")
        md.append("| phase | " + " | ".join(k[0] for k in group) + " |")
        md.append("|---|" + "---:|" * len(group))
        for p, desc in PHASES:
            md.append(f"| {desc} | " + " | ".join(
                f"{found[k]['phases'].get(p, 0):,.0f}" for k in group) +
                " |")
        for label, key in (("**total** (the guest's time per command)",
                            "total"),
                           ("the tasks' time", "tasks_total"),
                           ("traced calls per command", "calls_per_cmd")):
            md.append(f"| {label} | " + " | ".join(
                f"{found[k][key]:,.0f}" for k in group) + " |")
        md.append("")
    inside = [found[k]["tracer_inside"] for k in order]
    md.append(f"The tracer's cost per traced call, measured in the guest: "
              f"{c:,.0f} instructions; the part of it inside a call's own "
              f"time (the cheapest leaf's own time per call, "
              f"{min(inside):,.0f} to {max(inside):,.0f} here) is taken "
              f"off every call, the rest off its caller.")
    md.append("")
    md.append("![breakdown](breakdown.png)")
    with open(os.path.join(dest, "breakdown.md"), "w",
              encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(dest, "breakdown.json"), "w",
              encoding="utf-8") as f:
        json.dump({"env": e, "points": [
            {"target": k[0], "handler": k[1], "point": k[2], **found[k]}
            for k in order]}, f, indent=1)
    # one panel per point: a 256 KiB command costs ten 4 KiB ones
    groups = list(dict.fromkeys((k[1], k[2]) for k in order))
    dat = os.path.join(dest, "breakdown.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("# target " + " ".join(p for p, _ in PHASES) + "\n")
        for handler, point in groups:
            for k in order:
                if k[1:] == (handler, point):
                    f.write(f'"{k[0]}" ' + " ".join(
                        f"{found[k]['phases'].get(p, 0):.0f}"
                        for p, _ in PHASES) + "\n")
            f.write("\n\n")
    panels = []
    for n, (handler, point) in enumerate(groups):
        plots = ", ".join(
            (f"'{dat}' index {n} using {i + 2}:xtic(1) " if i == 0 else
             f"'' index {n} using {i + 2} ") +
            f"lc rgb '{COLOURS[i % len(COLOURS)]}' "
            f"title '{desc.split(' (')[0]}'"
            for i, (_, desc) in enumerate(PHASES))
        key = "set key outside right top" if n == 0 else "unset key"
        panels.append(f"set title '{POINTS.get(point, point)} "
                      f"({handler} handler)'\n{key}\nplot {plots}")
    cols = 2 if len(groups) > 1 else 1
    rows = (len(groups) + cols - 1) // cols
    panels_text = "\n".join(panels)
    script = f"""
set terminal pngcairo size 1400,{420 * rows + 60} font ',10' noenhanced
set output '{os.path.join(dest, "breakdown.png")}'
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set ylabel 'guest instructions per command'
set multiplot layout {rows},{cols} title "Where a command's instructions go (Debian {e.get('kernel', '')}, 1 vCPU, instruction-counted)"
{panels_text}
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("\n".join(md))


if __name__ == "__main__":
    main()

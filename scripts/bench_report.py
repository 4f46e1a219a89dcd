#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of `make bench` in its deterministic mode (scripts/bench.sh).

    bench_report.py OUT [DOCDIR]

OUT holds machine.txt and one directory per run (run1/, run2/, ...), each
with the guests' console logs (vm-logs/<release>.log) of `bench -o targets`
(tools/bench/). Writes into OUT:

    results.csv   every timed run of every repetition (the raw numbers)
    targets.csv   R1-R5 per kernel and run: the per-repetition ratios,
                  their median and the verdict
    fit.csv       CPU per request = a + b x pages, per kernel, run, sender
    spread.csv    each target ratio's median, run 1 against run 2

and, with DOCDIR, the block of DOCDIR/BENCHMARKS.md between the targets
markers and copies of the CSV files in DOCDIR/benchmarks/. Prints the
targets. Exit status 0, or 1 if a kernel produced no rows.
"""

import os
import re
import shutil
import statistics
import sys

from bench_common import args_and_machine, machine_rows, replace_block, write_csv

GIB = 1024.0 ** 3
FIELDS = ["kernel", "path", "payload", "temp", "mode", "rep", "bytes", "wall", "reqs",
          "bufs", "cpu", "cpu_ru", "busy", "softirq", "notifs", "copied", "err",
          "probe_ns", "phase", "busy_all", "busy_tasks"]
INTS = ("payload", "rep", "bytes", "reqs", "bufs", "notifs", "copied", "err")
FLOATS = ("wall", "cpu", "cpu_ru", "busy", "softirq", "probe_ns", "busy_all", "busy_tasks")
SHORT = {"send": "B0", "uring": "B1", "msgzc": "B2", "sendzc": "B3", "mod": "M1",
         "mod_b4": "M2x4", "mod_b16": "M2x16"}
ZC = ("msgzc", "sendzc", "mod", "mod_b4", "mod_b16")
UDP_BIG = 61440
NIC_BIG = 65536
PAGE = 4096


def parse_log(path):
    """BENCH rows, BENCHCAL, BENCHINFO and BENCHDONE fields, BENCHERR lines."""
    rows, cal, info, done, errs = [], {}, {}, None, []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^(?:\[[^]]*\] )?bench: (BENCH|BENCHCAL|BENCHINFO|BENCHDONE|BENCHERR),(.*)$",
                         line.rstrip("\r\n"))
            if not m:
                continue
            kind, rest = m.group(1), m.group(2).split(",")
            if kind == "BENCH" and len(rest) == len(FIELDS) - 1:
                rest.append("nan")      # before busy_tasks was recorded
            if kind == "BENCH" and len(rest) == len(FIELDS):
                r = dict(zip(FIELDS, rest))
                for k in INTS:
                    r[k] = int(r[k])
                for k in FLOATS:
                    r[k] = float(r[k])
                rows.append(r)
            elif kind == "BENCHCAL":
                cal = dict(x.split("=", 1) for x in rest[1:] if "=" in x)
            elif kind == "BENCHINFO":
                info = dict(x.split("=", 1) for x in rest[1:] if "=" in x)
            elif kind == "BENCHDONE":
                done = rest[1] if len(rest) > 1 else "?"
            else:
                errs.append(",".join(rest))
    return rows, cal, info, done, errs


def busy(r):
    """Busy seconds of the whole guest (all its CPUs, softirq included):
    window minus idle time; where the kernel shows no idle time (sid's
    7.2), the CPU time of every task, which misses interrupts taken while
    idle."""
    return r["busy_all"] if r["busy_all"] == r["busy_all"] else r["busy_tasks"]


def cpg(r):
    """CPU seconds per GiB."""
    return busy(r) / (r["bytes"] / GIB)


def us_per_req(r):
    return busy(r) / r["reqs"] * 1e6


def verdict(values, goal, le):
    """met if the 2nd to the (n-1)th of the ordered repetitions all meet the
    goal, missed if they all miss it, otherwise inconclusive."""
    values = [x for x in values if x == x]     # NaN: no CPU figure
    if not values:
        return "not measured"
    v = sorted(values)
    mid = v[1:-1] if len(v) >= 3 else v
    ok = [(x <= goal) if le else (x >= goal) for x in mid]
    if all(ok):
        return "met"
    if not any(ok):
        return "missed"
    return "inconclusive"


def fit(points):
    """Least squares y = a + b x; (a, b, r2)."""
    n = len(points)
    if n < 2:
        return None
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if not sxx:
        return None
    b = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
    a = my - b * mx
    ss = sum((p[1] - my) ** 2 for p in points)
    res = sum((p[1] - a - b * p[0]) ** 2 for p in points)
    return a, b, (1 - res / ss) if ss else 1.0


class Run:
    """One guest run per kernel: its rows by cell and repetition."""

    def __init__(self, name, logdir, kernels):
        self.name = name
        self.rows, self.cal, self.info, self.done, self.errs = [], {}, {}, {}, {}
        for k in kernels:
            p = os.path.join(logdir, k + ".log")
            if not os.path.exists(p):
                continue
            rows, cal, info, done, errs = parse_log(p)
            for r in rows:
                r["run"] = name
            self.rows += rows
            self.cal[k], self.info[k], self.done[k], self.errs[k] = cal, info, done, errs
        self.cell = {}
        for r in self.rows:
            if r["err"] or not r["bytes"]:
                continue
            self.cell.setdefault((r["kernel"], r["path"], r["payload"], r["mode"]),
                                 {})[r["rep"]] = r

    def per_rep(self, k, path, payload, fn, *modes):
        """fn(row of mode 1, row of mode 2, ...) for every repetition that
        has all of them."""
        cs = [self.cell.get((k, path, payload, m), {}) for m in modes]
        reps = set(cs[0])
        for c in cs[1:]:
            reps &= set(c)
        return [fn(*[c[i] for c in cs]) for i in sorted(reps)]

    def median(self, k, path, payload, mode, fn=cpg):
        v = [fn(r) for r in self.cell.get((k, path, payload, mode), {}).values()]
        return statistics.median(v) if v else float("nan")


# name, description, goal, le, (path, payload), function of the rows, modes
RATIOS = [
    ("R1a", "M1 / B3 at 60 KiB (UDP sink)", 1.15, True, ("udp", UDP_BIG),
     lambda m, b: cpg(m) / cpg(b), ("mod", "sendzc")),
    ("R1b", "M1 / B3 at 16 KiB (UDP sink)", 1.3, True, ("udp", 16384),
     lambda m, b: cpg(m) / cpg(b), ("mod", "sendzc")),
    ("R2", "(B0 - M1) / (B0 - B3) at 60 KiB (UDP sink)", 0.9, False, ("udp", UDP_BIG),
     lambda s, m, b: (cpg(s) - cpg(m)) / (cpg(s) - cpg(b)), ("send", "mod", "sendzc")),
    ("R3", "M2x16 / M1 at 60 KiB (UDP sink)", 1.2, True, ("udp", UDP_BIG),
     lambda x, m: cpg(x) / cpg(m), ("mod_b16", "mod")),
    ("R4", "M1 / B3 at 64 KiB, TCP through the e1000 pair", 1.15, True, ("nic", NIC_BIG),
     lambda m, b: cpg(m) / cpg(b), ("mod", "sendzc")),
]


def copied_share(run, k, path):
    n = c = 0
    for (kk, p, _, m), reps in run.cell.items():
        if kk == k and p == path and m in ZC:
            if m == "sendzc" and run.info.get(k, {}).get("report_usage") == "0":
                continue
            n += sum(r["notifs"] for r in reps.values())
            c += sum(r["copied"] for r in reps.values())
    return c, n


def targets(run, k):
    out = []
    for name, desc, goal, le, (path, pl), fn, modes in RATIOS:
        v = run.per_rep(k, path, pl, fn, *modes)
        out.append({"kernel": k, "run": run.name, "target": name, "what": desc,
                    "goal": ("<= %g" if le else ">= %g") % goal,
                    "n": len(v), "median": statistics.median(v) if v else float("nan"),
                    "ratios": " ".join("%.4f" % x for x in v),
                    "verdict": verdict(v, goal, le)})
    for path, want in (("udp", 0), ("nic", 0), ("tcp", 1)):
        c, n = copied_share(run, k, path)
        share = c / n if n else float("nan")
        out.append({"kernel": k, "run": run.name, "target": "R5",
                    "what": "notifications reported copied, %s" % {
                        "udp": "UDP sink", "nic": "e1000 pair", "tcp": "veth (loopback-like)"}[path],
                    "goal": "= %d" % want, "n": n, "median": share,
                    "ratios": "%d of %d" % (c, n),
                    "verdict": "not measured" if not n else ("met" if share == want else "missed")})
    return out


def fits(run, k):
    out = []
    for mode in ("mod", "sendzc", "send", "mod_b16"):
        pts = []
        for (kk, path, pl, m), reps in sorted(run.cell.items()):
            if kk == k and path == "udp" and m == mode:
                pts.append(((pl + PAGE - 1) // PAGE,
                            statistics.median(us_per_req(r) for r in reps.values())))
        f = fit(pts)
        if f:
            out.append({"kernel": k, "run": run.name, "mode": mode, "sender": SHORT[mode],
                        "a_us": f[0], "b_us_per_page": f[1], "r2": f[2], "points": len(pts)})
    return out


def fmt(x, f="%.3f"):
    return "-" if x != x else f % x


def main():
    out, docdir, machine, kernels = args_and_machine(__doc__)
    runs = []
    for d in sorted(os.listdir(out)):
        if re.match(r"^run\d+$", d) and os.path.isdir(os.path.join(out, d, "vm-logs")):
            runs.append(Run(d, os.path.join(out, d, "vm-logs"), kernels))
    if not runs:
        sys.exit("bench_report: no run*/vm-logs in %s" % out)

    allrows = [r for run in runs for r in run.rows]
    write_csv(os.path.join(out, "results.csv"), ["run"] + FIELDS, allrows)
    tg = [t for run in runs for k in kernels for t in targets(run, k)]
    write_csv(os.path.join(out, "targets.csv"),
              ["kernel", "run", "target", "what", "goal", "n", "median", "verdict", "ratios"], tg)
    ft = [x for run in runs for k in kernels for x in fits(run, k)]
    write_csv(os.path.join(out, "fit.csv"),
              ["kernel", "run", "sender", "mode", "a_us", "b_us_per_page", "r2", "points"], ft)
    spread = []
    if len(runs) >= 2:
        for k in kernels:
            a = {t["target"]: t for t in tg if t["kernel"] == k and t["run"] == runs[0].name}
            b = {t["target"]: t for t in tg if t["kernel"] == k and t["run"] == runs[1].name}
            for name, *_ in RATIOS:
                x, y = a[name]["median"], b[name]["median"]
                spread.append({"kernel": k, "target": name, runs[0].name: x, runs[1].name: y,
                               "diff_pct": abs(y - x) / abs(x) * 100 if x == x and y == y and x
                               else float("nan")})
        write_csv(os.path.join(out, "spread.csv"),
                  ["kernel", "target", runs[0].name, runs[1].name, "diff_pct"], spread)
    maxspread = max((s["diff_pct"] for s in spread if s["diff_pct"] == s["diff_pct"]),
                    default=float("nan"))

    for t in tg:
        print("%-26s %-5s %-4s %-52s %-7s %8s  %s" % (
            t["kernel"], t["run"], t["target"], t["what"], t["goal"],
            fmt(t["median"]), t["verdict"]))
    for x in ft:
        print("%-26s %-5s fit %-6s a = %7.2f us, b = %6.3f us/page (r2 %.4f)" % (
            x["kernel"], x["run"], x["sender"], x["a_us"], x["b_us_per_page"], x["r2"]))
    if spread:
        print("largest run-to-run difference of a target ratio: %.2f%%" % maxspread)

    missing = [k for k in kernels if not any(r["kernel"] == k for r in allrows)]
    if docdir:
        write_doc(docdir, out, machine, kernels, runs, tg, ft, spread, maxspread)
    if missing:
        print("bench_report: no results from %s" % " ".join(missing), file=sys.stderr)
        return 1
    return 0


def write_doc(docdir, out, machine, kernels, runs, tg, ft, spread, maxspread):
    csvdir = os.path.join(docdir, "benchmarks")
    os.makedirs(csvdir, exist_ok=True)
    for name in ("results.csv", "targets.csv", "fit.csv", "spread.csv"):
        if os.path.exists(os.path.join(out, name)):
            shutil.copyfile(os.path.join(out, name), os.path.join(csvdir, name))
    L = []
    A = L.append
    A("## Targets: results of the last run")
    A("")
    A("Generated by `make bench` (scripts/bench.sh, deterministic mode) from commit "
      "`%s` on %s; %d run%s of every kernel, %s s in all. Raw numbers: "
      "[benchmarks/results.csv](benchmarks/results.csv) (every repetition), "
      "[targets.csv](benchmarks/targets.csv), [fit.csv](benchmarks/fit.csv)%s." % (
          machine.get("git"), machine.get("date"), len(runs), "s" if len(runs) > 1 else "",
          machine.get("elapsed_s"),
          ", [spread.csv](benchmarks/spread.csv)" if spread else ""))
    A("")
    L.extend(machine_rows(machine, (
        ("qemu", "QEMU"), ("clock", "guest clock"), ("vm", "guest"),
        ("bench_args", "bench arguments"), ("host_cpu", "host CPU"),
        ("load_start", "host load average at start (does not matter here)"))))
    for k in kernels:
        c = runs[0].cal.get(k)
        A("| %s | %s |" % (k, "no result (boot or run failed)" if not c else
                           "clock steady after %s tries: a fixed loop %s ms (then %s ms); "
                           "clocksource %s; memcpy of 64 KiB %s ns; getppid() %s ns; "
                           "CPU from %s; run 1: %s%s" % (
                               c.get("tries"), c.get("loop_ms"), c.get("prev_ms"),
                               c.get("clocksource"), c.get("memcpy64k_ns"),
                               c.get("getppid_ns"),
                               {"timer_list": "idle time (/proc/timer_list)",
                                "task_schedstat": "task times (no idle time in "
                                "/proc/timer_list; see Exact accounting)"}.get(
                                    c.get("idle_ns"), "nowhere (no CPU figure)"),
                               runs[0].done.get(k) or "not finished",
                               ("; errors: " + "; ".join(runs[0].errs[k]))
                               if runs[0].errs.get(k) else "")))
    A("")
    A("CPU is the busy time of the whole guest (one vCPU: sender, receiver, "
      "softirq, everything) per GiB sent. A ratio is taken per repetition (the "
      "senders of a cell ran back to back in it); the verdict is *met* if the "
      "2nd to %s ordered repetition all meet the goal, *missed* if they all "
      "miss it, *inconclusive* otherwise." % (
          "the 8th of 9" if runs[0].info and
          runs[0].info.get(kernels[0], {}).get("reps") == "9" else "the next-to-last"))
    A("")
    hdr = "| kernel | target | goal | " + " | ".join(
        "%s: median (range of 2nd..n-1th) | verdict" % r.name for r in runs)
    if spread:
        hdr += " | run-to-run"
    A(hdr + " |")
    A("|---|---|---|" + "---|---|" * len(runs) + ("---|" if spread else ""))
    for k in kernels:
        for t0 in [t for t in tg if t["kernel"] == k and t["run"] == runs[0].name]:
            cells = []
            for r in runs:
                t = next(x for x in tg if x["kernel"] == k and x["run"] == r.name and
                         x["target"] == t0["target"] and x["what"] == t0["what"])
                if t["target"] == "R5":
                    cells.append("%s copied | %s" % (t["ratios"], t["verdict"]))
                    continue
                v = sorted(float(x) for x in t["ratios"].split())
                mid = v[1:-1] if len(v) >= 3 else v
                cells.append("**%s** (%s) | %s" % (
                    fmt(t["median"]), "%.3f-%.3f" % (mid[0], mid[-1]) if mid else "-",
                    t["verdict"]))
            row = "| %s | %s %s | %s | %s" % (k, t0["target"], t0["what"], t0["goal"],
                                              " | ".join(cells))
            if spread:
                s = next((x for x in spread if x["kernel"] == k and
                          x["target"] == t0["target"]), None)
                row += " | %s" % ("-" if not s or t0["target"] == "R5"
                                  else "%.2f%%" % s["diff_pct"])
            A(row + " |")
    A("")
    if spread:
        A("Largest difference between the two runs' medians of a target ratio: "
          "**%.2f%%**." % maxspread)
        A("")
    A("### CPU per request = a + b x pages (UDP sink, %s)" % runs[0].name)
    A("")
    A("Least squares over the 4-60 KiB sweep (1, 2, 4, 8, 15 pages), busy "
      "microseconds per request, medians of the repetitions. *a* is what a "
      "request costs whatever its size, *b* what each 4 KiB page adds.")
    A("")
    A("| kernel | " + " | ".join("%s a (us) | %s b (us/page)" % (s, s)
                                  for s in ("M1", "B3", "B0", "M2x16")) + " |")
    A("|---|" + "---|---|" * 4)
    for k in kernels:
        cells = []
        for s in ("M1", "B3", "B0", "M2x16"):
            x = next((f for f in ft if f["kernel"] == k and f["run"] == runs[0].name and
                      f["sender"] == s), None)
            cells += ["-", "-"] if not x else ["%.2f" % x["a_us"], "%.3f" % x["b_us_per_page"]]
        A("| %s | %s |" % (k, " | ".join(cells)))
    A("")
    A("### Every cell (%s): CPU s/GiB, median of the repetitions" % runs[0].name)
    A("")
    r0 = runs[0]
    modes = [m for m in ("send", "uring", "msgzc", "sendzc", "mod", "mod_b4", "mod_b16")
             if any(key[3] == m for key in r0.cell)]
    A("| kernel | path | payload | " + " | ".join(SHORT[m] for m in modes) +
      " | M1 requests/s |")
    A("|---|---|---|" + "---|" * len(modes) + "---|")
    for k in kernels:
        for path in ("udp", "nic", "tcp"):
            pls = sorted({key[2] for key in r0.cell if key[0] == k and key[1] == path})
            for pl in pls:
                rps = r0.median(k, path, pl, "mod", lambda r: r["reqs"] / r["wall"])
                A("| %s | %s | %d | %s | %s |" % (
                    k, {"udp": "UDP sink", "nic": "TCP e1000", "tcp": "TCP veth"}[path], pl,
                    " | ".join(fmt(r0.median(k, path, pl, m)) for m in modes),
                    fmt(rps, "%.0f")))
    A("")
    doc = replace_block(docdir, "<!-- BEGIN GENERATED: make bench targets -->",
                        "<!-- END GENERATED: targets -->", "\n".join(L))
    print("wrote %s and %s" % (doc, csvdir))


if __name__ == "__main__":
    sys.exit(main())

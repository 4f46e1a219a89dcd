#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The report of `make bench` in its wall-clock modes (scripts/bench.sh):
BENCH_MODE=wall (the whole send matrix, bvec import, lending) and
BENCH_MODE=lend (lending only).

    bench_wall_report.py OUT LOGDIR [DOCDIR]

OUT holds machine.txt; LOGDIR the guests' consoles (<release>.log). Writes
results.csv, summary.csv, bvec*.csv, lend*.csv and cpu-per-gib.png into
OUT and, with DOCDIR, the wall-clock blocks of DOCDIR/BENCHMARKS.md. The
targets are decided in the deterministic mode (scripts/bench_report.py),
not here: under plain TCG the host's load moves every figure.
"""
import os, re, shutil, statistics, subprocess, sys

from bench_common import machine_rows, read_machine, replace_block
from bench_common import write_csv as write_csv_path

out, logdir = sys.argv[1], sys.argv[2]
docdir = sys.argv[3] if len(sys.argv) > 3 else None
machine, kernels = read_machine(out)

MODES = ["send", "uring", "msgzc", "sendzc", "mod", "mod_b4", "mod_b16"]
LABEL = {"send": "B0 send()", "uring": "B1 uring SEND", "msgzc": "B2 MSG_ZEROCOPY",
         "sendzc": "B3 SEND_ZC fixed", "mod": "M1 module", "mod_b4": "M2 module x4",
         "mod_b16": "M2 module x16"}
ZC = {"msgzc", "sendzc", "mod", "mod_b4", "mod_b16"}
GIB = 1024.0 ** 3

only = os.environ.get("BENCH_ONLY", "")
LFIELDS = ["kernel", "path", "chunk", "method", "rep", "bytes", "wall", "chunks", "cpu", "busy",
           "softirq", "notifs", "copied", "pkts", "err", "probe_ns"]

# ---- parse the console logs ------------------------------------------------
rows, bvec, bvecreg, info, done, errors = [], [], [], {}, {}, {}
lrows, linfo = [], {}
for k in kernels:
    path = os.path.join(logdir, k + ".log")
    if not os.path.exists(path):
        continue
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        m = re.match(r"^bench: (BENCH|BENCHINFO|BENCHDONE|BVEC|BVECREG|BENCHERR|LEND|LENDINFO),(.*)$", line)
        if not m:
            continue
        kind, rest = m.group(1), m.group(2).split(",")
        if kind == "BENCH" and len(rest) == 21:
            r = dict(zip(["kernel", "path", "payload", "temp", "mode", "rep", "bytes", "wall",
                          "reqs", "bufs", "cpu", "cpu_ru", "busy", "softirq", "notifs",
                          "copied", "err", "probe_ns", "phase", "busy_all", "busy_tasks"], rest))
            for f in ("payload", "rep", "bytes", "reqs", "bufs", "notifs", "copied", "err"):
                r[f] = int(r[f])
            for f in ("wall", "cpu", "cpu_ru", "busy", "softirq", "probe_ns", "busy_all",
                      "busy_tasks"):
                r[f] = float(r[f])
            rows.append(r)
        elif kind == "LEND" and len(rest) == len(LFIELDS):
            r = dict(zip(LFIELDS, rest))
            for f in ("chunk", "rep", "bytes", "chunks", "notifs", "copied", "pkts", "err"):
                r[f] = int(r[f])
            for f in ("wall", "cpu", "busy", "softirq", "probe_ns"):
                r[f] = float(r[f])
            lrows.append(r)
        elif kind == "LENDINFO":
            linfo[rest[0]] = dict(x.split("=", 1) for x in rest[1:] if "=" in x)
        elif kind == "BENCHINFO":
            info[rest[0]] = dict(x.split("=", 1) for x in rest[1:] if "=" in x)
        elif kind == "BENCHDONE":
            done[rest[0]] = rest[1]
        elif kind == "BVEC" and len(rest) == 12:
            bvec.append(dict(zip(["kernel", "backing", "slice", "off", "len", "entries", "segs",
                                  "expect", "ns", "cpu_ns", "cpu_ns_vs_1b", "res"], rest)))
        elif kind == "BENCHERR":
            errors.setdefault(k, []).append(",".join(rest))
        elif kind == "BVECREG":
            bvecreg.append(dict(zip(["kernel", "backing", "len", "segs", "pinned", "us"], rest)))

def write_csv(name, fields, data):
    write_csv_path(os.path.join(out, name), fields, data)

write_csv("results.csv", ["kernel", "path", "payload", "temp", "mode", "rep", "bytes", "wall",
                          "reqs", "bufs", "cpu", "cpu_ru", "busy", "softirq", "notifs", "copied",
                          "err", "probe_ns", "phase", "busy_all", "busy_tasks"], rows)
write_csv("bvec.csv", ["kernel", "backing", "slice", "off", "len", "entries", "segs", "expect",
                       "ns", "cpu_ns", "cpu_ns_vs_1b", "res"], bvec)
write_csv("bvecreg.csv", ["kernel", "backing", "len", "segs", "pinned", "us"], bvecreg)

# ---- per cell statistics ---------------------------------------------------
def cpg(r):      # sender thread CPU seconds per GiB
    return r["cpu"] / (r["bytes"] / GIB)

# The page-size pass (-H) runs cold and cold2m back to back: its cold rows
# are a cell of their own ("cold/p"), compared with cold2m only.
cells = {}
for r in rows:
    if r["err"] or not r["bytes"]:
        continue
    t = r["temp"] + ("/p" if r["phase"] == "pages" and r["temp"] == "cold" else "")
    cells.setdefault((r["kernel"], r["path"], r["payload"], t, r["mode"]), []).append(r)

def med(v):
    return statistics.median(v) if v else float("nan")

def kb(p):
    if p % 2 ** 20 == 0:
        return "%dM" % (p // 2 ** 20)
    return "%dK" % (p // 1024) if p % 1024 == 0 else str(p)

def run_header(cmd, keys):
    """The lines that open a results block: who generated it (CMD) when,
    how long the run took, its source, then the machine.txt rows KEYS."""
    return ["Generated by `%s` (scripts/bench.sh) on %s; the whole run took %s s (%.1f min). "
            "Source: `%s`." % (cmd, machine.get("date"), machine.get("elapsed_s"),
                               int(machine.get("elapsed_s", 0)) / 60.0, machine.get("git")),
            ""] + machine_rows(machine, keys)

def kernel_rows(kinfo, krows, describe, probe_note):
    """A table row per kernel: DESCRIBE of its guest's info line (KINFO),
    how many runs (KROWS) it made, whether it finished, its getppid() probe
    (min/median/max, then PROBE_NOTE) and its errors."""
    res = []
    for k in kernels:
        i = kinfo.get(k)
        pr = sorted(r["probe_ns"] for r in krows if r["kernel"] == k)
        res.append("| %s | %s |" % (k, "no result (boot or run failed)" if not i else
                                    "%s; %d runs, %s; getppid() probe %s ns (min/median/max%s)%s" % (
                                        describe(i), len(pr), done.get(k, "not finished"),
                                        "%.0f/%.0f/%.0f" % (pr[0], med(pr), pr[-1]) if pr else "-",
                                        probe_note,
                                        ("; errors: " + "; ".join(errors[k])) if k in errors else "")))
    return res

def lcpg(r):     # sender thread CPU seconds per GiB, lending rows
    return r["cpu"] / (r["bytes"] / GIB)

# ---- lending benchmark (-o lend) ----------------------------------------------
LMETHODS = ["chain", "readsend", "sendfile", "lendsend", "send", "lendread", "pread"]
LLABEL = {"chain": "chain (LEND: READ + SEND zc)", "readsend": "read() + send()",
          "sendfile": "sendfile()", "lendsend": "LEND: SEND zc only",
          "send": "send() only", "lendread": "LEND: READ only", "pread": "pread() only"}

def lend_report():
    """lend.csv, lend-summary.csv, lend-ratios.csv, the console table and
    the docs block between the lend markers."""
    write_csv("lend.csv", LFIELDS, lrows)
    lcells = {}
    for r in lrows:
        if r["err"] or not r["bytes"]:
            continue
        lcells.setdefault((r["kernel"], r["path"], r["chunk"], r["method"]), []).append(r)
    lsum = {}
    for key, rs in lcells.items():
        c = [lcpg(r) for r in rs]
        ch = sum(r["chunks"] for r in rs)
        notifs = sum(r["notifs"] for r in rs)
        lsum[key] = {
            "kernel": key[0], "path": key[1], "chunk": key[2], "method": key[3], "n": len(rs),
            "cpu_s_per_gib": med(c), "cpu_min": min(c), "cpu_max": max(c),
            "busy_s_per_gib": med([r["busy"] / (r["bytes"] / GIB) for r in rs]),
            "mib_s": med([r["bytes"] / 2 ** 20 / r["wall"] for r in rs]),
            "chunks_s": med([r["chunks"] / r["wall"] for r in rs]),
            "notifs": notifs, "copied": sum(r["copied"] for r in rs),
            "copied_share": (sum(r["copied"] for r in rs) / notifs) if notifs else None,
            "pkts_per_chunk": (sum(r["pkts"] for r in rs) / ch) if ch and key[1] != "file" else None,
        }
    write_csv("lend-summary.csv", ["kernel", "path", "chunk", "method", "n", "cpu_s_per_gib",
                                   "cpu_min", "cpu_max", "busy_s_per_gib", "mib_s", "chunks_s",
                                   "notifs", "copied", "copied_share", "pkts_per_chunk"],
              [lsum[k] for k in sorted(lsum)])

    def lpaired(k, path, chunk, num, den):
        a = {r["rep"]: r for r in lcells.get((k, path, chunk, num), [])}
        b = {r["rep"]: r for r in lcells.get((k, path, chunk, den), [])}
        v = [lcpg(a[i]) / lcpg(b[i]) for i in sorted(set(a) & set(b)) if lcpg(b[i])]
        return (med(v), min(v), max(v), len(v)) if v else None

    def lminratio(k, path, chunk, num, den):
        """The least disturbed run of each: under TCG the host only ever
        adds time (a descheduled vCPU's time is charged to the guest), so
        the minimum is the other estimate worth having."""
        a, b = lsum.get((k, path, chunk, num)), lsum.get((k, path, chunk, den))
        return a["cpu_min"] / b["cpu_min"] if a and b and b["cpu_min"] else None

    lkernels = [k for k in kernels if any(key[0] == k for key in lsum)]
    ratios = []
    for k in lkernels:
        for path in ("udp", "tcp"):
            for chunk in sorted({key[2] for key in lsum if key[0] == k and key[1] == path}):
                for den in ("readsend", "sendfile"):
                    res = lpaired(k, path, chunk, "chain", den)
                    mr = lminratio(k, path, chunk, "chain", den)
                    ratios.append({"kernel": k, "path": path, "chunk": chunk,
                                   "ratio": "chain/" + den,
                                   "median": "" if not res else "%.2f" % res[0],
                                   "min": "" if not res else "%.2f" % res[1],
                                   "max": "" if not res else "%.2f" % res[2],
                                   "n": 0 if not res else res[3],
                                   "of_minima": "" if mr is None else "%.2f" % mr})
    write_csv("lend-ratios.csv", ["kernel", "path", "chunk", "ratio", "median", "min", "max", "n",
                                  "of_minima"], ratios)

    print()
    print("%-22s %-4s %-5s %-29s %10s %17s %8s %7s %8s" % (
        "kernel", "path", "chunk", "method", "cpu s/GiB", "(min..max)", "MiB/s", "copied",
        "pkt/chk"))
    for key in sorted(lsum, key=lambda x: (x[0], ["udp", "tcp", "file"].index(x[1]), x[2],
                                           LMETHODS.index(x[3]))):
        s = lsum[key]
        print("%-22s %-4s %-5s %-29s %10.3f %8.3f..%-8.3f %8.0f %7s %8s" % (
            key[0], key[1], kb(key[2]), LLABEL[key[3]], s["cpu_s_per_gib"], s["cpu_min"],
            s["cpu_max"], s["mib_s"],
            "-" if s["copied_share"] is None else "%.0f%%" % (100 * s["copied_share"]),
            "-" if s["pkts_per_chunk"] is None else "%.2f" % s["pkts_per_chunk"]))
    print()
    for r in ratios:
        print("%-22s %-4s %-5s %-18s %s (%s-%s, n=%d); of the minima %s" % (
              r["kernel"], r["path"], kb(r["chunk"]), r["ratio"], r["median"] or "n/a", r["min"],
              r["max"], r["n"], r["of_minima"] or "n/a"))

    if not docdir:
        return
    L = []
    A = L.append
    A("### Lending: results of the last run")
    A("")
    L.extend(run_header("BENCH_ONLY=lend make bench" if only == "lend" else "make bench", (
        ("accel", "accelerator"), ("vm", "guest"), ("load_start", "host load average at start"),
        ("load_end", "host load average at end"), ("bench_args", "bench arguments"))))
    L.extend(kernel_rows(linfo, lrows, lambda i: "TCP receiver: %s; file %s MiB (tmpfs); "
                         "%s chains in flight" % (i.get("tcp"), int(i.get("file_bytes", 0)) // 2 ** 20,
                                                  i.get("qd")), ""))
    A("")
    A("#### Ratios of sender CPU per GiB, chain / baseline")
    A("")
    A("Per repetition (the methods of a cell ran back to back), then median "
      "and range over the repetitions; then the ratio of the two methods' "
      "minimum CPU per GiB over the repetitions (their least disturbed runs). "
      "Below 1: the chain costs less CPU per byte.")
    A("")
    A("| kernel | path | chunk | chain / read()+send(): median (range, n) | of the minima | chain / sendfile(): median (range, n) | of the minima |")
    A("|---|---|---|---|---|---|---|")
    for k in lkernels:
        for path in ("udp", "tcp"):
            for chunk in sorted({key[2] for key in lsum if key[0] == k and key[1] == path}):
                cells_ = []
                for den in ("readsend", "sendfile"):
                    res = lpaired(k, path, chunk, "chain", den)
                    mr = lminratio(k, path, chunk, "chain", den)
                    cells_.append("-" if not res else "**%.2f** (%.2f-%.2f, n=%d)" % res)
                    cells_.append("-" if mr is None else "%.2f" % mr)
                A("| %s | %s | %s | %s |" % (k, path, kb(chunk), " | ".join(cells_)))
    A("")
    A("#### Where the CPU goes: each method and its halves, CPU s/GiB (medians)")
    A("")
    A("The halves ran in the same repetitions: `LEND: READ only` and "
      "`pread() only` fill a buffer from the file without a socket; "
      "`LEND: SEND zc only` and `send() only` send a buffer filled beforehand.")
    A("")
    A("| kernel | path | chunk | chain | LEND READ + LEND SEND | read()+send() | pread() + send() | sendfile() |")
    A("|---|---|---|---|---|---|---|---|")
    def g(k, path, chunk, m):
        s = lsum.get((k, path, chunk, m))
        return s["cpu_s_per_gib"] if s else float("nan")
    for k in lkernels:
        for path in ("udp", "tcp"):
            for chunk in sorted({key[2] for key in lsum if key[0] == k and key[1] == path}):
                A("| %s | %s | %s | %.3g | %.3g + %.3g = %.3g | %.3g | %.3g + %.3g = %.3g | %.3g |" % (
                    k, path, kb(chunk), g(k, path, chunk, "chain"),
                    g(k, "file", chunk, "lendread"), g(k, path, chunk, "lendsend"),
                    g(k, "file", chunk, "lendread") + g(k, path, chunk, "lendsend"),
                    g(k, path, chunk, "readsend"),
                    g(k, "file", chunk, "pread"), g(k, path, chunk, "send"),
                    g(k, "file", chunk, "pread") + g(k, path, chunk, "send"),
                    g(k, path, chunk, "sendfile")))
    A("")
    for k in lkernels:
        A("#### %s: every method" % k)
        A("")
        A("| path | chunk | method | CPU s/GiB, median (min-max) | vCPU busy s/GiB | MiB/s | chunks/s | notifications copied | packets per chunk |")
        A("|---|---|---|---|---|---|---|---|---|")
        for key in sorted((x for x in lsum if x[0] == k),
                          key=lambda x: (["udp", "tcp", "file"].index(x[1]), x[2],
                                         LMETHODS.index(x[3]))):
            s = lsum[key]
            A("| %s | %s | %s | %.3g (%.3g-%.3g) | %.3g | %.0f | %.0f | %s | %s |" % (
                key[1], kb(key[2]), LLABEL[key[3]], s["cpu_s_per_gib"], s["cpu_min"],
                s["cpu_max"], s["busy_s_per_gib"], s["mib_s"], s["chunks_s"],
                "-" if s["copied_share"] is None else
                "%.0f%% of %d" % (100 * s["copied_share"], s["notifs"]),
                "-" if s["pkts_per_chunk"] is None else "%.2f" % s["pkts_per_chunk"]))
        A("")
    doc = replace_block(docdir, "<!-- BEGIN GENERATED: make bench lend -->",
                        "<!-- END GENERATED: lend -->", "\n".join(L))
    print("\nwrote the lending results into %s" % doc)

if only == "lend":
    lend_report()
    sys.exit(0)

summary = {}
for key, rs in cells.items():
    c = [cpg(r) for r in rs]
    notifs = sum(r["notifs"] for r in rs)
    summary[key] = {
        "kernel": key[0], "path": key[1], "payload": key[2], "temp": key[3], "mode": key[4],
        "n": len(rs), "cpu_s_per_gib": med(c), "cpu_min": min(c), "cpu_max": max(c),
        "busy_s_per_gib": med([r["busy"] / (r["bytes"] / GIB) for r in rs]),
        "softirq_share": med([r["softirq"] / r["busy"] if r["busy"] else 0 for r in rs]),
        "mib_s": med([r["bytes"] / 2 ** 20 / r["wall"] for r in rs]),
        "req_s": med([r["reqs"] / r["wall"] for r in rs]),
        "bufs_s": med([r["bufs"] / r["wall"] for r in rs]),
        "notifs": notifs, "copied": sum(r["copied"] for r in rs),
        "copied_share": (sum(r["copied"] for r in rs) / notifs) if notifs else None,
    }
write_csv("summary.csv", ["kernel", "path", "payload", "temp", "mode", "n", "cpu_s_per_gib",
                          "cpu_min", "cpu_max", "busy_s_per_gib", "softirq_share", "mib_s",
                          "req_s", "bufs_s", "notifs", "copied", "copied_share"],
          [summary[k] for k in sorted(summary)])

# ---- console table ---------------------------------------------------------
print()
print("%-22s %-4s %-5s %-6s %-17s %10s %17s %8s %9s %9s %7s" % (
    "kernel", "path", "size", "temp", "mode", "cpu s/GiB", "(min..max)", "MiB/s", "req/s",
    "slices/s", "copied"))
for key in sorted(summary, key=lambda x: (x[0], x[1] != "udp", x[2], x[3], MODES.index(x[4]))):
    s = summary[key]
    cs = "-" if s["copied_share"] is None else "%.0f%%" % (100 * s["copied_share"])
    print("%-22s %-4s %-5s %-6s %-17s %10.3f %8.3f..%-8.3f %8.0f %9.0f %9.0f %7s" % (
        key[0], key[1], kb(key[2]), key[3], LABEL[key[4]], s["cpu_s_per_gib"], s["cpu_min"],
        s["cpu_max"], s["mib_s"], s["req_s"], s["bufs_s"], cs))

# ---- chart -------------------------------------------------------------------
png = os.path.join(out, "cpu-per-gib.png")
panels = [("udp", "hot"), ("udp", "cold"), ("tcp", "hot"), ("tcp", "cold")]
plotdir = os.path.join(out, "plot")
os.makedirs(plotdir, exist_ok=True)
have_plot = False
for k in kernels:
    for path, t in panels:
        pays = sorted({key[2] for key in summary if key[0] == k and key[1] == path and key[3] == t})
        with open(os.path.join(plotdir, "%s_%s_%s.dat" % (k, path, t)), "w") as f:
            f.write("KiB " + " ".join('"%s"' % LABEL[m] for m in MODES) + "\n")
            for p in pays:
                vals = []
                for m in MODES:
                    s = summary.get((k, path, p, t, m))
                    vals.append("%.5f" % s["cpu_s_per_gib"] if s else "NaN")
                f.write("%.3f %s\n" % (p / 1024, " ".join(vals)))
                have_plot = True
if have_plot and subprocess.call(["sh", "-c", "command -v gnuplot >/dev/null"]) == 0:
    rowsn = max(1, len(kernels))
    gp = ['set terminal pngcairo size 1800,%d font "sans,9"' % (380 * rowsn + 60),
          'set output "%s"' % png,
          'set multiplot layout %d,4 title "Sender CPU seconds per GiB by payload (median of repetitions; log scales; lower is better)"' % rowsn,
          "set termoption noenhanced",
          "set logscale xy", "set grid", "set key bottom left font ',8'",
          "set xlabel 'payload per request (KiB)'", "set ylabel 'sender CPU s/GiB'",
          "set datafile missing 'NaN'"]
    for k in kernels:
        for path, t in panels:
            dat = os.path.join(plotdir, "%s_%s_%s.dat" % (k, path, t))
            title = "%s  %s %s%s" % (k, path.upper(), t, " (UDP 64K = 60K)" if path == "udp" else
                                     " (%s)" % info.get(k, {}).get("tcp", "?"))
            gp.append('set title "%s"' % title)
            gp.append("set xtics (4, 16, 60)" if path == "udp" else "set xtics (4, 16, 64, 256)")
            gp.append("set xrange [3:80]" if path == "udp" else "set xrange [3:340]")
            gp.append("plot for [i=2:%d] '%s' using 1:i with linespoints lw 2 pt i title columnheader(i)"
                      % (len(MODES) + 1, dat))
    gp.append("unset multiplot")
    with open(os.path.join(plotdir, "chart.gp"), "w") as f:
        f.write("\n".join(gp) + "\n")
    if subprocess.call(["gnuplot", os.path.join(plotdir, "chart.gp")]) != 0:
        png = None
else:
    png = None

if lrows:
    lend_report()

# ---- docs/BENCHMARKS.md ------------------------------------------------------
if not docdir:
    sys.exit(0)
L = []
A = L.append
A("## Wall-clock mode: results of the last run")
A("")
L.extend(run_header("make bench", (
    ("host_cpu", "host CPU"), ("host_cpus", "host CPUs"), ("host_llc", "host L3"),
    ("host_mem", "host memory"), ("host_kernel", "host kernel"), ("qemu", "QEMU"),
    ("accel", "accelerator"), ("vm", "guest"), ("liburing", "liburing"),
    ("load_start", "host load average at start"), ("load_end", "host load average at end"),
    ("bench_args", "bench arguments"))))
L.extend(kernel_rows(info, rows, lambda i: "TCP receiver: %s; SEND_ZC REPORT_USAGE: %s; "
                     "ring flags %s; cold2m: %s" % (
                         i.get("tcp"), "yes" if i.get("report_usage") == "1" else "no",
                         i.get("ring_flags"), i.get("cold2m")), ": host contention"))
A("")
if png:
    A("![CPU per GiB](BENCHMARKS-cpu-per-gib.png)")
    A("")

# the page-size pass: the same cold walk on 4 KiB and on 2 MiB pages
pp = [key for key in summary if key[3] == "cold2m"]
if pp:
    A("### Page-size pass: cold walk on 4 KiB vs 2 MiB pages (UDP sink)")
    A("")
    A("| kernel | payload | sender | CPU s/GiB, 4 KiB pages | CPU s/GiB, 2 MiB pages | ratio 2M/4K per repetition: median (range) |")
    A("|---|---|---|---|---|---|")
    for key in sorted(pp, key=lambda x: (x[0], x[2], MODES.index(x[4]))):
        k, path, p, _, m = key
        a = {r["rep"]: r for r in cells.get((k, path, p, "cold2m", m), [])}
        b = {r["rep"]: r for r in cells.get((k, path, p, "cold/p", m), [])}
        v = [cpg(a[i]) / cpg(b[i]) for i in sorted(set(a) & set(b))]
        s4 = summary.get((k, path, p, "cold/p", m))
        A("| %s | %s | %s | %s | %.3g | %s |" % (
            k, kb(p), LABEL[m], "%.3g" % s4["cpu_s_per_gib"] if s4 else "-",
            summary[key]["cpu_s_per_gib"],
            "%.2f (%.2f-%.2f)" % (med(v), min(v), max(v)) if v else "-"))
    A("")

def table(k, title, fn, fmt):
    A("#### %s: %s" % (k, title))
    A("")
    A("| path | payload | buffers | " + " | ".join(LABEL[m] for m in MODES) + " |")
    A("|---|---|---|" + "---|" * len(MODES))
    for path in ("udp", "tcp"):
        pays = sorted({key[2] for key in summary if key[0] == k and key[1] == path})
        for p in pays:
            for t in ("hot", "cold", "cold/p", "cold2m"):
                if not any((k, path, p, t, m) in summary for m in MODES):
                    continue
                cellv = []
                for m in MODES:
                    s = summary.get((k, path, p, t, m))
                    cellv.append(fmt(fn(s)) if s else "")
                A("| %s | %s | %s | %s |" % (path, kb(p), t, " | ".join(cellv)))
    A("")

for k in kernels:
    A("### Results: %s" % k)
    A("")
    table(k, "sender CPU s/GiB, median (min-max)", lambda s: s,
          lambda s: "%.3g (%.3g-%.3g)" % (s["cpu_s_per_gib"], s["cpu_min"], s["cpu_max"]))
    table(k, "busy time of the sender's vCPU, s/GiB (all work on it: with TCP also the receiver)",
          lambda s: s["busy_s_per_gib"], lambda v: "%.3g" % v)
    table(k, "throughput, MiB/s", lambda s: s["mib_s"], lambda v: "%.0f" % v)
    table(k, "requests/s (slices/s for bundles)", lambda s: s,
          lambda s: "%.0f" % s["req_s"] + (" (%.0f)" % s["bufs_s"] if s["bufs_s"] > s["req_s"] * 1.5 else ""))
    table(k, "notifications reported copied", lambda s: s,
          lambda s: "-" if s["copied_share"] is None else "%.0f%% of %d" % (100 * s["copied_share"], s["notifs"]))
    regs = [b for b in bvecreg if b["kernel"] == k]
    if regs:
        A("#### %s: bvec import" % k)
        A("")
        A("| buffer | bytes | runs (fdinfo segs) | pinned pages | register, us |")
        A("|---|---|---|---|---|")
        for b in regs:
            A("| %s | %s | %s | %s | %s |" % (b["backing"], b["len"], b["segs"], b["pinned"], b["us"]))
        A("")
        A("| buffer | slice | offset | entries | segments (observed / expected) | ns per command | CPU ns vs 1-byte slice | result |")
        A("|---|---|---|---|---|---|---|---|")
        for b in bvec:
            if b["kernel"] != k:
                continue
            segs = "-" if b["segs"] == "-1" else "%s / %s" % (b["segs"], b["expect"])
            A("| %s | %s | %s | %s | %s | %s | %s | %s |" % (b["backing"], b["slice"], b["off"],
              b["entries"], segs, b["ns"], b["cpu_ns_vs_1b"], b["res"]))
        A("")

doc = replace_block(docdir, "<!-- BEGIN GENERATED: make bench -->", "<!-- END GENERATED -->",
                    "\n".join(L))
if png:
    shutil.copyfile(png, os.path.join(docdir, "BENCHMARKS-cpu-per-gib.png"))
print("\nwrote %s, %s" % (doc, out))

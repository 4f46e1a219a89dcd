# SPDX-License-Identifier: GPL-2.0
"""What the two reports of `make bench` share (scripts/bench_report.py,
scripts/bench_wall_report.py): machine.txt, CSV files, the generated blocks
of docs/BENCHMARKS.md."""

import csv
import os
import sys


def args_and_machine(doc):
    """A report's arguments, OUT [DOCDIR], and OUT's machine.txt: (out,
    docdir or None, machine fields, kernels); exits with DOC without OUT."""
    if len(sys.argv) < 2:
        sys.exit(doc)
    out = sys.argv[1]
    docdir = sys.argv[2] if len(sys.argv) > 2 else None
    return (out, docdir) + read_machine(out)


def read_machine(out):
    """machine.txt of OUT: (fields, kernels in order)."""
    machine, kernels = {}, []
    with open(os.path.join(out, "machine.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            if k == "kernel":
                kernels.append(v)
            else:
                machine[k] = v
    return machine, kernels


def write_csv(path, fields, data):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for d in data:
            w.writerow(d)


def machine_rows(machine, keys):
    """Markdown rows "| label | value |" for (key, label) pairs."""
    return ["| | |", "|---|---|"] + [
        "| %s | %s |" % (lab, machine.get(key, "?").replace("|", "/")) for key, lab in keys]


def replace_block(docdir, begin, end, gen):
    """Put GEN between the BEGIN and END marker lines of DOCDIR/BENCHMARKS.md
    (appending the markers if they are missing); returns the file's path."""
    os.makedirs(docdir, exist_ok=True)
    doc = os.path.join(docdir, "BENCHMARKS.md")
    text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
    if begin not in text:
        text += "\n%s\n%s\n" % (begin, end)
    pre, rest = text.split(begin, 1)
    post = rest.split(end, 1)[1] if end in rest else ""
    with open(doc, "w") as f:
        f.write(pre + begin + "\n" + gen + "\n" + end + post)
    return doc

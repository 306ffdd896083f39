#!/usr/bin/env python3
"""What the optional data checksum (VNV_DATA_CRC) costs, from two vnv-bench runs of the
same points: one built without it, one with it (make bench writes crc-off.jsonl and
crc-on.jsonl, running the two builds back to back per benchmark).

Storage bytes, transactions and modeled device time are deterministic counts. CPU is the
host's median wall-clock time per point, measured in runs made one right after the other:
indicative only (rv32 instructions are the deterministic CPU figure: make bench-rv32 with
BENCH_RV32_ARGS and the option in the rv32 build).

Usage: crc_cost.py RESULTS_DIR   (prints a table, writes RESULTS_DIR/crc_cost.txt)
"""
import json
import math
import sys
from pathlib import Path


def load(path):
    points = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        key = (r["bench_name"], json.dumps(r.get("bench_options", {}), sort_keys=True))
        points[key] = r
    return points


def geomean(xs):
    xs = [x for x in xs if x > 0 and x != float("inf")]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def ratio(on, off):
    """on / off; 1 when both are 0; NaN (left out of the mean) when only off is 0."""
    return on / off if off else (1.0 if on == off else float("nan"))


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/bench")
    off, on = load(out / "crc-off.jsonl"), load(out / "crc-on.jsonl")
    names = sorted({k[0] for k in off} & {k[0] for k in on})
    lines = ["VNV_DATA_CRC on / off, geometric mean over each benchmark's points "
             "(bytes, transactions and modeled time are deterministic; CPU is host wall clock)",
             f"{'benchmark':<40} {'points':>6} {'modeled':>8} {'wr bytes':>9} {'rd bytes':>9}"
             f" {'rd tx':>6} {'cpu':>6}"]
    for name in names:
        keys = [k for k in off if k[0] == name and k in on]
        cols = {"modeled": [], "wb": [], "rb": [], "rtx": [], "cpu": []}
        for k in keys:
            a, b = off[k], on[k]
            cols["modeled"].append(ratio(b.get("modeled_ms", 0), a.get("modeled_ms", 0)))
            sa, sb = a.get("storage", {}), b.get("storage", {})
            cols["wb"].append(ratio(sb.get("write_bytes", 0), sa.get("write_bytes", 0)))
            cols["rb"].append(ratio(sb.get("read_bytes", 0), sa.get("read_bytes", 0)))
            cols["rtx"].append(ratio(sb.get("read_tx", 0), sa.get("read_tx", 0)))
            cols["cpu"].append(ratio(b.get("cpu_median", 0), a.get("cpu_median", 0)))
        g = {c: geomean(v) for c, v in cols.items()}
        lines.append(f"{name:<40} {len(keys):>6} {g['modeled']:>7.2f}x {g['wb']:>8.2f}x"
                     f" {g['rb']:>8.2f}x {g['rtx']:>5.2f}x {g['cpu']:>5.2f}x")
    if not names:
        lines.append("(no common points: run make bench)")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    (out / "crc_cost.txt").write_text(text)
    return 0 if names else 1


if __name__ == "__main__":
    sys.exit(main())

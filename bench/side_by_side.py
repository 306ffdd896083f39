#!/usr/bin/env python3
"""Side by side with the original vNV-Heap (Rust) on this machine: interleaved runs, C/Rust.

usage: side_by_side.py ORIGINAL_DESKTOP_BENCHMARK VNV_BENCH [--rounds N] [--out FILE.md]

ORIGINAL_DESKTOP_BENCHMARK is the original's `desktop_benchmark` binary, built OUTSIDE this
repository (it is GPL-3; bench/README.md says how). VNV_BENCH is our runner (host build).
Nothing here reads or copies the original's sources: it runs its binary and parses the
[BENCH-INFO] lines it prints.

Method: rounds of A B (original, then ours) alternating with B A, at least 3; both on a
file (the original: its FilePersistentStorageModule, pread/pwrite; ours: --storage-file, no
sync) in a fresh temporary directory; ours with --original (its configurations, get timed
alone, timer cost not subtracted). Per row and round: the median of each side's repetitions;
the ratio C/Rust per round; reported: the median ratio over the rounds and its spread
(min-max), and each side's median time. The original's desktop timer counts whole
microseconds (`subsec_micros`): rows where its median is below 2 us carry no ratio.
Not part of `make test`.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

# (label, name, match on bench_options, ops per repetition key or None, target)
ROWS = [
    ("get+release, 1 resident (get_min, 8 B; get timed alone)", "get_min",
     {"object_size": 8}, 1.0),
    ("get, resident among many pinned (get_max_min, 8 B)", "get_max_min",
     {"object_size": 8}, 1.0),
    ("load 64 B (get_min_max)", "get_min_max", {"object_size": 64}, 1.1),
    ("load 1 KiB (get_min_max)", "get_min_max", {"object_size": 1024}, 1.1),
    ("get evicting a dirty 1 KiB blocker, 64 B object (get_max)", "get_max",
     {"object_size": 64}, 1.0),
    ("get evicting a dirty 1 KiB blocker, 1 KiB object (get_max)", "get_max",
     {"object_size": 1024}, 1.0),
] + [("FIFO length %d (queue, 100 iterations)" % L, "queue", {"queue_length": L}, 1.0)
     for L in (0, 5, 10, 16, 32)] + [
    ("KVS %s (10 000 updates)" % p, "kvs", {"access_type": p}, 1.0)
    for p in ("Random", "Sequential", "Partitioned", "Distributed")]

NOT_MEASURABLE = [
    ("get+release with 8 / 64 / 512 resident", "the original has no such benchmark (its get "
     "benchmarks hold one object, or one among many pinned: the get_max_min row)"),
    ("alloc / free 64 B and 1 KiB", "the original's allocate/deallocate benchmarks are "
     "commented out upstream"),
    ("checkpoint 1 KiB / 4 KiB dirty", "the original's persist-latency benchmarks do not run on "
     "desktop (RunAllBenchmarkOptions: NOT SUPPORTED ON DESKTOP)"),
]


def parse(text):
    out = []
    for line in text.splitlines():
        i = line.find("[BENCH-INFO] ")
        if i >= 0:
            try:
                out.append(json.loads(line[i + len("[BENCH-INFO] "):]))
            except ValueError:
                pass
    return out


def opts_match(r, want):
    o = r.get("bench_options", {})
    inner = o.get("inner", {})
    return all(o.get(k, inner.get(k)) == v for k, v in want.items())


def pick(results, name, want):
    for r in results:
        if r["bench_name"] == name and opts_match(r, want):
            return r
    return None


def median_us(r):
    """median of the repetitions in microseconds"""
    d = r["data"]
    scale = 1000.0 / r["ticks_per_ms"]  # ticks -> us
    return statistics.median(d) * scale


def run_original(binary, wd):
    p = subprocess.run([binary], cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=900)
    return parse(p.stdout)


def run_ours(binary, wd):
    res = []
    for filt in ("get_min", "get_max", "queue", "kvs"):
        p = subprocess.run([binary, "--original", "--storage-file",
                            os.path.join(wd, "vnv.data"), "--filter", filt],
                           cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, timeout=900)
        res += parse(p.stdout)
    return res


def main():
    args = sys.argv[1:]
    rounds, out_md = 3, None
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = max(3, int(args[i + 1]))
        del args[i:i + 2]
    if "--out" in args:
        i = args.index("--out")
        out_md = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    orig_bin, ours_bin = (os.path.abspath(a) for a in args)
    per_row = {label: ([], [], []) for label, *_ in ROWS}  # ratios, orig us, ours us
    missing = {}
    for k in range(rounds):
        order = ("A", "B") if k % 2 == 0 else ("B", "A")
        got = {}
        for who in order:
            with tempfile.TemporaryDirectory(prefix="vnv-sbs-") as wd:
                sys.stderr.write("round %d/%d: %s\n" % (k + 1, rounds,
                                                      "original" if who == "A" else "vnvheap"))
                got[who] = run_original(orig_bin, wd) if who == "A" else run_ours(ours_bin, wd)
        for label, name, want, _t in ROWS:
            a, b = pick(got["A"], name, want), pick(got["B"], name, want)
            if not a or not b:
                missing[label] = "no such point in the %s run" % (
                    "original's desktop" if not a else "vnvheap")
                continue
            ua, ub = median_us(a), median_us(b)
            per_row[label][1].append(ua)
            per_row[label][2].append(ub)
            if ua >= 2.0:
                per_row[label][0].append(ub / ua)
    lines = ["| row | Rust (us, median) | C (us, median) | C/Rust median | spread (min-max) "
             "| target | met |", "|---|---:|---:|---:|---|---:|---|"]
    for label, name, want, target in ROWS:
        ratios, ua, ub = per_row[label]
        if not ua:
            lines.append("| %s | - | - | - | not measurable: %s | <= %.1fx | - |"
                         % (label, missing.get(label, "missing"), target))
            continue
        if ratios:
            med = statistics.median(ratios)
            lines.append("| %s | %.1f | %.1f | %.2f | %.2f-%.2f (%d rounds) | <= %.1fx | %s |"
                         % (label, statistics.median(ua), statistics.median(ub), med,
                            min(ratios), max(ratios), len(ratios), target,
                            "met" if med <= target else "**not met**"))
        else:
            lines.append("| %s | %.1f | %.3f | - | below the original's 1 us timer "
                         "resolution | <= %.1fx | - |"
                         % (label, statistics.median(ua), statistics.median(ub), target))
    for label, why in NOT_MEASURABLE:
        lines.append("| %s | - | - | - | not measurable: %s | | - |" % (label, why))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if out_md:
        with open(out_md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

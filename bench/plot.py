#!/usr/bin/env python3
"""Render the figures (*.png, and .svg when small) from benchmark results.

usage: plot.py [--results DIR] [--reference FILE] [--out DIR] [--require-rv32]
  --results      build/bench            (host.jsonl required; rv32.jsonl optional)
  --reference    bench/reference.json   (the original's ESP32-C3 measurements, in the repository)
  --out          build/figures          (`make figures` passes docs/figures)
  --require-rv32 fail if rv32.jsonl is missing (the CPU curves come from it)

No network. Needs matplotlib (Debian: apt-get install python3-matplotlib; or pip install
matplotlib). Labels: "vnvheap (modeled, paper profile)" is our emulated-FRAM storage time
under vnv_emu_profile_paper (fitted to the paper's ESP32-C3 + MB85RS4MT); "vNV-Heap (paper,
measured)" is the original's data from bench/reference.json (see its "about"). CPU time on
the device is not part of our modeled time; where rv32.jsonl exists it is shown separately
as instructions at 160 MHz (one instruction per cycle, a rough ESP32-C3 equivalent).
"""
import argparse
import json
import os
import sys

try:
    import matplotlib
except ImportError:
    sys.exit("plot.py needs matplotlib for %s: apt-get install python3-matplotlib (Debian/Ubuntu)"
             " or %s -m pip install matplotlib" % (sys.executable, sys.executable))

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OURS = "vnvheap (modeled, paper profile)"
PAPER = "vNV-Heap (paper, measured)"
CPU_HZ_MS = 160000.0  # instructions per ms at 160 MHz, CPI 1
SVG_MAX = 100 * 1024


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Reference:
    """bench/reference.json: series of the original's measurements, ms per call/iteration."""

    def __init__(self, path):
        with open(path) as f:
            doc = json.load(f)
        self.series = {(s["bench_name"], s.get("page_size")): s for s in doc["series"]}

    def xy(self, name, page=None):
        s = self.series.get((name, page))
        if not s:
            return [], []
        pts = sorted(zip(s["x"], s["ms"]))
        return [p[0] for p in pts], [p[1] for p in pts]

    def at(self, name, x, page=None):
        s = self.series.get((name, page))
        if not s or x not in s["x"]:
            return None
        return s["ms"][s["x"].index(x)]

    def value(self, name):
        """The single value of a one-point series (the *_locked_wcet lines)."""
        return self.series[(name, None)]["ms"][0]


def by(rows, name):
    return [r for r in rows if r["bench_name"] == name]


def save(fig, out, stem):
    os.makedirs(out, exist_ok=True)
    fig.tight_layout()
    png = os.path.join(out, stem + ".png")
    fig.savefig(png, dpi=110)
    svg = os.path.join(out, stem + ".svg")
    fig.savefig(svg)
    if os.path.getsize(svg) > SVG_MAX:
        os.remove(svg)
    plt.close(fig)
    print("wrote", png)


def series(rows, name, key, yfun):
    pts = sorted((key(r), yfun(r)) for r in by(rows, name))
    return [p[0] for p in pts], [p[1] for p in pts]


# ---- get latency ----------------------------------------------------------------------------


def fig_get(host, rv32, ref, out):
    size = lambda r: r["bench_options"]["object_size"]  # noqa: E731
    modeled = lambda r: float(r["modeled_ms"])  # noqa: E731
    panels = [
        ("best case: resident", "get_min", "baseline_get_min"),
        ("bad case: load from storage", "get_min_max", "baseline_get_min_max"),
        ("worst case: evict dirty 1 KiB, load", "get_max", "baseline_get_max"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, (title, ours, base) in zip(axes, panels):
        if ours != "get_min":
            ax.plot(*series(host, ours, size, modeled), "-", color="C0", label=OURS)
            ax.plot(*series(host, base, size, modeled), "-", color="C1",
                    label="single-page baseline (modeled, paper profile)")
        if rv32:
            x, y = series(rv32, ours, size, lambda r: r["cpu_median"] / CPU_HZ_MS)
            ax.plot(x, y, "o:", color="C0", ms=4,
                    label="vnvheap CPU only (rv32 instructions @160 MHz)")
            x, y = series(rv32, base, size, lambda r: r["cpu_median"] / CPU_HZ_MS)
            ax.plot(x, y, "s:", color="C1", ms=4,
                    label="baseline CPU only (rv32 instructions @160 MHz)")
        ax.plot(*ref.xy(ours), "--", color="C3", label="vNV-Heap (ESP32-C3, measured 2024-12)")
        ax.plot(*ref.xy(base), "--", color="C2", label="its baseline (ESP32-C3, measured 2024-12)")
        ax.set_title(title)
        ax.set_xlabel("object size [B]")
        ax.set_ylabel("latency [ms]")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    fig.suptitle("get: vnvheap vs the original and the single-page baseline")
    save(fig, out, "get_latency")


def fig_scaling(host, rv32, out):
    rows = by(rv32, "get_resident_scaling") or by(host, "get_resident_scaling")
    if not rows:
        return
    unit = rows[0]["unit"]
    rows.sort(key=lambda r: r["bench_options"]["resident_objects"])
    x = [r["bench_options"]["resident_objects"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(x, [r["cpu_median"] for r in rows], "o-", label="median")
    ax.plot(x, [r["cpu_max"] for r in rows], "s--", label="max over sampled objects")
    ax.axhline(100, color="grey", lw=0.8, ls=":", label="goal: 100 instructions")
    ax.set_xscale("log")
    ax.set_xlabel("resident objects")
    ax.set_ylabel("get + release [%s]" % unit)
    ax.set_ylim(bottom=0)
    ax.set_title("get+release of a resident object vs resident count\n(%s; the original "
                 "searches a list: O(n))" % rows[0]["machine_name"])
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, out, "get_scaling")


# ---- persist --------------------------------------------------------------------------------


def fig_persist(host, ref, out):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    for ax, sweep, xkey, xlabel in (
            (axes[0], "dirty_size", "dirty_size", "dirty limit (max_dirty_bytes) [B]"),
            (axes[1], "buffer_size", "buffer_size", "RAM buffer [B] (dirty limit min(1868, buffer))")):
        for i, kind in enumerate(("max_dirty", "max_objects")):
            name = "%s_persist_latency_%s" % (kind, sweep)
            x, y = series(host, name, lambda r: r["bench_options"][xkey],
                          lambda r: float(r["modeled_ms"]))
            ax.plot(x, y, "-", color="C%d" % i, label="%s: %s" % (OURS, kind))
            ax.plot(*ref.xy(name), "--", color="C%d" % (i + 2), label="%s: %s" % (PAPER, kind))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("checkpoint latency [ms]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("persist latency vs dirty limit (buffer 3916 B)")
    axes[1].set_title("persist latency vs buffer size")
    save(fig, out, "persist_latency")


def fig_wcet(host, rv32, ref, out):
    names = ["storage", "flush", "load", "alloc", "free", "evict", "pick", "lookup"]

    def collect(rows):
        labels, recs = [], []
        for n in names:
            rs = by(rows, n + "_locked_wcet")
            for r in rs:
                sz = r["bench_options"]["object_size"]
                labels.append("%s %dB" % (n, sz) if len(rs) > 1 else n)
                recs.append(r)
        return labels, recs

    labels, recs = collect(host)
    if not recs:
        return
    panels = 2 if rv32 else 1
    fig, axes = plt.subplots(1, panels, figsize=(7.5 * panels, 4.6), squeeze=False)
    ax = axes[0][0]
    vals = [r["storage_max"]["modeled_ns"] / 1e6 for r in recs]
    ax.bar(range(len(vals)), vals, color="C0")
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("storage time inside the section [ms]")
    ax.set_yscale("log")
    ax.set_title("%s:\nworst deferral of a checkpoint (storage part)" % OURS, fontsize=9)
    st, cpu = ref.value("storage_locked_wcet"), ref.value("cpu_section_locked_wcet")
    ax.axhline(st, color="C3", ls="--", lw=1,
               label="vNV-Heap (paper, measured): storage_locked_wcet %.2f ms" % st)
    ax.axhline(cpu, color="C2", ls=":", lw=1,
               label="vNV-Heap (paper, measured): largest CPU-only section %.2f ms" % cpu)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    if rv32:
        ax = axes[0][1]
        rl, rr = collect(rv32)
        vals = [max(0, r["cpu_max"] - r.get("ckpt_preamble_cpu", 0)) for r in rr]
        ax.bar(range(len(vals)), vals, color="C1")
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(rl, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("rv32 instructions (deferral minus checkpoint preamble)")
        ax.set_yscale("log")
        ax.set_title("CPU inside the section (includes the emulated FRAM's memcpy,\n"
                     "about 6 instructions per byte; lookup: whole call)", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    save(fig, out, "locked_wcet")


# ---- applications ---------------------------------------------------------------------------


def fig_queue(host, rv32, ref, out):
    L = lambda r: r["bench_options"]["queue_length"]  # noqa: E731
    per = lambda r: float(r["modeled_ms"]) / r.get("ops", 1)  # noqa: E731
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    for name, color, label in (("queue_storage", "C1", "storage-only"),
                               ("queue", "C0", "vnv_list on vnvheap"),
                               ("queue_slist", "C4", "naive singly linked list, links via get_mut")):
        x, y = series(host, name, L, per)
        if x:
            ax.plot(x, y, "o-", ms=3, color=color, label="%s (modeled, paper profile)" % label)
    if rv32:
        x, y = series(rv32, "queue_ram", L, lambda r: r["cpu_median"] / r["ops"] / CPU_HZ_MS)
        ax.plot(x, y, "o-", ms=3, color="C2", label="RAM-only ring (rv32 CPU @160 MHz)")
    for name, color, label in (("queue_ram", "C2", "RAM-only"),
                               ("queue_storage", "C1", "storage-only"),
                               ("queue", "C3", "vNV-Heap")):
        x, y = ref.xy(name)
        if x:
            ax.plot(x, y, "x--", ms=4, color=color, alpha=0.7, label="%s: %s" % (PAPER, label))
    ax.set_xlabel("queue length (256-byte items)")
    ax.set_ylabel("ms per produce + consume")
    ax.set_title("FIFO queue, 4 KiB of RAM")
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    save(fig, out, "queue")


def access(r):
    a = r["bench_options"]["inner"]["access_type"]
    return a if isinstance(a, str) else next(iter(a))


def fig_kvs(host, ref, out):
    pats = ["Random", "Sequential", "Partitioned", "Distributed"]
    per = lambda r: float(r["modeled_ms"]) / r.get("ops", 1)  # noqa: E731
    cols = [("kvs", None)] + [("kvs_paged", p) for p in (32, 64, 128, 256, 512)]

    def ours(name, page, p):
        m = [r for r in by(host, name) if access(r) == p and
             (page is None or r["bench_options"]["inner"]["kvs_options"]["page_size"] == page)]
        return per(m[0]) if m else 0

    def theirs(name, page, p):
        return ref.at(name, p, page) or 0

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), sharey=True)
    for ax, f, title in ((axes[0], ours, OURS), (axes[1], theirs, PAPER)):
        width = 0.8 / len(cols)
        for j, (name, page) in enumerate(cols):
            ys = [f(name, page, p) for p in pats]
            label = "vnvheap / vNV-Heap" if page is None else "paged %d B" % page
            ax.bar([i + (j - len(cols) / 2) * width + width / 2 for i in range(len(pats))], ys,
                   width, label=label, color="C%d" % j)
        ax.set_xticks(range(len(pats)))
        ax.set_xticklabels(["Unequal" if p == "Distributed" else p for p in pats])
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("ms per update")
    axes[0].legend(fontsize=7)
    fig.suptitle("key-value store: 256 values, dirty limit 11 878 B (one fifth of the data)")
    save(fig, out, "kvs")


def fig_storage(host, ref, out):
    fig, ax = plt.subplots(figsize=(7, 4.4))
    size = lambda r: r["bench_options"]["object_size"]  # noqa: E731
    for name, c in (("persistent_storage_write", "C0"), ("persistent_storage_read", "C1")):
        x, y = series(host, name, size, lambda r: float(r["modeled_ms"]))
        ax.plot(x, y, "-", color=c, label="%s (paper profile)" % name)
        ax.plot(*ref.xy(name), "--", color=c, alpha=0.6,
                label="%s (ESP32-C3, measured 2024-12)" % name)
    ax.set_xlabel("bytes")
    ax.set_ylabel("ms")
    ax.set_title("the cost profile against the measured FRAM (Sliced<4> MB85RS4MT)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, out, "storage")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(root, "build", "bench"))
    ap.add_argument("--reference", default=os.path.join(here, "reference.json"))
    ap.add_argument("--out", default=os.path.join(root, "build", "figures"))
    ap.add_argument("--require-rv32", action="store_true")
    a = ap.parse_args()
    host = load_jsonl(os.path.join(a.results, "host.jsonl"))
    if not host:
        sys.exit("no %s/host.jsonl: run `make bench` first" % a.results)
    rv32 = load_jsonl(os.path.join(a.results, "rv32.jsonl"))
    if not rv32:
        msg = ("no %s/rv32.jsonl: the CPU curves (rv32 instructions) are missing; run "
               "`make bench-rv32` for them" % a.results)
        if a.require_rv32:
            sys.exit(msg)
        print("note:", msg)
    ref = Reference(a.reference)
    fig_get(host, rv32, ref, a.out)
    fig_scaling(host, rv32, a.out)
    fig_persist(host, ref, a.out)
    fig_wcet(host, rv32, ref, a.out)
    fig_queue(host, rv32, ref, a.out)
    fig_kvs(host, ref, a.out)
    fig_storage(host, ref, a.out)


if __name__ == "__main__":
    main()

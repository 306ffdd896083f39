#!/usr/bin/env python3
"""make size: code size, RAM sizes and the worst stack of vnv_persist_all per target.

For rv32imc and cortex-m3 (-Os, MinSizeRel), twice - the default build and the minimal
profile (VNV_MINIMAL: no groups, block objects, gather, vnv_check, containers, buddy
allocators): builds the library with -fcallgraph-info=su, sums .text/.data/.bss of the
objects a default configuration links (core + first-fit + NV placement + clock; storage
backends and containers listed apart),
reads sizeof(struct vnv_heap) and the per-object metadata sizes from probe symbols, and
computes the deepest stack of vnv_persist_all over GCC's call graph. Indirect calls
(module operations) are resolved to the default modules' functions; the storage backend
and the persist-finished callback are the application's and are reported separately.
Also links tools/size_app.c, a typical application of the core API, with --gc-sections and
reports the library code that lands in it (linked=).
Ends with one machine-readable line per target and profile (<target>, <target>-minimal):
  size <target> text= data= bss= heap= meta_ram= meta_ckpt= persist_stack= linked=

usage: size.py [--build DIR]   (build trees under DIR/size-<target>; default build)
tools/readme_numbers.py calls measure() for the README's numbers.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = [
    ("rv32imc", "riscv64-unknown-elf-", "cmake/toolchain-rv32imc.cmake",
     ["-march=rv32imc", "-mabi=ilp32"]),
    ("cortex-m3", "arm-none-eabi-", "cmake/toolchain-cortex-m3.cmake",
     ["-mcpu=cortex-m3", "-mthumb"]),
]
DEFAULT = ["access", "heap", "sections", "stats", "group", "index", "resident", "home", "nvmap",
           "checkpoint", "check", "cksum", "crc32", "errors", "storage", "ram_firstfit",
           "nv_place", "slot", "tags", "clock"]
OPTIONAL = ["ram_buddy", "addrorder", "emu", "spi_fram", "list", "array"]
# what an indirect call on the persist path can reach with the default modules (storage
# callbacks and on_persist are the application's and reported apart)
DEFAULT_INDIRECT = ("ff_",)  # the persist path calls only RAM-allocator ops indirectly


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def build(name, toolchain, build_root, minimal=False):
    b = os.path.join(build_root, "size-" + name + ("-minimal" if minimal else ""))
    # CFLAGS from the environment are added to the toolchain's flags (CMAKE_C_FLAGS would
    # replace them)
    env = dict(os.environ, CFLAGS="-fcallgraph-info=su")
    run(["cmake", "-S", ROOT, "-B", b, "-DCMAKE_TOOLCHAIN_FILE=" + toolchain,
         "-DCMAKE_BUILD_TYPE=MinSizeRel", "-DVNV_BUILD_TESTS=OFF", "-DVNV_BUILD_EXAMPLES=OFF",
         "-DVNV_MINIMAL=" + ("ON" if minimal else "OFF")],
        cwd=ROOT, env=env)
    run(["cmake", "--build", b, "-j", "2", "--target", "vnvheap"])
    return b


def object_sizes(prefix, b):
    objs = {}
    for o in glob.glob(os.path.join(b, "CMakeFiles", "vnvheap.dir", "**", "*.obj"),
                       recursive=True):
        line = run([prefix + "size", o]).splitlines()[-1].split()
        objs[os.path.basename(o).split(".")[0]] = tuple(int(x) for x in line[:3])
    return objs


def probe(prefix, flags, build_root, minimal=False):
    src = os.path.join(build_root, "size-probe%s.c" % ("-minimal" if minimal else ""))
    with open(src, "w") as f:
        f.write('#include "vnvheap.h"\n'
                "struct vnv_heap vnv_probe_heap;\n"
                "char vnv_probe_meta[VNV_META_SIZE];\n"
                "char vnv_probe_rec[VNV_CKPT_RECORD_SIZE];\n"
                "char vnv_probe_stats[sizeof(struct vnv_stats)];\n")
    obj = src[:-2] + "-" + prefix.strip("-") + ".o"
    run([prefix + "gcc", "-std=c11", "-Os", "-fno-common", "--specs=picolibc.specs",
         "-DVNV_MINIMAL=%d" % minimal, "-I",
         os.path.join(ROOT, "include"),
         "-c", src, "-o", obj] + flags)
    sizes = {}
    for line in run([prefix + "nm", "-S", obj]).splitlines():
        p = line.split()
        if len(p) == 4 and p[3].startswith("vnv_probe_"):
            sizes[p[3][len("vnv_probe_"):]] = int(p[1], 16)
    return sizes


def linked_text(prefix, flags, b, build_root, minimal=False):
    """Library code (.text and read-only data, B) that tools/size_app.c, a typical
    application of the core API, links in with --gc-sections: what such a firmware pays.
    Read from the linker map: the input sections taken from libvnvheap.a."""
    out = os.path.join(build_root, "size-app-%s%s" % (prefix.strip("-"),
                                                      "-minimal" if minimal else ""))
    run([prefix + "gcc", "-std=c11", "-Os", "-ffunction-sections", "-fdata-sections",
         "--specs=picolibc.specs", "-DVNV_MINIMAL=%d" % minimal,
         "-I", os.path.join(ROOT, "include"), os.path.join(ROOT, "tools", "size_app.c"),
         os.path.join(b, "libvnvheap.a"), "-nostartfiles", "-Wl,-e,main",
         "-Wl,--gc-sections", "-Wl,-Map=" + out + ".map", "-o", out + ".elf"] + flags)
    total, name, started = 0, None, False
    for line in open(out + ".map"):
        if line.startswith("Linker script and memory map"):
            started = True  # (the discarded sections are listed before)
        if not started:
            continue
        m = re.match(r"^ (\.\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+))?\s*$", line)
        if m and not m.group(2):  # a long name: address, size and file on the next line
            name = m.group(1)
            continue
        if m:
            sec, size_, path = m.group(1), int(m.group(3), 16), m.group(4)
        else:
            m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)\s*$", line)
            if not (m and name):
                name = None
                continue
            sec, size_, path = name, int(m.group(2), 16), m.group(3)
        name = None
        if "libvnvheap.a(" in path and re.match(r"\.(text|rodata|srodata)", sec):
            total += size_
    return total


def persist_stack(b):
    stack, edges = {}, {}
    for ci in glob.glob(os.path.join(b, "**", "*.ci"), recursive=True):
        for line in open(ci):
            m = re.match(r'node: \{ title: "([^"]+)" label: "[^\\]*\\n[^\\]*\\n(\d+) bytes', line)
            if m:
                stack[m.group(1)] = max(stack.get(m.group(1), 0), int(m.group(2)))
            m = re.match(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', line)
            if m:
                edges.setdefault(m.group(1), set()).add(m.group(2))
    indirect = [f for f in stack if f.startswith(DEFAULT_INDIRECT)]
    memo = {}

    def depth(f, path=()):
        if f in memo:
            return memo[f]
        if f in path:
            # sec_leave -> persist_deferred -> persist_now -> ... -> sec_leave is a static
            # cycle that never runs: persist_now holds `busy`, so the inner sec_leave never
            # starts a checkpoint.
            return (0, [])
        callees = set(edges.get(f, ()))
        if "__indirect_call" in callees:
            callees.discard("__indirect_call")
            callees.update(indirect)
        best, via = 0, []
        for c in callees:
            d, chain = depth(c, path + (f,))
            if d > best:
                best, via = d, chain
        memo[f] = (stack.get(f, 0) + best, [f] + via)
        return memo[f]

    return depth("vnv_persist_all")


def host_bound_examples(build_root):
    """vnv_persist_bound for a few configurations (target independent)."""
    lib = os.path.join(build_root, "gcc", "libvnvheap.a")
    if not os.path.exists(lib):
        return []
    src = os.path.join(build_root, "size-bound.c")
    with open(src, "w") as f:
        f.write('#include <stdio.h>\n#include "vnvheap.h"\n'
                "static int rd(void *c, uint32_t o, void *d, uint32_t l)"
                "{(void)c;(void)o;(void)d;(void)l;return 0;}\n"
                "static int wr(void *c, uint32_t o, const void *s, uint32_t l)"
                "{(void)c;(void)o;(void)s;(void)l;return 0;}\n"
                "static _Alignas(8) unsigned char buf[16384];\n"
                "int main(void){ struct vnv_storage st={0,65536,rd,wr,0,0};\n"
                " unsigned b[]={1024,2048,4096,8192}, d[]={256,1024,2048};\n"
                " for(int i=0;i<4;i++) for(int j=0;j<3;j++){ struct vnv_config c={0};\n"
                "  c.storage=&st; c.buffer=buf; c.buffer_size=b[i]; c.max_dirty_bytes=d[j];\n"
                "  printf(\"%u %u %u\\n\", b[i], d[j], (unsigned)vnv_persist_bound(&c)); }\n"
                " return 0; }\n")
    exe = src[:-2]
    run(["gcc", "-std=c11", "-I", os.path.join(ROOT, "include"), src, lib, "-o", exe])
    return [tuple(int(x) for x in l.split()) for l in run([exe]).splitlines()]


def installed(prefix):
    return subprocess.run(["sh", "-c", "command -v %sgcc" % prefix],
                          capture_output=True).returncode == 0


def measure(build_root, name, minimal=False):
    """Build target `name` (-Os; the minimal profile if `minimal`) under build_root and
    measure it; None if its toolchain is missing. Keys: text data bss (default modules),
    objs, heap stats meta rec (sizes of struct vnv_heap, struct vnv_stats, RAM metadata and
    checkpoint record per object),
    stack, chain (vnv_persist_all)."""
    for n, prefix, tc, flags in TARGETS:
        if n != name:
            continue
        if not installed(prefix):
            return None
        os.makedirs(build_root, exist_ok=True)
        b = build(name, tc, build_root, minimal)
        objs = object_sizes(prefix, b)
        unlisted = sorted(set(objs) - set(DEFAULT) - set(OPTIONAL))
        if unlisted:  # a new source file must be counted (or listed as optional)
            raise SystemExit("size.py: objects in neither DEFAULT nor OPTIONAL: %s"
                             % ", ".join(unlisted))
        tot = [sum(objs.get(o, (0, 0, 0))[i] for o in DEFAULT) for i in range(3)]
        sizes = probe(prefix, flags, build_root, minimal)
        stk, chain = persist_stack(b)
        linked = linked_text(prefix, flags, b, build_root, minimal)
        if not 0 < linked < sum(o[0] for o in objs.values()):  # a map the parser misread
            raise SystemExit("size.py: %s: implausible linked size %d" % (name, linked))
        return {"text": tot[0], "data": tot[1], "bss": tot[2], "objs": objs, "linked": linked,
                "heap": sizes["heap"], "stats": sizes["stats"], "meta": sizes["meta"],
                "rec": sizes["rec"], "stack": stk, "chain": chain}
    raise KeyError(name)


def report(label, m, minimal):
    objs = m["objs"]
    print("== %s (-Os, %s; modules: first-fit RAM, first-fit NV, clock) ==" % (
        label, "minimal profile, VNV_MINIMAL" if minimal else "default build"))
    print("  %-28s %7s %6s %6s" % ("object", "text", "data", "bss"))
    for o in DEFAULT:
        t = objs.get(o, (0, 0, 0))
        if minimal and t == (0, 0, 0):
            continue  # left out of the profile (an empty object)
        print("  %-28s %7d %6d %6d" % (o, t[0], t[1], t[2]))
    print("  %-28s %7d %6d %6d" % ("library (default modules)", m["text"], m["data"],
                                     m["bss"]))
    for o in OPTIONAL:
        if o in objs and objs[o] != (0, 0, 0):
            print("  %-28s %7d %6d %6d   (optional)" % (o, *objs[o]))
    print("  linked into a typical application (tools/size_app.c, --gc-sections): %d B"
          % m["linked"])
    print("  sizeof(struct vnv_heap) %d B, struct vnv_stats %d B" % (m["heap"], m["stats"]))
    print("  per resident object: RAM metadata %d B, checkpoint record %d B"
          % (m["meta"], m["rec"]))
    print("  vnv_persist_all worst stack: %d B (+ the storage backend's writev/read and "
          "the persist-finished callback)" % m["stack"])
    print("    deepest chain: " + " > ".join(c.split(":")[-1] for c in m["chain"]))


def main():
    ap = argparse.ArgumentParser(description="code size, RAM sizes, persist stack per target")
    ap.add_argument("--build", default="build", help="build directory root (default: build)")
    a = ap.parse_args()
    build_root = os.path.join(ROOT, a.build)
    lines = []
    for name, prefix, tc, flags in TARGETS:
        for minimal in (False, True):
            label = name + ("-minimal" if minimal else "")
            m = measure(build_root, name, minimal)
            if m is None:
                print("size: %s skipped (%sgcc not installed; see .ci/run)" % (label, prefix))
                break
            report(label, m, minimal)
            lines.append("size %s text=%d data=%d bss=%d heap=%d meta_ram=%d meta_ckpt=%d "
                         "persist_stack=%d linked=%d"
                         % (label, m["text"], m["data"], m["bss"], m["heap"], m["meta"],
                            m["rec"], m["stack"], m["linked"]))
    ex = host_bound_examples(build_root)
    if ex:
        print("== checkpoint bound (vnv_persist_bound = min(max_dirty, header + arena)) ==")
        print("  buffer  max_dirty  bound (bytes a checkpoint may write)")
        for b_, d_, bound in ex:
            print("  %6d  %9d  %5d" % (b_, d_, bound))
    for l in lines:
        print(l)
    return 0


if __name__ == "__main__":
    sys.exit(main())

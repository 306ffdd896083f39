#!/usr/bin/env python3
"""The README's size numbers, generated from what `make size` (tools/size.py) measures.

usage: readme_numbers.py --check  [--build DIR] [--readme FILE]   (a stage of `make test`)
       readme_numbers.py --update [--build DIR] [--readme FILE]   (`make readme-numbers`)

Each number lives in a marked span,

    <!-- size:rv32imc-text -->19 250<!-- /size -->

where the key is <target>-<quantity>: target rv32imc or cortex-m3, quantity one of
  text           .text of the library with the default modules (B)
  heap           sizeof(struct vnv_heap) (B)
  stats          sizeof(struct vnv_stats) (B)
  meta-ram       RAM metadata per resident object (B)
  meta-ckpt      checkpoint record per resident object (B)
  persist-stack  deepest stack of vnv_persist_all, without the storage driver (B)
  linked         library code a typical application links in (tools/size_app.c) (B)
Inside code blocks, where a comment would show, the few numbers are found by the patterns in
ANCHORS instead. Numbers of 10 000 and more are written with a space as thousands separator.

--check exits 1 if a number differs, printing a diff and the command that updates them;
--update rewrites the spans. Both skip a target whose cross compiler is not installed
(--check then says so and does not fail, like `make cross-test`).
"""
import argparse
import difflib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import size  # noqa: E402  tools/size.py

SPAN = re.compile(r"(<!-- size:([a-z0-9-]+) -->)([0-9][0-9 ]*)(<!-- /size -->)")
# (regex with three groups: before, number, after; key) for numbers inside code blocks
ANCHORS = [
    (re.compile(r"(struct vnv_heap heap;\s+/\* control block, )([0-9][0-9 ]*)( B on 32-bit)"),
     "rv32imc-heap"),
]
QUANTITY = {"text": "text", "heap": "heap", "stats": "stats", "meta-ram": "meta",
            "meta-ckpt": "rec", "persist-stack": "stack", "linked": "linked"}
UPDATE_CMD = "make readme-numbers   (or: python3 tools/readme_numbers.py --update)"


def fmt(n):
    return "{:,}".format(n).replace(",", " ") if n >= 10000 else str(n)


def split_key(key):
    """(target, quantity) of a key such as rv32imc-text or rv32imc-minimal-text (the
    minimal profile: target 'rv32imc-minimal'); (None, None) if unknown."""
    for target, _, _, _ in size.TARGETS:
        for t in (target + "-minimal", target):
            if key.startswith(t + "-") and key[len(t) + 1:] in QUANTITY:
                return t, QUANTITY[key[len(t) + 1:]]
    return None, None


def keys_in(text):
    keys = [m.group(2) for m in SPAN.finditer(text)]
    keys += [k for rx, k in ANCHORS if rx.search(text)]
    return keys


def rewrite(text, values):
    """text with every known span/anchor set to values[key] (keys missing from values are
    left alone)."""
    def span(m):
        k = m.group(2)
        return m.group(1) + fmt(values[k]) + m.group(4) if k in values else m.group(0)

    out = SPAN.sub(span, text)
    for rx, k in ANCHORS:
        if k in values:
            out = rx.sub(lambda m, k=k: m.group(1) + fmt(values[k]) + m.group(3), out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--update", action="store_true")
    ap.add_argument("--build", default="build", help="build directory root (default: build)")
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    a = ap.parse_args()

    with open(a.readme) as f:
        text = f.read()
    keys = keys_in(text)
    bad = [k for k in keys if split_key(k)[0] is None]
    if bad:
        sys.exit("readme_numbers: unknown key(s) in %s: %s" % (a.readme, ", ".join(bad)))
    if not keys:
        sys.exit("readme_numbers: no <!-- size:... --> spans in %s" % a.readme)

    build_root = os.path.join(ROOT, a.build)
    values, skipped = {}, []
    for target in sorted({split_key(k)[0] for k in keys}):
        base = target[:-len("-minimal")] if target.endswith("-minimal") else target
        m = size.measure(build_root, base, minimal=base != target)
        if m is None:
            skipped.append(target)
            continue
        for k in keys:
            t, q = split_key(k)
            if t == target:
                values[k] = m[q]
    for t in skipped:
        print("readme_numbers: %s skipped (its cross compiler is not installed; see .ci/run)"
              % t)

    new = rewrite(text, values)
    name = os.path.relpath(a.readme, ROOT)
    if new == text:
        print("readme_numbers: %d numbers in %s match `make size`%s"
              % (sum(1 for k in keys if k in values), name,
                 " (some skipped)" if skipped else ""))
        return 0
    if a.update:
        with open(a.readme, "w") as f:
            f.write(new)
        print("readme_numbers: updated %s" % name)
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        text.splitlines(True), new.splitlines(True), name + " (committed)",
        name + " (what make size measures)", n=0))
    print("readme_numbers: the size numbers in %s are out of date; update them with\n  %s"
          % (name, UPDATE_CMD))
    return 1


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# mkshim-riscv.sh OUTDIR: prints a CROSS_COMPILE prefix for Zephyr's cross-compile variant
# built on Debian 12's riscv64-unknown-elf-gcc. That GCC selects its rv32 multilib (and
# libgcc) only for an exact multilib -march such as rv32imac; Zephyr asks for
# rv32imac_zicsr_zifencei. The gcc wrapper drops the _zicsr/_zifencei suffixes and passes
# -misa-spec=2.2, under which both are implied. The other tools are symlinks.
set -eu
out=${1:?usage: mkshim-riscv.sh OUTDIR}
mkdir -p "$out/bin"
for t in /usr/bin/riscv64-unknown-elf-*; do ln -sf "$t" "$out/bin/${t##*/}"; done
rm -f "$out/bin/riscv64-unknown-elf-gcc"
cat > "$out/bin/riscv64-unknown-elf-gcc" <<'W'
#!/bin/bash
args=() spec=()
for a in "$@"; do
  if [[ $a == -march=* ]]; then a=${a//_zicsr/}; a=${a//_zifencei/}; spec=(-misa-spec=2.2); fi
  args+=("$a")
done
exec /usr/bin/riscv64-unknown-elf-gcc "${args[@]}" "${spec[@]}"
W
chmod +x "$out/bin/riscv64-unknown-elf-gcc"
echo "$out/bin/riscv64-unknown-elf-"

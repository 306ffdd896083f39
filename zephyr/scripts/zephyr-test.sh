#!/bin/sh
# zephyr-test.sh: build and run the Zephyr module's ztest suite on native_sim/native/64,
# qemu_riscv32 and qemu_cortex_m3, and the samples (mainly on native_sim), then print a
# CTest-style summary. Needs $ZEPHYR_BASE (a Zephyr 4.1 tree; CMSIS beside it in
# ../modules/hal/cmsis for Cortex-M); without it, skips. Build dirs: build-zephyr/.
# A small runner rather than twister: one build per line below, no west needed.
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
OUT=${ZEPHYR_OUT:-$ROOT/build-zephyr}
JOBS=${JOBS:-2}
if [ -z "$ZEPHYR_BASE" ] || [ ! -f "$ZEPHYR_BASE/cmake/modules/zephyr_default.cmake" ]; then
  echo "zephyr-test: skipped (set ZEPHYR_BASE to a Zephyr 4.1 tree; README, section Zephyr)"
  exit 0
fi
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
CMSIS=$(cd "$ZEPHYR_BASE/../modules/hal/cmsis" 2>/dev/null && pwd)
mkdir -p "$OUT/logs"
pass=0; fail=0; skip=0; failed=""
start_all=$(date +%s)

have_board() { # board -> 0 if its toolchain and emulator are installed
  case $1 in
    native_sim*) command -v gcc >/dev/null ;;
    qemu_riscv32) command -v riscv64-unknown-elf-gcc >/dev/null && command -v qemu-system-riscv32 >/dev/null ;;
    qemu_cortex_m3) command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null ;;
  esac
}

build() { # name app board [extra cmake args...]
  name=$1 app=$2 board=$3; shift 3
  b=$OUT/$name
  case $board in
    native_sim*) set -- -DZEPHYR_MODULES="$ROOT" "$@"; tc=host ;;
    qemu_riscv32)
      shim=$(/bin/sh "$ROOT/zephyr/scripts/mkshim-riscv.sh" "$OUT/rv-shim")
      set -- -DZEPHYR_MODULES="$ROOT" -DSYSROOT_DIR=/usr/lib/picolibc/riscv64-unknown-elf \
        -DTOOLCHAIN_HAS_PICOLIBC=y "$@"; tc=cross-compile ;;
    qemu_cortex_m3) set -- -DZEPHYR_MODULES="$CMSIS;$ROOT" -DTOOLCHAIN_HAS_PICOLIBC=y "$@"; tc=gnuarmemb ;;
  esac
  ZEPHYR_TOOLCHAIN_VARIANT=$tc CROSS_COMPILE=${shim:-} GNUARMEMB_TOOLCHAIN_PATH=/usr \
    cmake -GNinja -B "$b" -S "$ROOT/zephyr/$app" -DBOARD="$board" -DPython3_EXECUTABLE="$PY" \
    "$@" > "$OUT/logs/$name.log" 2>&1 &&
  ninja -C "$b" -j "$JOBS" >> "$OUT/logs/$name.log" 2>&1
}

run_qemu() { # name timeout-seconds pattern: "ninja run" until the pattern shows, then stop QEMU
  b=$OUT/$1 log=$OUT/logs/$1.run
  rm -f "$b/qemu.pid"
  ninja -C "$b" run > "$log" 2>&1 < /dev/null &
  pid=$! n=0
  while [ "$n" -lt "$2" ] && kill -0 "$pid" 2>/dev/null && ! grep -qsE "$3" "$log"; do
    sleep 1; n=$((n + 1))
  done
  [ -f "$b/qemu.pid" ] && kill "$(cat "$b/qemu.pid")" 2>/dev/null
  wait "$pid" 2>/dev/null
  grep -qE "$3" "$log"
}

result() { # name status seconds
  if [ "$2" = 0 ]; then pass=$((pass + 1)); s=Passed; else fail=$((fail + 1)); s="***Failed"; failed="$failed $1"; fi
  printf '      Test: %-34s %s %5ss   (log: %s)\n' "$1" "$s" "$3" "${OUT#$ROOT/}/logs/$1.*"
}

step() { # test-name board command...
  tname=$1 tboard=$2; shift 2
  if ! have_board "$tboard"; then
    skip=$((skip + 1)); printf '      Test: %-34s skipped (toolchain or QEMU for %s missing)\n' "$tname" "$tboard"; return
  fi
  t0=$(date +%s); "$@"; st=$?; result "$tname" $st $(($(date +%s) - t0))
}

ZT_OK='PROJECT EXECUTION (SUCCESSFUL|FAILED)'
t_ztest() { # board name
  build "$2" tests/vnvheap "$1" || return 1
  case $1 in
    native_sim*) timeout 300 "$OUT/$2/zephyr/zephyr.exe" --eeprom="$OUT/$2/eeprom.bin" \
                   --eeprom_erase > "$OUT/logs/$2.run" 2>&1 ;;
    *) run_qemu "$2" 300 "$ZT_OK" ;;
  esac
  grep -q 'PROJECT EXECUTION SUCCESSFUL' "$OUT/logs/$2.run"
}
t_ztest_minimal() { # the suite again with CONFIG_VNVHEAP_MINIMAL, and without meta-IRQ
  # priorities: a cooperative persist thread, the guard's polling loop, a preemptible test
  # thread (100 us ticks: the guard polls in 1 us steps of simulated time, and the blocking
  # test sleeps a tick per storage call). One build for both: the glue is the same.
  build ztest-minimal-ns tests/vnvheap native_sim/native/64 -DCONFIG_VNVHEAP_MINIMAL=y \
    -DCONFIG_NUM_METAIRQ_PRIORITIES=0 -DCONFIG_ZTEST_THREAD_PRIORITY=1 \
    -DCONFIG_SYS_CLOCK_TICKS_PER_SEC=10000 || return 1
  timeout 300 "$OUT/ztest-minimal-ns/zephyr/zephyr.exe" --eeprom="$OUT/ztest-minimal-ns/eeprom.bin" \
    --eeprom_erase > "$OUT/logs/ztest-minimal-ns.run" 2>&1
  grep -q 'PROJECT EXECUTION SUCCESSFUL' "$OUT/logs/ztest-minimal-ns.run" &&
  grep -q 'persist blocks: .* worker ran 0 times inside a round' "$OUT/logs/ztest-minimal-ns.run"
}
t_counter() {
  build sample-counter-ns samples/vnvheap_sample native_sim/native/64 || return 1
  f=$OUT/sample-counter-ns/eeprom.bin; rm -f "$f"
  for i in 1 2; do "$OUT/sample-counter-ns/zephyr/zephyr.exe" --eeprom="$f" --stop_at=1; done \
    > "$OUT/logs/sample-counter-ns.run" 2>&1
  grep -q 'counter: 101 -> 202' "$OUT/logs/sample-counter-ns.run"
}
t_persist_file() {
  build sample-persist-ns samples/vnvheap_persist native_sim/native/64 || return 1
  sh "$ROOT/zephyr/scripts/persist-restarts.sh" "$OUT/sample-persist-ns/zephyr/zephyr.exe" \
    "$OUT/sample-persist-ns/run" 400 > "$OUT/logs/sample-persist-ns.run" 2>&1
}
t_persist_fram() {
  build sample-persist-fram-ns samples/vnvheap_persist native_sim/native/64 \
    -DEXTRA_DTC_OVERLAY_FILE=fram.overlay -DEXTRA_CONF_FILE=fram.conf || return 1
  timeout 300 "$OUT/sample-persist-fram-ns/zephyr/zephyr.exe" --eeprom_in_ram \
    > "$OUT/logs/sample-persist-fram-ns.run" 2>&1
  grep -q '^OK: survived 200 power failures, 0 lost' "$OUT/logs/sample-persist-fram-ns.run"
}
t_persist_fram64v() { # the library's own SPI FRAM driver through the Zephyr SPI glue
  build sample-persist-fram64v-ns samples/vnvheap_persist native_sim/native/64 \
    -DEXTRA_DTC_OVERLAY_FILE=fram64v.overlay -DEXTRA_CONF_FILE=fram64v.conf || return 1
  timeout 300 "$OUT/sample-persist-fram64v-ns/zephyr/zephyr.exe" --eeprom_in_ram \
    > "$OUT/logs/sample-persist-fram64v-ns.run" 2>&1
  grep -q '^spi fram: RDID 04 7f 03 02, 2 address bytes' "$OUT/logs/sample-persist-fram64v-ns.run" &&
  grep -q '^OK: survived 200 power failures, 0 lost' "$OUT/logs/sample-persist-fram64v-ns.run"
}
t_persist_qemu() { # board name
  build "$2" samples/vnvheap_persist "$1" -DCONFIG_APP_POWER_FAILURES=50 || return 1
  run_qemu "$2" 300 '^OK: survived 50 power failures, 0 lost|FAIL'
  grep -q '^OK: survived' "$OUT/logs/$2.run"
}
t_bench() {
  build sample-bench-ns samples/vnvheap_benchmark native_sim/native/64 || return 1
  timeout 600 "$OUT/sample-bench-ns/zephyr/zephyr.exe" > "$OUT/logs/sample-bench-ns.run" 2>&1
  grep -q 'BENCH-STATUS\] Finished: [0-9]* points, 0 failures' "$OUT/logs/sample-bench-ns.run" &&
  grep -q '^\[ *[0-9]*%\] Running ' "$OUT/logs/sample-bench-ns.run" || return 1
  # The result lines, in the form bench/plot.py reads (--results DIR with DIR/host.jsonl).
  mkdir -p "$OUT/sample-bench-ns/results"
  grep '^\[BENCH-INFO\] ' "$OUT/logs/sample-bench-ns.run" | sed 's/^\[BENCH-INFO\] //' \
    > "$OUT/sample-bench-ns/results/host.jsonl"
  "$PY" - "$OUT/sample-bench-ns/results/host.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = ("bench_name", "bench_options", "data", "modeled_ms", "storage", "repetitions")
bad = [r.get("bench_name") for r in rows if any(k not in r for k in keys)]
print(f"{len(rows)} [BENCH-INFO] results, {len(bad)} incomplete")
sys.exit(1 if not rows or bad else 0)
PY
}

echo "zephyr-test: Zephyr at $ZEPHYR_BASE, builds in ${OUT#$ROOT/}/"
step ztest-native_sim native_sim t_ztest native_sim/native/64 ztest-native_sim
step ztest-qemu_riscv32 qemu_riscv32 t_ztest qemu_riscv32 ztest-qemu_riscv32
step ztest-qemu_cortex_m3 qemu_cortex_m3 t_ztest qemu_cortex_m3 ztest-qemu_cortex_m3
step ztest-minimal-polling-native_sim native_sim t_ztest_minimal
step sample-counter-native_sim native_sim t_counter
step sample-persist-native_sim native_sim t_persist_file
step sample-persist-fram-native_sim native_sim t_persist_fram
step sample-persist-fram64v-native_sim native_sim t_persist_fram64v
step sample-bench-native_sim native_sim t_bench
step sample-persist-qemu_riscv32 qemu_riscv32 t_persist_qemu qemu_riscv32 sample-persist-rv
step sample-persist-qemu_cortex_m3 qemu_cortex_m3 t_persist_qemu qemu_cortex_m3 sample-persist-m3

total=$((pass + fail))
pct=100; [ "$total" -gt 0 ] && pct=$((100 * pass / total))
echo
echo "zephyr-test: $pct% tests passed, $fail tests failed out of $total ($skip skipped), $(($(date +%s) - start_all)) s"
echo "zephyr-test: $pass passed, $fail failed"
[ "$fail" = 0 ] || { echo "zephyr-test: failed:$failed"; exit 1; }

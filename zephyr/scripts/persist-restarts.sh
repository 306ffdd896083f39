#!/bin/sh
# persist-restarts.sh EXE DIR [MAX_RUNS]: the power supply for vnvheap_persist on native_sim
# with CONFIG_APP_PROCESS_RESTART. Each power failure ends the process after its checkpoint;
# this starts it again on the same EEPROM file until a run prints "OK: ..." (exit 0) or
# "FAIL" (exit 1). The file starts erased.
exe=$1 dir=$2 max=${3:-1000}
mkdir -p "$dir" && rm -f "$dir/eeprom.bin" "$dir/persist.log"
i=0
while [ "$i" -lt "$max" ]; do
  i=$((i + 1))
  "$exe" --eeprom="$dir/eeprom.bin" --stop_at=600 > "$dir/run.log" 2>&1
  rc=$?
  grep -E '^(life|persist thread|OK|FAIL)' "$dir/run.log" >> "$dir/persist.log"
  if grep -q '^FAIL' "$dir/run.log" || [ "$rc" -ne 0 ]; then
    cat "$dir/run.log"; echo "persist-restarts: process $i failed (exit $rc)"; exit 1
  fi
  if grep -q '^OK:' "$dir/run.log"; then
    cat "$dir/persist.log"; echo "persist-restarts: $i processes"; exit 0
  fi
done
echo "persist-restarts: no OK after $max processes"; exit 1

# User-facing entry points. The two quick-start commands are `make demo` and `make test`.
#   make demo        power-failure demo: a sensor logger reset at random every 5..50 ms (15 s);
#                    keeps its storage image in $(BUILD)/demo and prints the vnv-check command
#   make demo-resume power failures every ~20 ms, RAM wiped at each one, execution resumes
#   make test        the whole suite: GCC -O3 + Clang ASan/UBSan (this one with object
#                    transfers split into 48-byte transactions) + GCC with the data checksum
#                    (VNV_DATA_CRC), the minimal profile (VNV_MINIMAL), cross, fuzz, README
#                    numbers, Zephyr;
#                    every stage runs even after one fails, then a summary names the failed ones
#   make build       library, examples and tests (GCC, optimised)
#   make clean
# Everything goes under $(BUILD) (default build/): `make test BUILD=build-mine` keeps trees apart.
JOBS ?= 2
BUILD ?= build
CMAKE_COMMON := -DVNV_WERROR=ON -DVNV_BUILD_TESTS=ON -DVNV_BUILD_EXAMPLES=ON

# The stages of `make test`, each also a target of its own. Add one with `TEST_STAGES += name`
# (not as a prerequisite of `test`, which would stop at the first failure).
TEST_STAGES := test-gcc test-asan test-crc test-minimal cross-test fuzz readme-numbers-check \
               zephyr-test

.PHONY: all build demo demo-resume test test-gcc test-asan test-crc test-minimal cross-test fuzz \
        size clean \
        readme-numbers readme-numbers-check

all: build

$(BUILD)/gcc/CMakeCache.txt:
	cmake -S . -B $(BUILD)/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON)

$(BUILD)/asan/CMakeCache.txt:
	cmake -S . -B $(BUILD)/asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DVNV_SANITIZE=address,undefined -DVNV_IO_CHUNK=48 $(CMAKE_COMMON)

build: $(BUILD)/gcc/CMakeCache.txt
	cmake --build $(BUILD)/gcc -j $(JOBS)

# The demos build only what they run (power_demo, vnv-check), not the test programs.
DEMO_DIR := $(BUILD)/demo
demo: $(BUILD)/gcc/CMakeCache.txt
	cmake --build $(BUILD)/gcc -j $(JOBS) --target power_demo vnv-check
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BUILD)/gcc/examples/power_demo --mode restart --seconds 15 --dir $(DEMO_DIR)
	@echo "check the image offline: $(BUILD)/gcc/tools/vnv-check $(DEMO_DIR)/power_demo_restart.bin"

demo-resume: $(BUILD)/gcc/CMakeCache.txt
	cmake --build $(BUILD)/gcc -j $(JOBS) --target power_demo vnv-check
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BUILD)/gcc/examples/power_demo --mode resume --seconds 10 --dir $(DEMO_DIR)
	@echo "check the image offline: $(BUILD)/gcc/tools/vnv-check $(DEMO_DIR)/power_demo_resume.bin"

test-gcc: build
	cd $(BUILD)/gcc && ctest --output-on-failure -j $(JOBS)

test-asan: $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The suite again with the optional data checksum (every slot carries a CRC-32).
test-crc:
	cmake -S . -B $(BUILD)/crc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	  -DVNV_DATA_CRC=ON -DVNV_ENCODE_RECORDS=ON \
	  $(filter-out -DVNV_BUILD_EXAMPLES=ON,$(CMAKE_COMMON)) -DVNV_BUILD_EXAMPLES=OFF
	cmake --build $(BUILD)/crc -j $(JOBS)
	cd $(BUILD)/crc && ctest --output-on-failure -j $(JOBS)

# The minimal profile (VNV_MINIMAL, README "Minimal profile"): its tests with GCC -O3, and
# with Clang -O0 + ASan/UBSan (unoptimised: the left-out paths must still link).
# $(BUILD)/gcc (make build) reads and writes the images that cross the two profiles.
test-minimal: build
	cmake -S . -B $(BUILD)/minimal -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
	  -DVNV_MINIMAL=ON -DVNV_FULL_BUILD=$(abspath $(BUILD)/gcc) $(CMAKE_COMMON) >/dev/null
	cmake --build $(BUILD)/minimal -j $(JOBS)
	cd $(BUILD)/minimal && ctest --output-on-failure -j $(JOBS)
	cmake -S . -B $(BUILD)/minimal-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DVNV_MINIMAL=ON -DVNV_SANITIZE=address,undefined $(CMAKE_COMMON) >/dev/null
	cmake --build $(BUILD)/minimal-asan -j $(JOBS)
	cd $(BUILD)/minimal-asan && ctest --output-on-failure -j $(JOBS)

# The same unit and system tests on rv32imc (ESP32-C3 ISA, strict ibex core) and Cortex-M3,
# under QEMU, and the minimal profile's tests on both. Skipped with a message where the
# cross toolchains are not installed.
CROSS_TARGETS := rv32imc:riscv64-unknown-elf-gcc:qemu-system-riscv32 cortex-m3:arm-none-eabi-gcc:qemu-system-arm
cross-test:
	@failed=""; for t in $(CROSS_TARGETS); do \
	  name=$${t%%:*}; rest=$${t#*:}; cc=$${rest%%:*}; qemu=$${rest#*:}; \
	  if ! command -v $$cc >/dev/null || ! command -v $$qemu >/dev/null; then \
	    echo "cross-test: $$name skipped ($$cc or $$qemu not installed; see .ci/run)"; continue; fi; \
	  for prof in "" -minimal; do \
	    minimal=OFF; [ -n "$$prof" ] && minimal=ON; \
	    { cmake -S . -B $(BUILD)/$$name$$prof -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-$$name.cmake \
	        -DCMAKE_BUILD_TYPE=MinSizeRel -DVNV_MINIMAL=$$minimal $(CMAKE_COMMON) >/dev/null && \
	      cmake --build $(BUILD)/$$name$$prof -j $(JOBS) && \
	      (cd $(BUILD)/$$name$$prof && ctest --output-on-failure -j $(JOBS)); } || \
	      failed="$$failed $$name$$prof"; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "cross-test: FAILED on:$$failed"; exit 1; fi

# libFuzzer over the API with a shadow model; FUZZ_SECONDS=600 for a longer run.
FUZZ_SECONDS ?= 60
fuzz:
	cmake -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DVNV_SANITIZE=fuzzer-no-link,address,undefined -DVNV_FUZZ=ON -DVNV_BUILD_EXAMPLES=OFF \
	  -DVNV_FUZZ_SECONDS=$(FUZZ_SECONDS) $(filter-out -DVNV_BUILD_EXAMPLES=ON,$(CMAKE_COMMON))
	cmake --build $(BUILD)/fuzz -j $(JOBS)
	cd $(BUILD)/fuzz && ctest --output-on-failure

test:
	@failed=""; for stage in $(TEST_STAGES); do \
	  echo "==== make test: stage $$stage"; \
	  $(MAKE) --no-print-directory $$stage || failed="$$failed $$stage"; \
	done; \
	echo "==== make test: stages run: $(TEST_STAGES)"; \
	if [ -n "$$failed" ]; then echo "==== make test: FAILED stages:$$failed"; exit 1; fi; \
	echo "==== make test: all stages passed"

# Code size per target (-Os), struct sizes, per-object metadata, persist stack depth.
size: build
	python3 tools/size.py --build $(BUILD)

# The README's size numbers (marked spans, see tools/readme_numbers.py) against `make size`.
# readme-numbers-check is a stage of `make test`; `make readme-numbers` rewrites README.md.
readme-numbers-check:
	python3 tools/readme_numbers.py --check --build $(BUILD)

readme-numbers:
	python3 tools/readme_numbers.py --update --build $(BUILD)

clean:
	rm -rf $(BUILD)

# ---- Benchmarks and figures (bench/README.md) ---------------------------------------------
#   make bench        quick host suite (< 3 min): $(BUILD)/bench/host.jsonl (paper profile), plus
#                     host-spi40.jsonl (persist, spi40 profile) and host-addrorder.jsonl
#                     (applications, --policy addrorder); prints the targets table
#   make bench-rv32   rv32imc under QEMU -icount shift=0: $(BUILD)/bench/rv32.jsonl (instructions),
#                     and $(BUILD)/bench/size.log (make size: code size, target 6)
#   make plots        $(BUILD)/figures/*.png (+ .svg) from $(BUILD)/bench and bench/reference.json
#                     (the original's measurements); needs matplotlib
#   make figures      maintainers: the same into docs/figures (the committed ones), with the
#                     rv32 points (runs bench / bench-rv32 first where their results are missing)
# BENCH_ARGS / BENCH_RV32_ARGS add runner options, e.g. BENCH_ARGS="--policy addrorder".
BENCH_OUT := $(BUILD)/bench
BENCH_HOST := $(BUILD)/bench-host
BENCH_RV32 := $(BUILD)/bench-rv32
BENCH_ARGS ?=
BENCH_RV32_ARGS ?=
# Host: -O3 (Release), the optimisation level of the original's cargo --release (opt-level 3)
# for the side-by-side; rv32: -O2 -g, the build its instruction counts were always taken with.
BENCH_FLAGS := -DVNV_WERROR=ON -DVNV_BUILD_TESTS=OFF -DVNV_BUILD_EXAMPLES=OFF -DVNV_BUILD_BENCH=ON
BENCH_CMAKE := -DCMAKE_BUILD_TYPE=Release $(BENCH_FLAGS)
BENCH_RV32_CMAKE := -DCMAKE_BUILD_TYPE=RelWithDebInfo $(BENCH_FLAGS)
# Debian's interpreter: python3-matplotlib installs there (a pyenv python3 may shadow it).
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

.PHONY: bench bench-crc bench-rv32 plots figures check-matplotlib

bench:
	cmake -S . -B $(BENCH_HOST) $(BENCH_CMAKE) >/dev/null
	cmake --build $(BENCH_HOST) -j $(JOBS) --target vnv-bench
	mkdir -p $(BENCH_OUT)
	rc=0; $(BENCH_HOST)/bench/vnv-bench --json $(BENCH_OUT)/host.jsonl $(BENCH_ARGS) \
	  > $(BENCH_OUT)/host.log || rc=1; \
	$(BENCH_HOST)/bench/vnv-bench --filter persist --storage-profile spi40 \
	  --json $(BENCH_OUT)/host-spi40.jsonl > /dev/null 2>&1 || rc=1; \
	$(BENCH_HOST)/bench/vnv-bench --filter app --policy addrorder \
	  --json $(BENCH_OUT)/host-addrorder.jsonl > /dev/null 2>&1 || rc=1; \
	$(PYTHON) bench/targets.py $(BENCH_OUT) || rc=1; \
	$(MAKE) --no-print-directory bench-crc || rc=1; exit $$rc

# What the data checksum costs: the same points built without and with VNV_DATA_CRC, run
# back to back per benchmark, compared by bench/crc_cost.py (README "Data checksum").
CRC_BENCHES := get_min_max get_max max_dirty_persist_latency_dirty_size kvs queue_slist
bench-crc:
	cmake -S . -B $(BENCH_HOST) $(BENCH_CMAKE) >/dev/null
	cmake -S . -B $(BENCH_HOST)-crc $(BENCH_CMAKE) -DVNV_DATA_CRC=ON >/dev/null
	cmake --build $(BENCH_HOST) -j $(JOBS) --target vnv-bench
	cmake --build $(BENCH_HOST)-crc -j $(JOBS) --target vnv-bench
	mkdir -p $(BENCH_OUT)
	rm -f $(BENCH_OUT)/crc-off.jsonl $(BENCH_OUT)/crc-on.jsonl
	for b in $(CRC_BENCHES); do \
	  $(BENCH_HOST)/bench/vnv-bench --filter $$b --json $(BENCH_OUT)/crc-part.jsonl >/dev/null && \
	  cat $(BENCH_OUT)/crc-part.jsonl >> $(BENCH_OUT)/crc-off.jsonl && \
	  $(BENCH_HOST)-crc/bench/vnv-bench --filter $$b --json $(BENCH_OUT)/crc-part.jsonl >/dev/null && \
	  cat $(BENCH_OUT)/crc-part.jsonl >> $(BENCH_OUT)/crc-on.jsonl || exit 1; \
	done
	$(PYTHON) bench/crc_cost.py $(BENCH_OUT)

bench-rv32:
	@if ! command -v riscv64-unknown-elf-gcc >/dev/null || ! command -v qemu-system-riscv32 >/dev/null; then \
	  echo "bench-rv32: needs gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf, qemu-system-misc"; exit 1; fi
	cmake -S . -B $(BENCH_RV32) -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-rv32imc.cmake $(BENCH_RV32_CMAKE) >/dev/null
	cmake --build $(BENCH_RV32) -j $(JOBS) --target vnv-bench
	mkdir -p $(BENCH_OUT)
	semi=""; for a in $(BENCH_RV32_ARGS); do semi="$$semi,arg=$$a"; done; \
	timeout 1200 qemu-system-riscv32 -machine virt -cpu lowrisc-ibex -bios none -nographic \
	  -icount shift=0 -semihosting-config enable=on,target=native$$semi \
	  -kernel $(BENCH_RV32)/bench/vnv-bench > $(BENCH_OUT)/rv32.log 2>&1; rc=$$?; \
	grep '^\[BENCH-INFO\] ' $(BENCH_OUT)/rv32.log | sed 's/^\[BENCH-INFO\] //' > $(BENCH_OUT)/rv32.jsonl; \
	grep -E 'BENCH-STATUS|!!' $(BENCH_OUT)/rv32.log; \
	echo "wrote $(BENCH_OUT)/rv32.jsonl ($$(wc -l < $(BENCH_OUT)/rv32.jsonl) results)"; \
	python3 tools/size.py --build $(BUILD) > $(BENCH_OUT)/size.log || rc=1; \
	if test -f $(BENCH_OUT)/host.jsonl; then $(PYTHON) bench/targets.py $(BENCH_OUT) || rc=1; fi; exit $$rc

check-matplotlib:
	@$(PYTHON) -c 'import matplotlib' 2>/dev/null || { \
	  echo "make plots: matplotlib is missing for $(PYTHON). Install it with"; \
	  echo "  apt-get install python3-matplotlib      (Debian/Ubuntu, as root)"; \
	  echo "  or: $(PYTHON) -m pip install matplotlib"; \
	  echo "(PYTHON=... selects another interpreter)"; exit 1; }

plots: check-matplotlib
	@test -f $(BENCH_OUT)/host.jsonl || $(MAKE) --no-print-directory bench
	$(PYTHON) bench/plot.py --results $(BENCH_OUT) --out $(BUILD)/figures

figures: check-matplotlib
	@test -f $(BENCH_OUT)/host.jsonl || $(MAKE) --no-print-directory bench
	@test -f $(BENCH_OUT)/rv32.jsonl || $(MAKE) --no-print-directory bench-rv32
	$(PYTHON) bench/plot.py --results $(BENCH_OUT) --out docs/figures --require-rv32

# The Zephyr module (zephyr/): make zephyr-test
include zephyr/zephyr.mk

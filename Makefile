# User-facing entry points. The two quick-start commands are `make demo` and `make test`.
#   make demo        power-failure demo: a sensor logger reset at random every 5..50 ms (15 s)
#   make demo-resume power failures every ~20 ms, RAM wiped at each one, execution resumes
#   make test        the whole suite: GCC (optimised) + Clang ASan/UBSan, under CTest
#   make build       library, examples and tests (GCC, optimised)
#   make clean
JOBS ?= 2
BUILD := build
CMAKE_COMMON := -DVNV_WERROR=ON -DVNV_BUILD_TESTS=ON -DVNV_BUILD_EXAMPLES=ON

.PHONY: all build demo demo-resume test test-gcc test-asan cross-test fuzz clean

all: build

$(BUILD)/gcc/CMakeCache.txt:
	cmake -S . -B $(BUILD)/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_COMMON)

$(BUILD)/asan/CMakeCache.txt:
	cmake -S . -B $(BUILD)/asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DVNV_SANITIZE=address,undefined $(CMAKE_COMMON)

build: $(BUILD)/gcc/CMakeCache.txt
	cmake --build $(BUILD)/gcc -j $(JOBS)

demo: build
	$(BUILD)/gcc/examples/power_demo --mode restart --seconds 15

demo-resume: build
	$(BUILD)/gcc/examples/power_demo --mode resume --seconds 10

test-gcc: build
	cd $(BUILD)/gcc && ctest --output-on-failure -j $(JOBS)

test-asan: $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The same unit and system tests on rv32imc (ESP32-C3 ISA, strict ibex core) and Cortex-M3,
# under QEMU. Skipped with a message where the cross toolchains are not installed.
CROSS_TARGETS := rv32imc:riscv64-unknown-elf-gcc:qemu-system-riscv32 cortex-m3:arm-none-eabi-gcc:qemu-system-arm
cross-test:
	@for t in $(CROSS_TARGETS); do \
	  name=$${t%%:*}; rest=$${t#*:}; cc=$${rest%%:*}; qemu=$${rest#*:}; \
	  if ! command -v $$cc >/dev/null || ! command -v $$qemu >/dev/null; then \
	    echo "cross-test: $$name skipped ($$cc or $$qemu not installed; see .ci/run)"; continue; fi; \
	  cmake -S . -B $(BUILD)/$$name -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-$$name.cmake \
	    -DCMAKE_BUILD_TYPE=MinSizeRel $(CMAKE_COMMON) >/dev/null || exit 1; \
	  cmake --build $(BUILD)/$$name -j $(JOBS) || exit 1; \
	  (cd $(BUILD)/$$name && ctest --output-on-failure -j $(JOBS)) || exit 1; \
	done

# libFuzzer over the API with a shadow model; FUZZ_SECONDS=600 for a longer run.
FUZZ_SECONDS ?= 60
fuzz:
	cmake -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DVNV_SANITIZE=fuzzer-no-link,address,undefined -DVNV_FUZZ=ON -DVNV_BUILD_EXAMPLES=OFF \
	  -DVNV_FUZZ_SECONDS=$(FUZZ_SECONDS) $(filter-out -DVNV_BUILD_EXAMPLES=ON,$(CMAKE_COMMON))
	cmake --build $(BUILD)/fuzz -j $(JOBS)
	cd $(BUILD)/fuzz && ctest --output-on-failure

test: test-gcc test-asan cross-test fuzz

clean:
	rm -rf $(BUILD)

# User-facing entry points. The two quick-start commands are `make demo` and `make test`.
#   make demo        power-failure demo: signals every ~20 ms, RAM wiped at each one
#   make test        the whole suite: GCC (optimised) + Clang ASan/UBSan, under CTest
#   make build       library, examples and tests (GCC, optimised)
#   make clean
JOBS ?= 2
BUILD := build
CMAKE_COMMON := -DVNV_WERROR=ON -DVNV_BUILD_TESTS=ON -DVNV_BUILD_EXAMPLES=ON

.PHONY: all build demo demo-resume test test-gcc test-asan clean

all: build

$(BUILD)/gcc/CMakeCache.txt:
	cmake -S . -B $(BUILD)/gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_COMMON)

$(BUILD)/asan/CMakeCache.txt:
	cmake -S . -B $(BUILD)/asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DVNV_SANITIZE=address,undefined $(CMAKE_COMMON)

build: $(BUILD)/gcc/CMakeCache.txt
	cmake --build $(BUILD)/gcc -j $(JOBS)

demo: build
	$(BUILD)/gcc/examples/power_demo --seconds 10

test-gcc: build
	cd $(BUILD)/gcc && ctest --output-on-failure -j $(JOBS)

test-asan: $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

test: test-gcc test-asan

clean:
	rm -rf $(BUILD)

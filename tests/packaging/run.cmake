# cmake -P script behind the `packaging` test (see CMakeLists.txt here). Arguments:
# VNV_SOURCE (vnvheap's source tree), VNV_VERSION (expected), WORK (scratch directory),
# CC (the C compiler), GENERATOR.
cmake_minimum_required(VERSION 3.16)
file(REMOVE_RECURSE ${WORK})
set(consumer ${VNV_SOURCE}/tests/packaging/consumer)
set(cfg ${VNV_SOURCE}/tests/packaging/my_config.h)
set(common -G ${GENERATOR} -DCMAKE_C_COMPILER=${CC} -DCMAKE_BUILD_TYPE=Debug)

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "packaging: ${what}: FAILED (${rc})\n${ARGN}\n${out}")
  endif()
  message(STATUS "packaging: ${what}: ok")
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

# 1. add_subdirectory, with a sanitizer (its runtime must reach the consumer's link) and the
#    override header (its definitions must reach the consumer's compile).
step("add_subdirectory: configure" ${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/subdir ${common}
     -DVNV_MODE=subdir -DVNV_SOURCE=${VNV_SOURCE} -DVNV_SANITIZE=undefined
     -DVNV_CONFIG_HEADER=${cfg} -DVNV_EXPECT_FREE_CACHE=2)
step("add_subdirectory: build" ${CMAKE_COMMAND} --build ${WORK}/subdir -j 2)
step("add_subdirectory: run" ${WORK}/subdir/consumer)

# 2. install into the build tree, then find_package(vnvheap 0.1).
step("install: configure" ${CMAKE_COMMAND} -S ${VNV_SOURCE} -B ${WORK}/lib ${common}
     -DVNV_BUILD_TESTS=OFF -DVNV_BUILD_EXAMPLES=OFF -DVNV_BUILD_TOOLS=OFF
     -DVNV_CONFIG_HEADER=${cfg} -DCMAKE_INSTALL_PREFIX=${WORK}/prefix)
step("install: build and install" ${CMAKE_COMMAND} --build ${WORK}/lib -j 2 --target install)
if(EXISTS ${WORK}/prefix/bin/vnv-check)
  message(FATAL_ERROR "packaging: vnv-check installed although VNV_BUILD_TOOLS=OFF")
endif()
step("find_package: configure" ${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/package ${common}
     -DVNV_MODE=package -DCMAKE_PREFIX_PATH=${WORK}/prefix -DVNV_VERSION=${VNV_VERSION}
     -DVNV_VERSION_REQUEST=0.1 -DVNV_EXPECT_FREE_CACHE=2)
step("find_package: build" ${CMAKE_COMMAND} --build ${WORK}/package -j 2)
step("find_package: run" ${WORK}/package/consumer)

# 3. pkg-config against the same install.
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
file(GLOB_RECURSE pc ${WORK}/prefix/vnvheap.pc)
if(NOT pc)
  message(FATAL_ERROR "packaging: no vnvheap.pc installed under ${WORK}/prefix")
endif()
if(NOT PKG_CONFIG)
  message(STATUS "packaging: pkg-config: skipped (not installed); vnvheap.pc is ${pc}")
  return()
endif()
get_filename_component(pcdir ${pc} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pcdir})
step("pkg-config --modversion" ${PKG_CONFIG} --modversion vnvheap)
string(STRIP "${step_out}" v)
if(NOT v STREQUAL VNV_VERSION)
  message(FATAL_ERROR "packaging: pkg-config reports version '${v}', expected ${VNV_VERSION}")
endif()
# as a Makefile would use it: the flags are parsed by the shell
step("pkg-config: build" sh -c "eval \"${CC} -std=c11 -DVNV_EXPECT_FREE_CACHE=2 ${consumer}/main.c \
$(${PKG_CONFIG} --cflags --libs vnvheap) -o ${WORK}/pc-consumer\"")
step("pkg-config: run" ${WORK}/pc-consumer)

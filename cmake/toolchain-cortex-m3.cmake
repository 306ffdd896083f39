# Cross build for ARM Cortex-M3 (thumb), picolibc + semihosting, run under QEMU mps2-an385.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(VNV_TARGET_NAME cortex-m3 CACHE STRING "")
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m3 -mthumb --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0 -Wl,--defsym=__flash_size=0x400000 -Wl,--defsym=__ram=0x20000000 -Wl,--defsym=__ram_size=0x400000 -Wl,--defsym=__stack_size=0x10000")
set(CMAKE_CROSSCOMPILING_EMULATOR
    timeout;300;qemu-system-arm;-machine;mps2-an385;-cpu;cortex-m3;-nographic;-semihosting-config;enable=on,target=native;-kernel)
set(VNV_POSIX OFF CACHE BOOL "" FORCE)

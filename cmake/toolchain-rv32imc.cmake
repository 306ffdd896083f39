# Cross build for RISC-V rv32imc / ilp32 (the ESP32-C3's ISA), picolibc + semihosting,
# run under QEMU's `virt` board with the strict lowrisc-ibex core (traps on atomics).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(VNV_TARGET_NAME rv32imc CACHE STRING "")
# -msave-restore: shared prologue/epilogue routines, about 5 % smaller code
set(CMAKE_C_FLAGS_INIT "-march=rv32imc -mabi=ilp32 -msave-restore --specs=picolibc.specs")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x80000000 -Wl,--defsym=__flash_size=0x200000 -Wl,--defsym=__ram=0x80200000 -Wl,--defsym=__ram_size=0x400000 -Wl,--defsym=__stack_size=0x10000")
set(CMAKE_CROSSCOMPILING_EMULATOR
    timeout;300;qemu-system-riscv32;-machine;virt;-cpu;lowrisc-ibex;-bios;none;-nographic;-semihosting-config;enable=on,target=native;-icount;shift=0;-kernel)
set(VNV_POSIX OFF CACHE BOOL "" FORCE)

# The Zephyr module's tests (zephyr/, README "Zephyr"), included by the top Makefile.
#   make zephyr-test   ztest suite on native_sim/native/64, qemu_riscv32, qemu_cortex_m3 and
#                      the samples; needs ZEPHYR_BASE (skipped with a message without it)
.PHONY: zephyr-test
zephyr-test:
	@JOBS=$(JOBS) sh zephyr/scripts/zephyr-test.sh

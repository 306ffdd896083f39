/*
 * debug_printk.h - forced include for src/checkpoint.c when CONFIG_VNVHEAP_DEBUG_PRINTS=y:
 * the core's stdio print hook (fputs to stderr) becomes printk, which Zephyr allows in
 * any context (interrupt, meta-IRQ thread). Nothing else of stdio is used there.
 */
#ifndef VNVHEAP_ZEPHYR_DEBUG_PRINTK_H
#define VNVHEAP_ZEPHYR_DEBUG_PRINTK_H
#include <stdio.h>
#include <zephyr/sys/printk.h>
#undef fputs
#define fputs(s, stream) ((void)(stream), printk("%s", (s)))
#endif

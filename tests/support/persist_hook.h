/*
 * persist_hook.h - a checkpoint requested from inside one chosen storage transaction of a
 * fixture's heap (vnv_persist_all() there is deferred to the end of that transaction's
 * critical section), with the storage image copied as that checkpoint left it; and a
 * second device that boots from an image, for "a reset now" checks.
 */
#ifndef VNV_TEST_PERSIST_HOOK_H
#define VNV_TEST_PERSIST_HOOK_H
#include "fixture.h"

/* Before vnv_format: route f's storage through the hook, and its persist callback to one
 * that copies the storage into `image` (f's nv_size bytes) and keeps RAM (returns 0).
 * One hooked fixture at a time. */
void hook_install(struct fixture *f, uint8_t *image, uint32_t nv_size);
/* fx_init + hook_install + vnv_format: a fresh hooked heap. Returns vnv_format's result. */
int hook_format(struct fixture *f, uint8_t *image, uint32_t nv_size, uint32_t ram_size,
                uint32_t max_dirty);
/* Arm: the next write (min_read 0) or the next read longer than `min_read` bytes calls
 * vnv_persist_all() once; hook_result() is what it returned (-1000: not fired yet). */
void hook_arm(int on_write, uint32_t min_read);
int hook_result(void);

/* A fresh device booting from a copy of `image`: open, read one byte of `o`, vnv_check
 * (not in the minimal profile). Returns the byte (0..255), or the first error (< 0). */
int fx_byte_after_reset(const uint8_t *image, uint32_t nv_size, uint32_t ram_size,
                        uint32_t max_dirty, vnv_obj_t o, uint32_t at);
#endif

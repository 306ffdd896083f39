/*
 * vnvheap/alloc.h - the two allocator interfaces.
 *
 * RAM allocator: places resident objects inside the caller's RAM buffer.
 * NV allocator:  places object homes on the storage device.
 *
 * Allocators know nothing of the heap: they see a byte range and a state area the heap
 * reserves for them (`state_size` bytes, at most VNV_*_STATE_MAX, aligned for uint32_t).
 * All positions are offsets relative to the managed range, never absolute addresses, so
 * that a restart may place the buffer elsewhere.
 */
#ifndef VNVHEAP_ALLOC_H
#define VNVHEAP_ALLOC_H

#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every RAM allocation is aligned to (and a multiple of) this many bytes. */
#define VNV_RAM_ALIGN 8u

#ifndef VNV_RAM_STATE_MAX
#define VNV_RAM_STATE_MAX 128u /* bytes of state the heap reserves for a RAM allocator */
#endif

/*
 * RAM allocator over the buffer [base, base + size). `base` is VNV_RAM_ALIGN-aligned and
 * `size` a multiple of VNV_RAM_ALIGN. The allocator may keep its free-list links inside the
 * free parts of the buffer. Allocated bytes are never touched by the allocator.
 */
struct vnv_ram_allocator {
    const char *name;
    uint32_t state_size; /* <= VNV_RAM_STATE_MAX */

    /* Forget everything and manage [base, base+size) as one free range. */
    int (*init)(void *st, void *base, uint32_t size);
    /* Allocate `size` bytes (> 0); on success *off is the offset of the block.
     * VNV_ERR_NOMEM if no free range fits. */
    int (*alloc)(void *st, uint32_t size, uint32_t *off);
    /* Re-create an allocation of `size` bytes at exactly `off` (which an earlier `alloc`
     * of the same size returned, before an init). Used to rebuild the state after RAM was
     * lost. VNV_ERR_NOMEM if [off, off+size) is not free, VNV_ERR_INVAL if misaligned.
     * Must also succeed right after `free(off, n)` of a block for any size <= n at the same
     * `off`: the heap shrinks a block in place that way (an object freed inside a group). */
    int (*alloc_at)(void *st, uint32_t off, uint32_t size);
    /* Give back a block; `size` is the size passed to alloc/alloc_at.
     * VNV_ERR_INVAL if it is not an allocated block (where detectable). */
    int (*free)(void *st, uint32_t off, uint32_t size);
    /* 1 if an alloc of `size` would succeed now, else 0. Changes nothing. */
    int (*fits)(void *st, uint32_t size);
    /* Bytes of buffer a block of `size` really occupies (rounding). */
    uint32_t (*footprint)(const void *st, uint32_t size);
    /* Validate the free structure; 0 or VNV_ERR_CORRUPT. Optional (NULL). */
    int (*check)(const void *st);
    /* Free bytes in total (for statistics). */
    uint32_t (*free_bytes)(const void *st);
};

extern const struct vnv_ram_allocator vnv_ram_firstfit; /* address-ordered hole list (default) */
#if !VNV_MINIMAL
extern const struct vnv_ram_allocator vnv_ram_buddy;    /* power-of-two buddy system */
#endif

/*
 * NV allocator: places object homes on the storage device. The heap keeps the storage's
 * allocation state as bitmaps in RAM (one bit per allocation unit, a power of two >= 16
 * bytes, vnv_config.nv_unit) and commits them with every checkpoint, so that a reset at any
 * instant finds the allocation state of the last checkpoint (docs/FORMAT.md). An NV allocator
 * is therefore only a placement rule over those bitmaps: it keeps no state and does no I/O.
 * One placement bypasses it: the home vnv_free last freed outside a group, if no checkpoint
 * holds it yet, goes to the next allocation that needs the same (rounded) number of units,
 * and is released to the rule before any allocation of another size (a pop and push of a
 * FIFO then place nothing).
 */
struct vnv_nv_allocator {
    const char *name;
    /* Units an object needing `units` units really occupies (rounding; >= units). */
    uint32_t (*round)(uint32_t units);
    /* Find `len` consecutive free units, where unit u is free iff bit u is clear in both
     * bitmaps `a` and `b` (`nunits` bits, bit u = word u / 32, bit u % 32). On success *at is
     * the first unit. VNV_ERR_NOSPC if no run fits. Pure and bounded: O(nunits). */
    int (*place)(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                 uint32_t *at);
};

extern const struct vnv_nv_allocator vnv_nv_firstfit; /* lowest free run (default) */
#if !VNV_MINIMAL
extern const struct vnv_nv_allocator vnv_nv_buddy;    /* power-of-two runs, aligned */
#endif

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_ALLOC_H */

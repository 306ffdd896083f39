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
     * lost. VNV_ERR_NOMEM if [off, off+size) is not free, VNV_ERR_INVAL if misaligned. */
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
extern const struct vnv_ram_allocator vnv_ram_buddy;    /* power-of-two buddy system */

#ifndef VNV_NV_STATE_MAX
#define VNV_NV_STATE_MAX 128u /* bytes of RAM state the heap reserves for an NV allocator */
#endif

/*
 * NV allocator over the storage range [off, off + size). All its persistent state lives
 * on storage inside that range, so it survives a reset; its RAM state is only a cache that
 * `attach` re-reads. A returned offset is absolute on the storage device and the caller
 * owns the bytes [*out, *out + size).
 */
struct vnv_nv_allocator {
    const char *name;
    uint32_t state_size; /* <= VNV_NV_STATE_MAX */

    /* Lay out an empty allocator on storage (writes its on-storage structure). */
    int (*format)(void *st, const struct vnv_storage *s, uint32_t off, uint32_t size);
    /* Attach to a structure written by `format` (+ later operations): reads and validates
     * what it needs. VNV_ERR_CORRUPT if it does not look right. */
    int (*attach)(void *st, const struct vnv_storage *s, uint32_t off, uint32_t size);
    /* Allocate `size` (> 0) bytes at an offset that is a multiple of 4.
     * VNV_ERR_NOSPC when no free block fits. A failed alloc or free (VNV_ERR_IO) commits
     * nothing: storage and RAM state are as before the call. */
    int (*alloc)(void *st, const struct vnv_storage *s, uint32_t size, uint32_t *out);
    /* Free what `alloc` returned. VNV_ERR_INVAL if `off` is not an allocated block. */
    int (*free)(void *st, const struct vnv_storage *s, uint32_t off);
    /* Walk and validate the whole structure on storage; 0 or VNV_ERR_CORRUPT (or IO). */
    int (*check)(void *st, const struct vnv_storage *s);
    /* Free bytes (usable payload) for statistics. */
    uint32_t (*free_bytes)(const void *st);
    /* Optional (NULL = not supported): call visit(ctx, off, size) for every allocated block,
     * with the offset `alloc` returned and the usable bytes there; validates the structure
     * as it goes (VNV_ERR_CORRUPT). A non-zero return of visit stops the walk and is
     * returned. Used by offline checkers. O(blocks) storage reads. */
    int (*walk)(void *st, const struct vnv_storage *s,
                int (*visit)(void *ctx, uint32_t off, uint32_t size), void *ctx);
};

extern const struct vnv_nv_allocator vnv_nv_buddy; /* buddy system, lists on storage (default) */

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_ALLOC_H */

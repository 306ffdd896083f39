/*
 * ram_firstfit.c - `vnv_ram_firstfit`: first-fit RAM allocator over an address-ordered
 * list of holes.
 *
 * Layout: every hole (free range) is a multiple of VNV_RAM_ALIGN (8) bytes, starts at an
 * 8-aligned offset and keeps its descriptor in its own first 8 bytes:
 *     [hole + 0] uint32 size of the hole in bytes
 *     [hole + 4] uint32 offset of the next hole (higher address), FF_NIL at the end
 * The list is sorted by address; two holes are never adjacent (free merges them). The RAM
 * state holds the buffer pointer, its size, the offset of the first hole and the number of
 * free bytes. Links are read/written with memcpy, so no alignment assumption is needed
 * beyond the 8-aligned buffer the interface guarantees.
 *
 * Complexity (H = number of holes, H <= size/16 + 1):
 *     init, footprint, free_bytes      O(1)
 *     alloc, alloc_at, free, fits      O(H)  (one walk of the hole list, at most H steps)
 *     check                            O(H)
 * Every list walk is bounded by the maximum possible number of holes (size/8 + 1) so a
 * corrupted (cyclic) list cannot make an operation loop forever.
 *
 * No allocation, no recursion; only <string.h>/<stdint.h>/<stddef.h>.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vnvheap/alloc.h"

#define FF_NIL 0xFFFFFFFFu
#define FF_MAGIC 0x46464954u /* marks an initialised state */

struct ff_state {
    uint32_t magic;
    uint32_t size; /* managed bytes (multiple of 8) */
    uint32_t free; /* sum of hole sizes */
    uint32_t head; /* offset of the lowest hole, FF_NIL if none */
    /* Buffer base pointer, kept as bytes: the state area is only guaranteed to be aligned
     * for uint32_t, which is not enough for a pointer on a 64-bit host. */
    unsigned char base[sizeof(void *)];
};

_Static_assert(sizeof(struct ff_state) <= VNV_RAM_STATE_MAX, "firstfit state too large");

/* ---- small helpers ------------------------------------------------------------------ */

static uint8_t *ff_base(const struct ff_state *S)
{
    uint8_t *b;
    memcpy(&b, S->base, sizeof b);
    return b;
}

static uint32_t ld32(const uint8_t *b, uint32_t off)
{
    uint32_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

static void st32(uint8_t *b, uint32_t off, uint32_t v) { memcpy(b + off, &v, sizeof v); }

static uint32_t hole_size(const uint8_t *b, uint32_t h) { return ld32(b, h); }
static uint32_t hole_next(const uint8_t *b, uint32_t h) { return ld32(b, h + 4u); }

static void hole_write(uint8_t *b, uint32_t h, uint32_t size, uint32_t next)
{
    st32(b, h, size);
    st32(b, h + 4u, next);
}

/* Make `prev`'s successor `v` (prev == FF_NIL: the list head). */
static void set_link(struct ff_state *S, uint8_t *b, uint32_t prev, uint32_t v)
{
    if (prev == FF_NIL)
        S->head = v;
    else
        st32(b, prev + 4u, v);
}

/* Upper bound of list steps: holes are >= 8 bytes and never adjacent. */
static uint32_t walk_bound(const struct ff_state *S) { return S->size / 8u + 1u; }

static uint32_t round8(uint32_t size)
{
    return (size + (VNV_RAM_ALIGN - 1u)) & ~(VNV_RAM_ALIGN - 1u);
}

static struct ff_state *ff_get(void *st)
{
    struct ff_state *S = st;
    return (S && S->magic == FF_MAGIC) ? S : NULL;
}

static const struct ff_state *ff_cget(const void *st)
{
    const struct ff_state *S = st;
    return (S && S->magic == FF_MAGIC) ? S : NULL;
}

/* Validate a block [off, off+size) given by the caller; 0 if acceptable, and the rounded
 * size in *need. */
static int block_ok(const struct ff_state *S, uint32_t off, uint32_t size, uint32_t *need)
{
    if (size == 0 || (off % VNV_RAM_ALIGN) != 0 || off >= S->size || size > S->size - off)
        return 0;
    *need = round8(size); /* cannot overflow: size <= S->size <= UINT32_MAX - 7 */
    return *need <= S->size - off;
}

/* ---- operations --------------------------------------------------------------------- */

static int ff_init(void *st, void *base, uint32_t size)
{
    struct ff_state *S = st;
    if (!S || !base || ((uintptr_t)base % VNV_RAM_ALIGN) != 0 || (size % VNV_RAM_ALIGN) != 0)
        return VNV_ERR_INVAL;
    memset(S, 0, sizeof *S);
    memcpy(S->base, &base, sizeof base);
    S->size = size;
    if (size >= VNV_RAM_ALIGN) {
        hole_write(base, 0, size, FF_NIL);
        S->head = 0;
        S->free = size;
    } else {
        S->head = FF_NIL;
        S->free = 0;
    }
    S->magic = FF_MAGIC;
    return VNV_OK;
}

static int ff_alloc(void *st, uint32_t size, uint32_t *off)
{
    struct ff_state *S = ff_get(st);
    if (!S || !off || size == 0)
        return VNV_ERR_INVAL;
    if (size > S->free)
        return VNV_ERR_NOMEM;
    uint8_t *b = ff_base(S);
    uint32_t need = round8(size); /* size <= free <= UINT32_MAX - 7 */
    uint32_t prev = FF_NIL, h = S->head, bound = walk_bound(S);
    for (uint32_t n = 0; h != FF_NIL; n++) {
        if (n >= bound)
            return VNV_ERR_CORRUPT;
        uint32_t hs = hole_size(b, h), nx = hole_next(b, h);
        if (hs >= need) {
            if (hs == need) {
                set_link(S, b, prev, nx);
            } else { /* take the front, the rest stays a hole */
                hole_write(b, h + need, hs - need, nx);
                set_link(S, b, prev, h + need);
            }
            S->free -= need;
            *off = h;
            return VNV_OK;
        }
        prev = h;
        h = nx;
    }
    return VNV_ERR_NOMEM;
}

static int ff_alloc_at(void *st, uint32_t off, uint32_t size)
{
    struct ff_state *S = ff_get(st);
    uint32_t need;
    if (!S || !block_ok(S, off, size, &need))
        return VNV_ERR_INVAL;
    uint8_t *b = ff_base(S);
    uint32_t prev = FF_NIL, h = S->head, bound = walk_bound(S);
    for (uint32_t n = 0; h != FF_NIL && h <= off; n++) {
        if (n >= bound)
            return VNV_ERR_CORRUPT;
        uint32_t hs = hole_size(b, h), nx = hole_next(b, h);
        if (off - h < hs) { /* this hole contains off */
            if (need > hs - (off - h))
                return VNV_ERR_NOMEM; /* runs past the end of the hole */
            uint32_t front = off - h, back = hs - front - need;
            uint32_t after = nx;
            if (back) {
                hole_write(b, off + need, back, nx);
                after = off + need;
            }
            if (front)
                hole_write(b, h, front, after);
            else
                set_link(S, b, prev, after);
            S->free -= need;
            return VNV_OK;
        }
        prev = h;
        h = nx;
    }
    return VNV_ERR_NOMEM;
}

static int ff_free(void *st, uint32_t off, uint32_t size)
{
    struct ff_state *S = ff_get(st);
    uint32_t need;
    if (!S || !block_ok(S, off, size, &need))
        return VNV_ERR_INVAL;
    uint8_t *b = ff_base(S);
    uint32_t prev = FF_NIL, h = S->head, bound = walk_bound(S);
    for (uint32_t n = 0; h != FF_NIL && h < off; n++) {
        if (n >= bound)
            return VNV_ERR_CORRUPT;
        prev = h;
        h = hole_next(b, h);
    }
    uint32_t end = off + need;
    /* The block must not overlap a hole (double free, or a wrong size). */
    if (prev != FF_NIL && hole_size(b, prev) > off - prev)
        return VNV_ERR_INVAL;
    if (h != FF_NIL && h < end)
        return VNV_ERR_INVAL;

    int join_next = (h != FF_NIL && h == end);
    if (prev != FF_NIL && prev + hole_size(b, prev) == off) {
        uint32_t ps = hole_size(b, prev) + need;
        uint32_t nx = h;
        if (join_next) {
            ps += hole_size(b, h);
            nx = hole_next(b, h);
        }
        hole_write(b, prev, ps, nx);
    } else {
        if (join_next)
            hole_write(b, off, need + hole_size(b, h), hole_next(b, h));
        else
            hole_write(b, off, need, h);
        set_link(S, b, prev, off);
    }
    S->free += need;
    return VNV_OK;
}

static int ff_fits(void *st, uint32_t size)
{
    const struct ff_state *S = ff_get(st);
    if (!S || size == 0 || size > S->free)
        return 0;
    const uint8_t *b = ff_base(S);
    uint32_t need = round8(size), h = S->head, bound = walk_bound(S);
    for (uint32_t n = 0; h != FF_NIL && n < bound; n++) {
        if (hole_size(b, h) >= need)
            return 1;
        h = hole_next(b, h);
    }
    return 0;
}

static uint32_t ff_footprint(const void *st, uint32_t size)
{
    (void)st;
    if (size > UINT32_MAX - (VNV_RAM_ALIGN - 1u))
        return UINT32_MAX; /* cannot be represented: never fits */
    return round8(size);
}

static int ff_check(const void *st)
{
    const struct ff_state *S = ff_cget(st);
    if (!S || (S->size % VNV_RAM_ALIGN) != 0 || S->free > S->size)
        return VNV_ERR_CORRUPT;
    const uint8_t *b = ff_base(S);
    if (!b || ((uintptr_t)b % VNV_RAM_ALIGN) != 0)
        return VNV_ERR_CORRUPT;
    uint32_t h = S->head, bound = walk_bound(S), total = 0;
    uint32_t min_start = 0; /* end of the previous hole: the next must start above it */
    int first = 1;
    for (uint32_t n = 0; h != FF_NIL; n++) {
        if (n >= bound)
            return VNV_ERR_CORRUPT; /* cycle */
        if ((h % VNV_RAM_ALIGN) != 0 || h >= S->size || (!first && h <= min_start))
            return VNV_ERR_CORRUPT; /* misaligned, out of range, unsorted/overlapping/adjacent */
        uint32_t hs = hole_size(b, h);
        if (hs == 0 || (hs % VNV_RAM_ALIGN) != 0 || hs > S->size - h)
            return VNV_ERR_CORRUPT;
        total += hs; /* sum of disjoint sub-ranges of [0, size): no overflow */
        min_start = h + hs;
        first = 0;
        h = hole_next(b, h);
    }
    return total == S->free ? VNV_OK : VNV_ERR_CORRUPT;
}

static uint32_t ff_free_bytes(const void *st)
{
    const struct ff_state *S = ff_cget(st);
    return S ? S->free : 0;
}

const struct vnv_ram_allocator vnv_ram_firstfit = {
    .name = "firstfit",
    .state_size = (uint32_t)sizeof(struct ff_state),
    .init = ff_init,
    .alloc = ff_alloc,
    .alloc_at = ff_alloc_at,
    .free = ff_free,
    .fits = ff_fits,
    .footprint = ff_footprint,
    .check = ff_check,
    .free_bytes = ff_free_bytes,
};

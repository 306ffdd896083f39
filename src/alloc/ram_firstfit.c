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
 * free bytes. Links are read/written with memcpy from 4-aligned places (every hole starts
 * at a multiple of 8 in the 8-aligned buffer the interface guarantees), so a target without
 * unaligned loads gets one load or store per word rather than a memcpy call.
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

/* A 4-aligned address, as the compiler is told (memcpy from it is one load, not a call). */
#if defined(__GNUC__)
#define ALIGNED4(p) __builtin_assume_aligned((p), 4)
#else
#define ALIGNED4(p) (p)
#endif

static uint8_t *ff_base(const struct ff_state *S)
{
    uint8_t *b;
    const unsigned char *p = S->base; /* (not the array itself: clang 14 -fsanitize=alignment
                                          crashes on an array in __builtin_assume_aligned) */
    memcpy(&b, ALIGNED4(p), sizeof b); /* (the state is aligned for uint32_t) */
    return b;
}

static uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, ALIGNED4(p), sizeof v);
    return v;
}

static void st32(uint8_t *p, uint32_t v) { memcpy(ALIGNED4(p), &v, sizeof v); }

/* The hole at offset h. Valid offsets are multiples of 8; the mask keeps a damaged link
 * (ff_check's business) from becoming a misaligned access, which traps on some cores. */
static uint8_t *hole_at(uint8_t *b, uint32_t h) { return b + (h & ~7u); }

static uint32_t hole_size(uint8_t *b, uint32_t h) { return ld32(hole_at(b, h)); }
static uint32_t hole_next(uint8_t *b, uint32_t h) { return ld32(hole_at(b, h) + 4); }

static void hole_write(uint8_t *b, uint32_t h, uint32_t size, uint32_t next)
{
    st32(hole_at(b, h), size);
    st32(hole_at(b, h) + 4, next);
}

/* 1 if a hole's 8-byte header at offset h lies inside the buffer. The list lives in the
 * arena among the application's objects: a stray write there must not send the walks
 * (and their stores) out of the buffer. */
static int hole_in(const struct ff_state *S, uint32_t h)
{
    return !(h & 7u) && h < S->size && S->size - h >= 8u;
}

/* Make `prev`'s successor `v` (prev == FF_NIL: the list head). */
static void set_link(struct ff_state *S, uint8_t *b, uint32_t prev, uint32_t v)
{
    if (prev == FF_NIL)
        S->head = v;
    else
        st32(hole_at(b, prev) + 4, v);
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
    unsigned char *p = S->base; /* (see ff_base) */
    memcpy(ALIGNED4(p), &base, sizeof base); /* (every field is set here) */
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

/* Take `need` bytes (rounded) out of a hole: at `off`, which must lie in a hole with `need`
 * bytes from it (alloc_at), or with off == FF_NIL at the start of the first hole that large
 * (alloc; FF_NIL is odd, so never a block offset). at == NULL: only whether it would
 * succeed (fits). One walk for the three, which differ only in where the block starts. */
static int take(struct ff_state *S, uint32_t off, uint32_t need, uint32_t *at)
{
    uint8_t *b = ff_base(S);
    uint32_t prev = FF_NIL, h = S->head, bound = walk_bound(S);
    for (uint32_t n = 0; h != FF_NIL && (off == FF_NIL || h <= off); n++) {
        if (n >= bound || !hole_in(S, h))
            return VNV_ERR_CORRUPT;
        uint32_t hs = hole_size(b, h), nx = hole_next(b, h);
        if ((hs & 7u) || hs > S->size - h)
            return VNV_ERR_CORRUPT; /* a damaged hole would hand out bytes past the buffer */
        uint32_t start = off == FF_NIL ? h : off, front = start - h;
        if (front < hs && need <= hs - front) { /* the block fits here */
            if (!at)
                return VNV_OK;
            uint32_t back = hs - front - need, after = nx;
            if (back) { /* the rest behind the block stays a hole */
                hole_write(b, start + need, back, nx);
                after = start + need;
            }
            if (front)
                hole_write(b, h, front, after);
            else
                set_link(S, b, prev, after);
            S->free -= need;
            *at = start;
            return VNV_OK;
        }
        if (off != FF_NIL && front < hs)
            return VNV_ERR_NOMEM; /* the hole holding off ends before off + need */
        prev = h;
        h = nx;
    }
    return VNV_ERR_NOMEM;
}

static int ff_alloc(void *st, uint32_t size, uint32_t *off)
{
    struct ff_state *S = ff_get(st);
    if (!S || !off || size == 0)
        return VNV_ERR_INVAL;
    if (size > S->free)
        return VNV_ERR_NOMEM;
    return take(S, FF_NIL, round8(size), off); /* size <= free <= UINT32_MAX - 7 */
}

static int ff_alloc_at(void *st, uint32_t off, uint32_t size)
{
    struct ff_state *S = ff_get(st);
    uint32_t need, at;
    if (!S || !block_ok(S, off, size, &need))
        return VNV_ERR_INVAL;
    return take(S, off, need, &at);
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
        if (n >= bound || !hole_in(S, h))
            return VNV_ERR_CORRUPT;
        prev = h;
        h = hole_next(b, h);
    }
    if (h != FF_NIL && !hole_in(S, h))
        return VNV_ERR_CORRUPT;
    uint32_t end = off + need;
    /* The block must not overlap a hole (double free, or a wrong size). */
    if (prev != FF_NIL && hole_size(b, prev) > off - prev)
        return VNV_ERR_INVAL;
    if (h != FF_NIL && h < end)
        return VNV_ERR_INVAL;

    /* The new hole [start, start + hs) absorbs the next hole if adjacent, and joins the
     * previous one if that ends at off. */
    uint32_t start = off, hs = need, nx = h;
    if (h != FF_NIL && h == end) {
        hs += hole_size(b, h);
        nx = hole_next(b, h);
    }
    if (prev != FF_NIL && prev + hole_size(b, prev) == off) {
        start = prev;
        hs += hole_size(b, prev);
    } else {
        set_link(S, b, prev, off);
    }
    hole_write(b, start, hs, nx);
    S->free += need;
    return VNV_OK;
}

static int ff_fits(void *st, uint32_t size)
{
    struct ff_state *S = ff_get(st);
    if (!S || size == 0 || size > S->free)
        return 0;
    return take(S, FF_NIL, round8(size), NULL) == VNV_OK;
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
    uint8_t *b = ff_base(S);
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

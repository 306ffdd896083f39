/*
 * nv_place.c - the two NV placement rules over the heap's allocation bitmaps:
 * `vnv_nv_firstfit` (the lowest run of free units: no rounding waste) and `vnv_nv_buddy`
 * (runs rounded up to a power of two and naturally aligned, as the original's buddy
 * allocator places blocks: less fragmentation under mixed sizes, up to 2x rounding).
 * No state, no I/O; every scan is bounded by the number of units.
 */
#include "vnvheap/alloc.h"

static int busy(const uint32_t *a, const uint32_t *b, uint32_t u)
{
    return (int)(((a[u >> 5] | b[u >> 5]) >> (u & 31u)) & 1u);
}

/* Lowest run of `len` free units starting at a multiple of `align`. */
static int scan(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                uint32_t align, uint32_t *at)
{
    if (len == 0 || len > nunits)
        return VNV_ERR_NOSPC;
    uint32_t run = 0, start = 0;
    for (uint32_t u = 0; u < nunits;) {
        if (!(u & 31u) && (a[u >> 5] | b[u >> 5]) == 0xFFFFFFFFu) {
            u += 32u; /* a full word: skip it whole */
            run = 0;
            continue;
        }
        if (!run && (u % align)) {
            u++;
            continue;
        }
        if (busy(a, b, u)) {
            run = 0;
            u++;
            continue;
        }
        if (!run)
            start = u;
        if (++run == len) {
            *at = start;
            return VNV_OK;
        }
        u++;
    }
    return VNV_ERR_NOSPC;
}

static uint32_t ff_round(uint32_t units) { return units; }

static int ff_place(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                    uint32_t *at)
{
    return scan(a, b, nunits, len, 1u, at);
}

static uint32_t bd_round(uint32_t units)
{
    uint32_t p = 1;
    while (p < units && p < (1u << 30))
        p <<= 1;
    return p;
}

static int bd_place(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                    uint32_t *at)
{
    return scan(a, b, nunits, len, bd_round(len), at);
}

const struct vnv_nv_allocator vnv_nv_firstfit = {"nv-firstfit", ff_round, ff_place};
const struct vnv_nv_allocator vnv_nv_buddy = {"nv-buddy", bd_round, bd_place};

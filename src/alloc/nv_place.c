/*
 * nv_place.c - the two NV placement rules over the heap's allocation bitmaps:
 * `vnv_nv_firstfit` (the lowest run of free units: no rounding waste) and `vnv_nv_buddy`
 * (runs rounded up to a power of two and naturally aligned, as the original's buddy
 * allocator places blocks: less fragmentation under mixed sizes, up to 2x rounding).
 * No state, no I/O; every scan is bounded by the number of units.
 */
#include "vnvheap/alloc.h"

/* Count trailing zeros of x != 0. */
static uint32_t ctz32(uint32_t x)
{
#if defined(__GNUC__)
    return (uint32_t)__builtin_ctz(x);
#else
    uint32_t n = 0;
    while (!(x & 1u) && n < 31u) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/* Busy bits (allocated in either map) of units u, u + 1, ... up to the end of u's word,
 * from bit 0 (the bits past that word are 0). */
static uint32_t busy_bits(const uint32_t *a, const uint32_t *b, uint32_t u)
{
    return (a[u >> 5] | b[u >> 5]) >> (u & 31u);
}

/* Lowest run of `len` free units starting at a multiple of `align` (a power of two), a
 * word at a time: the first free unit and the end of a free run are found with
 * count-trailing-zeros. Every step moves `u` forward, so the scan ends within
 * (units + words) steps. */
static int scan(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                uint32_t align, uint32_t *at)
{
    if (len == 0 || len > nunits)
        return VNV_ERR_NOSPC;
    uint32_t u = 0;
    for (uint32_t guard = 0; u < nunits && nunits - u >= len && guard <= 2u * nunits; guard++) {
        uint32_t left = 32u - (u & 31u), free = ~busy_bits(a, b, u);
        if (left < 32u)
            free &= (1u << left) - 1u;
        if (!free) { /* nothing free in the rest of this word */
            u += left;
            continue;
        }
        u += ctz32(free); /* the first free unit */
        if (u & (align - 1u)) { /* (a mask, not a division: this runs in every alloc) */
            u = (u | (align - 1u)) + 1u;
            continue;
        }
        if (u >= nunits || nunits - u < len)
            break;
        uint32_t run = 0; /* free units from u (v < u + len <= nunits while run < len) */
        for (uint32_t v = u; run < len;) {
            uint32_t busy = busy_bits(a, b, v), n = busy ? ctz32(busy) : 32u - (v & 31u);
            run += n;
            v += n;
            if (busy)
                break; /* the unit at v is busy */
        }
        if (run >= len) {
            *at = u;
            return VNV_OK;
        }
        u += run + 1u; /* past the busy unit that ended the run */
    }
    return VNV_ERR_NOSPC;
}

static uint32_t ff_round(uint32_t units) { return units; }

static int ff_place(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                    uint32_t *at)
{
    return scan(a, b, nunits, len, 1u, at);
}

#if !VNV_MINIMAL /* one NV allocator per build in the minimal profile */
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

const struct vnv_nv_allocator vnv_nv_buddy = {"nv-buddy", bd_round, bd_place};
#endif

const struct vnv_nv_allocator vnv_nv_firstfit = {"nv-firstfit", ff_round, ff_place};

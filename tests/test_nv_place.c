/* test_nv_place.c - the NV placement rules (vnv_nv_firstfit, vnv_nv_buddy): on random
 * bitmaps of every density and on hand-made edge cases, each finds exactly the run a plain
 * unit-by-unit search finds (the lowest run of free units, aligned to the rounded length
 * for the buddy rule), or NOSPC when there is none. */
#include <stdint.h>
#include <string.h>

#include "fixture.h"
#include "support/rng.h"
#include "vnvheap/alloc.h"
#include "vtest.h"

#define MAX_UNITS 700u
#define WORDS ((MAX_UNITS + 31u) / 32u)

static int busy(const uint32_t *a, const uint32_t *b, uint32_t u)
{
    return (int)(((a[u / 32u] | b[u / 32u]) >> (u % 32u)) & 1u);
}

/* The reference: try every aligned start, lowest first. */
static int ref_place(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                     uint32_t align, uint32_t *at)
{
    for (uint32_t s = 0; len && s + len <= nunits; s += align) {
        uint32_t k = 0;
        while (k < len && !busy(a, b, s + k))
            k++;
        if (k == len) {
            *at = s;
            return VNV_OK;
        }
    }
    return VNV_ERR_NOSPC;
}

static void compare(const struct vnv_nv_allocator *nv, const uint32_t *a, const uint32_t *b,
                    uint32_t nunits, uint32_t units)
{
    uint32_t len = nv->round(units), want = 0, got = 0;
    CHECK(len >= units);
    int we = ref_place(a, b, nunits, len, nv == &vnv_nv_buddy ? len : 1u, &want);
    int ge = nv->place(a, b, nunits, len, &got);
    CHECK_EQ(ge, we);
    if (ge == VNV_OK && we == VNV_OK)
        CHECK_EQ(got, want);
}

static void test_random_maps(void)
{
    static uint32_t a[WORDS], b[WORDS];
    struct rng r;
    rng_seed(&r, 77);
    for (int round = 0; round < 3000; round++) {
        uint32_t nunits = 1u + rng_below(&r, MAX_UNITS);
        uint32_t density = rng_below(&r, 101); /* percent of busy units */
        memset(a, 0, sizeof a);
        memset(b, 0, sizeof b);
        for (uint32_t u = 0; u < nunits; u++) {
            if (rng_below(&r, 100) < density)
                (rng_below(&r, 2) ? a : b)[u / 32u] |= 1u << (u % 32u);
        }
        if (rng_below(&r, 4) == 0) { /* long busy and free stretches */
            uint32_t from = rng_below(&r, nunits), n = rng_below(&r, nunits - from + 1u);
            for (uint32_t u = from; u < from + n; u++) {
                a[u / 32u] &= ~(1u << (u % 32u));
                b[u / 32u] &= ~(1u << (u % 32u));
            }
        }
        uint32_t units = 1u + rng_below(&r, rng_below(&r, 2) ? 8u : 80u);
        compare(&vnv_nv_firstfit, a, b, nunits, units);
        compare(&vnv_nv_buddy, a, b, nunits, units);
    }
}

static void test_edges(void)
{
    static uint32_t a[WORDS], b[WORDS];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    uint32_t at = 99;
    /* empty map: the first unit; a run as long as the map; one unit too long */
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 64, 64, &at), VNV_OK);
    CHECK_EQ(at, 0u);
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 64, 65, &at), VNV_ERR_NOSPC);
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 64, 0, &at), VNV_ERR_NOSPC);
    /* a free run across a word boundary, found whole */
    memset(a, 0xFF, sizeof a);
    a[0] = 0x7FFFFFFFu; /* unit 31 free */
    a[1] = 0xFFFFFFFCu; /* units 32, 33 free */
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 96, 3, &at), VNV_OK);
    CHECK_EQ(at, 31u);
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 96, 4, &at), VNV_ERR_NOSPC);
    CHECK_EQ(vnv_nv_buddy.place(a, b, 96, 2, &at), VNV_OK); /* aligned: 32, not 31 */
    CHECK_EQ(at, 32u);
    /* the map's bits past the last unit never extend a run */
    memset(a, 0, sizeof a);
    a[0] = 0xFFFFFFFFu;
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 40, 8, &at), VNV_OK);
    CHECK_EQ(at, 32u);
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 40, 9, &at), VNV_ERR_NOSPC);
    /* busy in the other map only */
    memset(a, 0, sizeof a);
    b[0] = 0x0000000Fu;
    CHECK_EQ(vnv_nv_firstfit.place(a, b, 64, 1, &at), VNV_OK);
    CHECK_EQ(at, 4u);
    CHECK_EQ(vnv_nv_buddy.place(a, b, 64, 4, &at), VNV_OK);
    CHECK_EQ(at, 4u);
    CHECK_EQ(vnv_nv_buddy.place(a, b, 64, 8, &at), VNV_OK);
    CHECK_EQ(at, 8u);
}

/* A placement module is replaceable code: the heap checks what it answers. */
static uint32_t lie_at;
static int lying_place(const uint32_t *a, const uint32_t *b, uint32_t nunits, uint32_t len,
                       uint32_t *at)
{
    (void)a;
    (void)b;
    (void)nunits;
    (void)len;
    *at = lie_at;
    return VNV_OK;
}
static uint32_t short_round(uint32_t units) { return units - 1u; }

static void test_heap_checks_the_module(void)
{
    struct fixture f;
    static struct vnv_nv_allocator liar;
    liar = vnv_nv_firstfit;
    liar.place = lying_place;
    fx_init(&f, 16384, 2048, 512);
    f.cfg.nv_allocator = &liar;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    vnv_obj_t o, p;
    uint8_t v[40] = {1, 2, 3};
    lie_at = 0;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &o), VNV_OK); /* unit 0 was free: true */
    struct vnv_stats before, after;
    CHECK_EQ(vnv_stats(&f.heap, &before), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &p), VNV_ERR_CORRUPT); /* unit 0 is used */
    lie_at = 0xFFFFFFF0u;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &p), VNV_ERR_CORRUPT); /* past the units */
    liar.place = vnv_nv_firstfit.place;
    liar.round = short_round;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &p), VNV_ERR_CORRUPT); /* rounds down */
    CHECK_EQ(vnv_stats(&f.heap, &after), VNV_OK);
    CHECK_EQ(after.nv_free, before.nv_free); /* nothing allocated */
    CHECK_EQ(after.resident_objects, before.resident_objects);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    uint8_t got[40];
    CHECK_EQ(vnv_read(&f.heap, o, 0, got, sizeof got), VNV_OK);
    CHECK(memcmp(got, v, sizeof v) == 0);
    fx_free(&f);
}

int main(void)
{
    RUN(test_random_maps);
    RUN(test_edges);
    RUN(test_heap_checks_the_module);
    return vtest_summary();
}

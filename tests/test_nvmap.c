/*
 * test_nvmap.c - the NV map's home scans (store/nvmap.c) against a unit-by-unit reference,
 * over random bitmaps: nvmap_extent and nvmap_holds read a word of units at a time, and a
 * home's run may start, stop or cross a word anywhere. White-box (src/internal.h), like
 * test_check.c.
 */
#include "../src/internal.h"
#include "fixture.h"
#include "rng.h"
#include "vtest.h"

/* The definition, unit by unit: the home at `unit` goes on while units are used and are no
 * other home's start. */
static uint32_t ref_extent(const struct vnv_heap *h, uint32_t unit)
{
    const uint32_t *a = nvmap(h, MAP_ALLOC), *s = nvmap(h, MAP_START);
    uint32_t u = unit + 1u;
    while (u < h->units && bit_get(a, u) && !bit_get(s, u))
        u++;
    return u - unit;
}

/* Fill MAP_ALLOC and MAP_START at random (runs of set bits, as homes make), no bit past the
 * last unit. */
static void random_maps(struct vnv_heap *h, struct rng *r)
{
    uint32_t *a = nvmap(h, MAP_ALLOC), *s = nvmap(h, MAP_START);
    uint32_t kind = rng_below(r, 4);
    for (uint32_t u = 0; u < h->units; u++) {
        int used = kind == 0 ? (int)rng_below(r, 2)             /* noise */
                   : kind == 1 ? rng_below(r, 64) != 0           /* long runs */
                   : kind == 2 ? 1                                /* all used */
                               : u % 97u < 90u;                   /* regular gaps */
        int start = used && rng_below(r, kind == 0 ? 3 : 150) == 0;
        if (used)
            bit_set(a, u);
        else
            bit_clr(a, u);
        if (start)
            bit_set(s, u);
        else
            bit_clr(s, u);
    }
}

static void test_extent_and_holds_match_the_definition(void)
{
    struct fixture f;
    /* 16-byte units: a 1 KiB object's home spans 129 units, five words of the map */
    fx_init(&f, 64u * 1024u, 4096, 1536);
    f.cfg.nv_unit = 16;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    struct vnv_heap *h = &f.heap;
    REQUIRE(h->units > 3000u && h->unit == 16u);
    struct rng r;
    rng_seed(&r, 77);
    unsigned checked = 0, long_homes = 0;
    for (int round = 0; round < 40; round++) {
        random_maps(h, &r);
        for (uint32_t u = 0; u < h->units; u += 1u + rng_below(&r, 7)) {
            uint32_t want = ref_extent(h, u);
            CHECK_EQ(nvmap_extent(h, u), want);
            long_homes += want > 64u;
            uint32_t size = 1u + rng_below(&r, 2000);
            uint32_t need = (nvmap_need(h, size) + h->unit - 1u) / h->unit;
            CHECK_EQ(nvmap_holds(h, u, size), want >= need);
            checked++;
        }
    }
    /* a unit past the last one (a forged handle's): the home is that unit alone, and no
     * scan reads past the map */
    for (uint32_t u = h->units; u <= h->unit_mask; u += 1u + (h->unit_mask - h->units) / 5u) {
        CHECK_EQ(nvmap_extent(h, u), 1u);
        CHECK_EQ(nvmap_holds(h, u, 200), 0);
    }
    CHECK(checked > 10000u);
    CHECK(long_homes > 100u);
    vnv_abandon(h); /* (its maps are noise now) */
    fx_free(&f);
}

int main(void)
{
    RUN(test_extent_and_holds_match_the_definition);
    return vtest_summary();
}

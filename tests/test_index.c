/*
 * test_index.c - the resident index's walk (cache/index.c): idx_next_used reads four slots
 * at a time, so it is checked against the slot-by-slot definition over random tables and
 * from every starting slot. White-box (src/internal.h), like test_nvmap.c.
 */
#include "../src/internal.h"
#include "fixture.h"
#include "rng.h"
#include "vtest.h"

/* The definition: the first used slot at or after `slot`, or the slot count. */
static uint32_t ref_next_used(const struct vnv_heap *h, uint32_t slot)
{
    uint32_t n = h->index_mask + 1u;
    while (slot < n && !h->index[slot])
        slot++;
    return slot;
}

static void test_next_used_matches_the_definition(void)
{
    struct fixture f;
    fx_init(&f, 64u * 1024u, 8192, 1536);
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    struct vnv_heap *h = &f.heap;
    uint32_t n = h->index_mask + 1u;
    REQUIRE(n >= 64u && n % 4u == 0u);
    struct rng r;
    rng_seed(&r, 41);
    unsigned checked = 0, skipped_fours = 0;
    for (int round = 0; round < 200; round++) {
        /* sparse (most fours empty), dense, or single entries at the ends of a four */
        uint32_t kind = rng_below(&r, 3);
        for (uint32_t s = 0; s < n; s++)
            h->index[s] = (uint16_t)(kind == 0   ? (rng_below(&r, 16) == 0 ? 1u + s : 0u)
                                     : kind == 1 ? (rng_below(&r, 2) ? 7u : 0u)
                                                 : (s == rng_below(&r, n) ? 3u : 0u));
        for (uint32_t s = 0; s <= n; s++) {
            uint32_t want = ref_next_used(h, s);
            CHECK_EQ(idx_next_used(h, s), want);
            skipped_fours += want - s >= 8u;
            checked++;
        }
    }
    /* the last slot alone, and an empty table */
    memset(h->index, 0, n * 2u);
    CHECK_EQ(idx_next_used(h, 0), n);
    h->index[n - 1u] = 9;
    CHECK_EQ(idx_next_used(h, 0), n - 1u);
    CHECK_EQ(idx_next_used(h, n - 1u), n - 1u);
    CHECK_EQ(idx_next_used(h, n), n);
    CHECK(checked > 10000u);
    CHECK(skipped_fours > 1000u);
    vnv_abandon(h); /* (its index is noise now) */
    fx_free(&f);
}

int main(void)
{
    RUN(test_next_used_matches_the_definition);
    return vtest_summary();
}

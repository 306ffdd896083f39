/*
 * test_check.c - vnv_check finds damage: each invariant it promises to check is broken in
 * turn - in the RAM buffer, the control block and on storage - and must be reported as
 * VNV_ERR_CORRUPT; once the bytes are put back, the heap passes again. White-box (it breaks
 * the layouts of src/internal.h on purpose), like Zephyr's sys_heap validate tests.
 */
#include "../src/internal.h"
#include "fixture.h"
#include "vtest.h"

#include <stdlib.h>

#define NV (64u * 1024u)
#define RAM 4096u
#define DIRTY 1536u

static struct fixture f;
static struct vnv_heap *h;
static unsigned caught, damages;

/* Overwrite n bytes at p with `bad`; vnv_check must refuse; put them back; it must pass. */
static void expect_caught(const char *what, void *p, size_t n, const void *bad)
{
    uint8_t keep[32];
    REQUIRE(n <= sizeof keep);
    memcpy(keep, p, n);
    memcpy(p, bad, n);
    int err = vnv_check(h);
    damages++;
    caught += err == VNV_ERR_CORRUPT;
    if (err != VNV_ERR_CORRUPT)
        fprintf(stderr, "  not caught: %s (vnv_check: %d)\n", what, err);
    CHECK_EQ(err, VNV_ERR_CORRUPT);
    memcpy(p, keep, n);
    CHECK_EQ(vnv_check(h), VNV_OK);
}

static void expect_u32(const char *what, uint32_t *p, uint32_t bad)
{
    expect_caught(what, p, sizeof bad, &bad);
}

static void expect_u16(const char *what, uint16_t *p, uint16_t bad)
{
    expect_caught(what, p, sizeof bad, &bad);
}

static void expect_u64(const char *what, uint64_t *p, uint64_t bad)
{
    expect_caught(what, p, sizeof bad, &bad);
}

static struct meta *meta_of(vnv_obj_t o)
{
    struct meta *m = idx_lookup(h, id_unit(h, o.id));
    if (!m) {
        fprintf(stderr, "not resident: the setup went wrong\n");
        exit(1);
    }
    return m;
}

static void test_every_invariant_is_checked(void)
{
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    h = &f.heap;
    uint8_t v[128];
    for (unsigned i = 0; i < sizeof v; i++)
        v[i] = (uint8_t)(i * 7u + 1u);
    vnv_obj_t clean, dirty, part, away, spare;
    CHECK_EQ(vnv_alloc(h, 32, v, &clean), VNV_OK);
    CHECK_EQ(vnv_flush(h, clean), VNV_OK); /* resident, clean, homed */
    CHECK_EQ(vnv_alloc(h, 24, v, &dirty), VNV_OK); /* resident, dirty, never homed */
    CHECK_EQ(vnv_alloc_blocks(h, 100, 16, v, &part), VNV_OK); /* 7 blocks */
    CHECK_EQ(vnv_flush(h, part), VNV_OK);
    CHECK_EQ(vnv_write(h, part, 20, v, 4), VNV_OK); /* block 1 dirty */
    CHECK_EQ(vnv_alloc(h, 40, v, &away), VNV_OK);
    CHECK_EQ(vnv_unload(h, away), VNV_OK); /* on storage only */
    CHECK_EQ(vnv_alloc(h, 16, v, &spare), VNV_OK);
    CHECK_EQ(vnv_set_root(h, clean), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(h), VNV_OK);
    CHECK_EQ(vnv_check(h), VNV_OK);

    /* the RAM buffer's canary */
    expect_u32("canary", (uint32_t *)(void *)h->buf, 0);

    /* a resident object's meta */
    struct meta *mc = meta_of(clean), *md = meta_of(dirty), *mp = meta_of(part);
    expect_u16("meta.self", &mc->self, (uint16_t)(mc->self + 1u));
    expect_u64("meta.id: a tag never issued", &mc->id,
               (h->alloc_count + 1u) << h->unit_bits | id_unit(h, mc->id));
    expect_u64("meta.id: tag 0 outside a group", &mc->id, id_unit(h, mc->id));
    expect_u32("meta.word: a writer and readers", &mc->word, mc->word | ST_WRITER | 1u);
    expect_u32("meta.word: another size", &mc->word, mc->word + (8u << ST_BITS));
    expect_u32("meta.word: a group bit outside a group", &mc->word, mc->word | ST_GNEW);
    expect_u32("meta.word: never homed yet clean", &md->word, md->word & ~ST_DIRTY);
    expect_u32("meta.word: homed without a home", &md->word, md->word | ST_HOMED);
    expect_u32("meta.word: block object, dirty flag without bits", &mp->word,
               mp->word & ~ST_DIRTY);
    expect_u16("meta.pre outside a group", &mc->pre, PRE_LOG);
    /* its data and bitmap */
    uint8_t x = (uint8_t)(meta_data(mc)[5] ^ 0x10u);
    expect_caught("clean data differs from its home", meta_data(mc) + 5, 1, &x);
    uint8_t *bm = meta_bitmap(mp);
    x = (uint8_t)(bm[0] | 0x1u); /* block 0 marked dirty: its bytes still equal home, */
    uint32_t word = mp->word;    /* but the budget counter does not know the block */
    expect_caught("a dirty block the budget does not count", bm, 1, &x);
    CHECK_EQ(mp->word, word);
    x = (uint8_t)(bm[0] | 0x80u); /* bit 7: past the 7 blocks */
    expect_caught("a bitmap bit past the last block", bm, 1, &x);

    /* the index */
    uint32_t slot = (uint32_t)idx_find(h, id_unit(h, clean.id));
    expect_u16("index entry past the arena", &h->index[slot], (uint16_t)(h->arena_size / 8u + 1u));
    expect_u16("index entry to another object's block", &h->index[slot],
               h->index[idx_find(h, id_unit(h, dirty.id))]);

    /* the control block's counters */
    expect_u32("used", &h->used, h->used + 8u);
    expect_u32("dirty_data", &h->dirty_data, h->dirty_data - 1u);
    expect_u32("index_used", &h->index_used, h->index_used + 1u);
    expect_u16("an undo log outside a group", &h->undo_count, 1);
    expect_u32("map checksum sum", &h->map_sa, h->map_sa ^ 1u);
    uint64_t kept = h->hdr_id;
    if (kept)
        expect_u64("kept header of another tag", &h->hdr_id, kept ^ (1ull << 40));

    /* the NV map */
    uint32_t u = id_unit(h, away.id);
    uint32_t *start = &nvmap(h, MAP_START)[u >> 5];
    expect_u32("START bit of a live home cleared", start, *start & ~(1u << (u & 31u)));
    uint32_t free_u = h->units - 1u; /* the last unit: never used by five small objects */
    REQUIRE(!bit_get(nvmap(h, MAP_ALLOC), free_u));
    uint32_t *fresh = &nvmap(h, MAP_FRESH)[free_u >> 5];
    expect_u32("FRESH without START", fresh, *fresh | 1u << (free_u & 31u));

    /* storage: a home's header and a clean object's data */
    uint8_t *home = f.nv + unit_off(h, u);
    x = (uint8_t)(home[1] ^ 0x01u);
    expect_caught("home header of a non-resident object", home, 1, &x);
    uint8_t tag0[VNV_OBJ_HEADER_SIZE]; /* intact (its CRC holds) but naming tag 0 */
    objhdr_encode(h, tag0, id_unit(h, away.id), get_le32(home) & 0x1FFFFFu, 0);
    expect_caught("home header naming tag 0", home, sizeof tag0, tag0);
    uint32_t uc = id_unit(h, clean.id);
    uint8_t *cd = f.nv + slot_off(unit_off(h, uc), 32u, (uint32_t)bit_get(nvmap(h, MAP_CUR), uc));
    x = (uint8_t)(cd[3] ^ 0x40u);
    expect_caught("home data of a clean resident object", cd + 3, 1, &x);

    fprintf(stderr, "  %u of %u damages caught\n", caught, damages);
    CHECK_EQ(vnv_check(h), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK); /* nothing was left damaged */
    h = &f.heap;
    CHECK_EQ(vnv_check(h), VNV_OK);
    fx_free(&f);
}

/* The group's member notes hold units up to 65 535 (u16): a unit above that, like a sixth
 * member, switches end and abort to the index walk, never truncating the unit (a note for
 * unit 70 000 would be one for 4 464). A marked object the notes miss is caught. */
static void test_member_notes(void)
{
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    h = &f.heap;
    CHECK_EQ(vnv_atomic_begin(h), VNV_OK);
    CHECK_EQ(h->group_noted, 0u);
    group_note(h, 3);
    CHECK_EQ(h->group_noted, 1u);
    CHECK_EQ(h->group_units[0], 3u);
    group_note(h, 70000u);
    CHECK_EQ(h->group_noted, GROUP_WALK);
    group_note(h, 4);
    CHECK_EQ(h->group_noted, GROUP_WALK); /* stays: the walk finds every member */
    CHECK_EQ(vnv_atomic_end(h), VNV_OK);
    /* a member the notes miss: vnv_check refuses it */
    uint32_t v = 5;
    vnv_obj_t o;
    CHECK_EQ(vnv_alloc(h, 4, &v, &o), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(h), VNV_OK);
    CHECK_EQ(vnv_write(h, o, 0, &v, 4), VNV_OK); /* noted */
    CHECK_EQ(vnv_check(h), VNV_OK);
    uint16_t kept = h->group_units[0];
    h->group_units[0] = (uint16_t)(kept + 1u);
    CHECK_EQ(vnv_check(h), VNV_ERR_CORRUPT);
    h->group_units[0] = kept;
    CHECK_EQ(vnv_atomic_end(h), VNV_OK);
    CHECK_EQ(vnv_check(h), VNV_OK);
    fx_free(&f);
}

int main(void)
{
    RUN(test_every_invariant_is_checked);
    RUN(test_member_notes);
    return vtest_summary();
}

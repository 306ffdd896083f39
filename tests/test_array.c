#include <stdio.h>
/* test_array.c - vnv_array: exact budget numbers of partial dirtiness, flush and checkpoint
 * traffic on the emulated FRAM, checkpoint + wipe + resume and restart against a shadow,
 * and refused inputs. */
#include <stdlib.h>

#include "fixture.h"
#include "rng.h"
#include "vnvheap/array.h"
#include "vnvheap/list.h"
#include "vtest.h"

/* Storage writes for one run of n dirty bytes: one, or one per VNV_IO_CHUNK bytes. */
#define RUN_TX(n) (VNV_IO_CHUNK ? ((n) + VNV_IO_CHUNK - 1) / VNV_IO_CHUNK : 1)

#define HDR VNV_CKPT_HEADER_SIZE
#define REC VNV_CKPT_RECORD_SIZE

#ifdef VNV_TEST_CROSS
#define RANDOM_OPS 3000
#else
#define RANDOM_OPS 40000
#endif

static struct vnv_stats stats(struct fixture *f)
{
    struct vnv_stats s;
    memset(&s, 0, sizeof s);
    (void)vnv_stats(&f->heap, &s);
    s.nv_free += s.nv_quarantined; /* leak checks: free once the next checkpoint is done */
    return s;
}

static uint32_t bitmap_of(uint32_t len, uint32_t es, uint32_t bs)
{
    uint32_t size = ((len * es + 7u) & ~7u) + VNV_ARRAY_TRAILER_SIZE;
    return ((size + bs - 1u) / bs + 7u) / 8u;
}

/* A new array, flushed clean and resident: it costs its record and bitmap only. */
static vnv_obj_t clean_array(struct fixture *f, uint32_t len, uint32_t es, uint32_t bs)
{
    vnv_obj_t a = VNV_NULL;
    uint32_t before = stats(f).checkpoint_bytes;
    CHECK_EQ(vnv_array_create(&f->heap, len, es, bs, NULL, &a), VNV_OK);
    CHECK_EQ(vnv_flush(&f->heap, a), VNV_OK);
    CHECK(vnv_is_resident(&f->heap, a));
    CHECK(!vnv_is_dirty(&f->heap, a));
    CHECK_EQ(stats(f).checkpoint_bytes, before + REC + bitmap_of(len, es, bs));
    return a;
}

static void test_create_attach_lifecycle(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 8192, 2048) == VNV_OK);
    uint32_t init[100];
    for (uint32_t i = 0; i < 100; i++)
        init[i] = i * 7u + 1u;
    vnv_obj_t a;
    CHECK_EQ(vnv_array_create(&f.heap, 100, 4, 16, init, &a), VNV_OK);
    /* fresh and resident: all 26 blocks (400 data + 16 trailer bytes) dirty, 4 B bitmap */
    CHECK_EQ(stats(&f).dirty_bytes, 416);
    CHECK_EQ(stats(&f).checkpoint_bytes, HDR + REC + 4 + 416);
    uint32_t len = 0, es = 0, bs = 0;
    CHECK_EQ(vnv_array_attach(&f.heap, a, &len, &es), VNV_OK);
    CHECK_EQ(len, 100);
    CHECK_EQ(es, 4);
    CHECK_EQ(vnv_array_block_size(&f.heap, a, &bs), VNV_OK);
    CHECK_EQ(bs, 16);
    CHECK_EQ(vnv_array_length(&f.heap, a, &len), VNV_OK);
    CHECK_EQ(vnv_array_elem_size(&f.heap, a, &es), VNV_OK);
    CHECK_EQ(len, 100);
    CHECK_EQ(es, 4);
    uint32_t out[100];
    CHECK_EQ(vnv_array_get_range(&f.heap, a, 0, 100, out), VNV_OK);
    CHECK(memcmp(out, init, sizeof init) == 0);
    const uint32_t *view;
    CHECK_EQ(vnv_array_view(&f.heap, a, (const void **)&view, &len), VNV_OK);
    CHECK_EQ(len, 100);
    CHECK_EQ(view[99], init[99]);
    CHECK_EQ(((uintptr_t)view) % 8, 0);
    CHECK_EQ(vnv_array_set(&f.heap, a, 5, &init[0]), VNV_ERR_BUSY); /* reader holds it */
    CHECK_EQ(vnv_array_release(&f.heap, a), VNV_OK);
    /* found again after a restart through the root */
    CHECK_EQ(vnv_set_root(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    vnv_obj_t r;
    CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
    CHECK_EQ(vnv_array_attach(&f.heap, r, &len, &es), VNV_OK);
    CHECK_EQ(len, 100);
    CHECK_EQ(vnv_array_get(&f.heap, r, 42, &out[0]), VNV_OK);
    CHECK_EQ(out[0], init[42]);
    CHECK_EQ(vnv_array_destroy(&f.heap, r), VNV_OK);
    CHECK_EQ(vnv_array_attach(&f.heap, r, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);

    /* larger than the dirty budget: written home zeroed, then loaded and initialised block
     * by block with flushes in between */
    uint8_t big[3000];
    for (uint32_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13u);
    CHECK_EQ(vnv_array_create(&f.heap, sizeof big, 1, 64, big, &a), VNV_OK);
    uint8_t back[3000];
    CHECK_EQ(vnv_array_get_range(&f.heap, a, 0, sizeof back, back), VNV_OK);
    CHECK(memcmp(back, big, sizeof big) == 0);
    CHECK(stats(&f).peak_checkpoint_bytes <= 2048);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    /* the whole-array writer cannot fit the budget: refused (after flushing the array's own
     * dirty blocks, which the heap cannot do while the writer pin is held), nothing marked */
    void *w;
    CHECK_EQ(vnv_array_write_all(&f.heap, a, &w), VNV_ERR_BUDGET);
    CHECK_EQ(stats(&f).dirty_bytes, 0);
    CHECK(!vnv_is_dirty(&f.heap, a));
    CHECK_EQ(vnv_array_set(&f.heap, a, 2999, &big[0]), VNV_OK); /* one block is fine */
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

static void test_budget_exact(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 8192, 2048) == VNV_OK);
    /* 256 x 4 B in 32 B blocks: 1024 data bytes (blocks 0..31) + a 16 B trailer in block 32:
     * 33 blocks, 5 bitmap bytes; the only resident object */
    const uint32_t base = HDR + REC + 5;
    vnv_obj_t a = clean_array(&f, 256, 4, 32);
    CHECK_EQ(stats(&f).dirty_bytes, 0);
    CHECK_EQ(stats(&f).checkpoint_bytes, base);
    uint32_t v = 0xA5A5A5A5u;

    /* one element: exactly its block */
    CHECK_EQ(vnv_array_set(&f.heap, a, 10, &v), VNV_OK); /* bytes 40..44: block 1 */
    CHECK_EQ(stats(&f).dirty_bytes, 32);
    CHECK_EQ(stats(&f).checkpoint_bytes, base + 32);
    /* repeated writes to the same block are charged once */
    for (uint32_t i = 8; i < 16; i++)
        CHECK_EQ(vnv_array_set(&f.heap, a, i, &v), VNV_OK);
    CHECK_EQ(vnv_array_set(&f.heap, a, 10, &v), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 32);
    CHECK_EQ(stats(&f).checkpoint_bytes, base + 32);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK_EQ(stats(&f).checkpoint_bytes, base);

    /* a range straddling a block boundary: both blocks (bytes 28..36: blocks 0 and 1) */
    uint32_t two[2] = {1, 2};
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 7, 2, two), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 64);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    /* starting mid-block and one block long: 48..80 touches blocks 1 and 2 (the original
     * marked only block 1) */
    uint32_t eight[8] = {0};
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 12, 8, eight), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 64);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    /* an aligned range: elements 8..15 = bytes 32..64 = block 1 only */
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 8, 8, eight), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 32);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    /* three blocks: bytes 24..72 */
    uint32_t twelve[12] = {0};
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 6, 12, twelve), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 96);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    /* the last element: block 31, not the trailer's block 32 */
    CHECK_EQ(vnv_array_set(&f.heap, a, 255, &v), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 32);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);

    /* writer view of a range: marks exactly that range, points at its first element */
    uint32_t *wp;
    const uint32_t *rp;
    CHECK_EQ(vnv_array_write(&f.heap, a, 100, 16, (void **)&wp), VNV_OK); /* 400..464 */
    CHECK_EQ(stats(&f).dirty_bytes, 96);                                  /* blocks 12..14 */
    for (int i = 0; i < 16; i++)
        wp[i] = 1000u + (uint32_t)i;
    CHECK_EQ(vnv_array_release(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_array_view(&f.heap, a, (const void **)&rp, NULL), VNV_OK);
    CHECK_EQ(rp[100], 1000);
    CHECK_EQ(rp[115], 1015);
    CHECK_EQ(vnv_array_release(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);

    /* whole-array writer: every element block (32 x 32), not the trailer's block */
    CHECK_EQ(vnv_array_write_all(&f.heap, a, (void **)&wp), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 1024);
    CHECK_EQ(stats(&f).checkpoint_bytes, base + 1024);
    wp[0] = 77;
    CHECK_EQ(vnv_array_release(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_array_get(&f.heap, a, 0, &v), VNV_OK);
    CHECK_EQ(v, 77);

    /* elements that do not divide the block: 12 B in 16 B blocks, element 1 = bytes 12..24
     * spans blocks 0 and 1; element 4 = 48..60 sits in block 3 alone */
    vnv_obj_t b = clean_array(&f, 40, 12, 16); /* 480 + 16 B = 31 blocks, 4 bitmap bytes */
    uint8_t e12[12];
    memset(e12, 0x3C, sizeof e12);
    uint32_t d0 = stats(&f).dirty_bytes;
    CHECK_EQ(vnv_array_set(&f.heap, b, 1, e12), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, d0 + 32);
    CHECK_EQ(vnv_flush(&f.heap, b), VNV_OK);
    CHECK_EQ(vnv_array_set(&f.heap, b, 4, e12), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, d0 + 16);
    CHECK_EQ(vnv_flush(&f.heap, b), VNV_OK);

    /* a short last block: 10 x 4 B + trailer = 56 B = blocks 0 (32) and 1 (24 B) */
    vnv_obj_t c = clean_array(&f, 10, 4, 32);
    d0 = stats(&f).dirty_bytes;
    CHECK_EQ(vnv_array_set(&f.heap, c, 9, &v), VNV_OK); /* bytes 36..40: block 1, 24 B */
    CHECK_EQ(stats(&f).dirty_bytes, d0 + 24);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* Flush traffic: one element of a large array -> one storage write of one block. */
static void test_flush_writes_dirty_blocks_only(void)
{
    if (VNV_DATA_CRC) { /* exact traffic without the checksum: test_data_crc covers it */
        printf("  (skipped: VNV_DATA_CRC rewrites and rereads whole slots)\n");
        return;
    }
    struct fixture f;
    REQUIRE(fx_format(&f, 256u * 1024u, 40u * 1024u, 4096) == VNV_OK);
    vnv_obj_t a;
    /* 4096 x 4 B = 16 KiB in 64 B blocks: 257 blocks; more than the budget, so it is
     * written home zeroed and loaded again for the trailer */
    CHECK_EQ(vnv_array_create(&f.heap, 4096, 4, 64, NULL, &a), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK(vnv_is_resident(&f.heap, a));
    uint32_t v = 0xDEADBEEFu;
    CHECK_EQ(vnv_array_set(&f.heap, a, 1000, &v), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 64);
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK_EQ(f.emu.write_calls, RUN_TX(64)); /* one write per run (split if VNV_IO_CHUNK) */
    CHECK_EQ(f.emu.write_bytes, 64);
    CHECK_EQ(f.emu.read_calls, 0);
    /* two blocks far apart: two runs, two writes; two adjacent blocks: one write */
    CHECK_EQ(vnv_array_set(&f.heap, a, 0, &v), VNV_OK);
    CHECK_EQ(vnv_array_set(&f.heap, a, 4095, &v), VNV_OK);
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK_EQ(f.emu.write_calls, 2 * RUN_TX(64));
    CHECK_EQ(f.emu.write_bytes, 128);
    CHECK_EQ(vnv_array_set(&f.heap, a, 15, &v), VNV_OK); /* block 0 */
    CHECK_EQ(vnv_array_set(&f.heap, a, 16, &v), VNV_OK); /* block 1 */
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK_EQ(f.emu.write_calls, RUN_TX(128));
    CHECK_EQ(f.emu.write_bytes, 128);
    /* the values reached home: drop the RAM copy and read back */
    CHECK_EQ(vnv_unload(&f.heap, a), VNV_OK);
    uint32_t got[3];
    CHECK_EQ(vnv_array_get(&f.heap, a, 1000, &got[0]), VNV_OK);
    CHECK_EQ(vnv_array_get(&f.heap, a, 4095, &got[1]), VNV_OK);
    CHECK_EQ(vnv_array_get(&f.heap, a, 1, &got[2]), VNV_OK);
    CHECK_EQ(got[0], v);
    CHECK_EQ(got[1], v);
    CHECK_EQ(got[2], 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A checkpoint writes the record, the bitmap and the dirty blocks: exactly what the budget
 * says, and restores them at the right offsets. */
static void test_checkpoint_writes_dirty_blocks_only(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 256u * 1024u, 40u * 1024u, 4096) == VNV_OK);
    vnv_obj_t a;
    CHECK_EQ(vnv_array_create(&f.heap, 4096, 4, 64, NULL, &a), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    uint32_t v = 0x01020304u;
    CHECK_EQ(vnv_array_set(&f.heap, a, 3, &v), VNV_OK);     /* block 0 */
    CHECK_EQ(vnv_array_set(&f.heap, a, 2000, &v), VNV_OK);  /* block 125 */
    CHECK_EQ(vnv_array_set(&f.heap, a, 2016, &v), VNV_OK);  /* block 126 */
    struct vnv_stats s = stats(&f);
    const uint32_t bitmap = (257u + 7u) / 8u;
    CHECK_EQ(s.dirty_bytes, 3 * 64);
    CHECK_EQ(s.checkpoint_bytes, HDR + REC + bitmap + 3 * 64);
    vnv_emu_reset_counters(&f.emu);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(f.emu.write_bytes, s.checkpoint_bytes + s.nv_map_bytes);
    CHECK(f.emu.write_calls <= 2); /* one batch of map, records + data, then the header */
    CHECK_EQ(f.emu.read_calls, 0);
    /* wipe + resume: the dirty blocks come back from the checkpoint, still dirty */
    f.wipe = 1;
    CHECK_EQ(vnv_persist_all(), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 3 * 64);
    uint32_t got;
    CHECK_EQ(vnv_array_get(&f.heap, a, 2016, &got), VNV_OK);
    CHECK_EQ(got, v);
    CHECK_EQ(vnv_array_get(&f.heap, a, 2017, &got), VNV_OK);
    CHECK_EQ(got, 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    /* restart: the same */
    CHECK_EQ(vnv_set_root(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK_EQ(stats(&f).dirty_bytes, 3 * 64);
    CHECK_EQ(vnv_array_get(&f.heap, a, 3, &got), VNV_OK);
    CHECK_EQ(got, v);
    CHECK_EQ(vnv_array_get(&f.heap, a, 2000, &got), VNV_OK);
    CHECK_EQ(got, v);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* Random writes through every entry point on arrays of several shapes, with flushes,
 * unloads, checkpoint + wipe + resume and checkpoint + restart, against shadow copies. */
#define NARR 5
struct shape {
    uint32_t len, es, bs;
};
static const struct shape shapes[NARR] = {{300, 4, 16}, {90, 12, 32}, {700, 1, 128}, {40, 24, 64},
                                          {250, 2, 32}};

static void verify_all(struct fixture *f, const vnv_obj_t *arr, uint8_t *const *shadow)
{
    for (int k = 0; k < NARR; k++) {
        const uint8_t *p;
        uint32_t len = 0;
        int err = vnv_array_view(&f->heap, arr[k], (const void **)&p, &len);
        CHECK_EQ(err, VNV_OK);
        if (err)
            continue;
        CHECK_EQ(len, shapes[k].len);
        CHECK(memcmp(p, shadow[k], shapes[k].len * shapes[k].es) == 0);
        CHECK_EQ(vnv_array_release(&f->heap, arr[k]), VNV_OK);
    }
}

static void test_random_against_shadow(void)
{
    struct fixture f;
    struct rng r;
    rng_seed(&r, 77);
    REQUIRE(fx_format(&f, 128u * 1024u, 2048, 640) == VNV_OK); /* tight: flushes, evictions */
    vnv_obj_t arr[NARR], roots;
    uint8_t *shadow[NARR];
    for (int k = 0; k < NARR; k++) {
        shadow[k] = malloc(shapes[k].len * shapes[k].es);
        rng_fill(&r, shadow[k], shapes[k].len * shapes[k].es);
        CHECK_EQ(vnv_array_create(&f.heap, shapes[k].len, shapes[k].es, shapes[k].bs, shadow[k],
                                  &arr[k]),
                 VNV_OK);
    }
    /* the handles live in a plain object found through the root */
    CHECK_EQ(vnv_alloc(&f.heap, sizeof arr, arr, &roots), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, roots), VNV_OK);
    unsigned resumes = 0, restarts = 0;
    uint8_t buf[128 * 24];
    for (int op = 0; op < RANDOM_OPS; op++) {
        int k = (int)rng_below(&r, NARR);
        const struct shape *s = &shapes[k];
        uint32_t first = rng_below(&r, s->len);
        uint32_t most = 384u / s->es; /* bytes per write: fits the 640 B budget */
        uint32_t count = 1 + rng_below(&r, s->len - first < most ? s->len - first : most);
        uint32_t what = rng_below(&r, 100);
        if (what < 35) {
            rng_fill(&r, buf, s->es);
            CHECK_EQ(vnv_array_set(&f.heap, arr[k], first, buf), VNV_OK);
            memcpy(shadow[k] + first * s->es, buf, s->es);
        } else if (what < 55) {
            rng_fill(&r, buf, count * s->es);
            CHECK_EQ(vnv_array_set_range(&f.heap, arr[k], first, count, buf), VNV_OK);
            memcpy(shadow[k] + first * s->es, buf, count * s->es);
        } else if (what < 70) {
            uint8_t *w;
            int err = vnv_array_write(&f.heap, arr[k], first, count, (void **)&w);
            CHECK_EQ(err, VNV_OK);
            if (!err) {
                rng_fill(&r, w, count * s->es);
                memcpy(shadow[k] + first * s->es, w, count * s->es);
                /* a checkpoint (with wipe) while the writer holds the view */
                if (rng_below(&r, 16) == 0) {
                    CHECK_EQ(vnv_persist_all(), VNV_OK);
                    CHECK(memcmp(w, shadow[k] + first * s->es, count * s->es) == 0);
                    resumes++;
                }
                CHECK_EQ(vnv_array_release(&f.heap, arr[k]), VNV_OK);
            }
        } else if (what < 85) {
            CHECK_EQ(vnv_array_get_range(&f.heap, arr[k], first, count, buf), VNV_OK);
            CHECK(memcmp(buf, shadow[k] + first * s->es, count * s->es) == 0);
        } else if (what < 90) {
            CHECK_EQ(vnv_flush(&f.heap, arr[k]), VNV_OK);
        } else if (what < 94) {
            CHECK_EQ(vnv_unload(&f.heap, arr[k]), VNV_OK);
        } else if (what < 97) {
            CHECK_EQ(vnv_persist_all(), VNV_OK); /* checkpoint + RAM wipe + resume */
            resumes++;
        } else if (what < 99) {
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* checkpoint + restart */
            CHECK_EQ(fx_reboot(&f), VNV_OK);
            vnv_obj_t root, found[NARR];
            const vnv_obj_t *rp;
            CHECK_EQ(vnv_root(&f.heap, &root), VNV_OK);
            CHECK_EQ(vnv_get(&f.heap, root, (const void **)&rp), VNV_OK);
            memcpy(found, rp, sizeof found);
            CHECK_EQ(vnv_release(&f.heap, root), VNV_OK);
            for (int j = 0; j < NARR; j++) {
                CHECK(vnv_same(found[j], arr[j]));
                uint32_t len = 0, es = 0;
                CHECK_EQ(vnv_array_attach(&f.heap, found[j], &len, &es), VNV_OK);
                CHECK_EQ(len, shapes[j].len);
                CHECK_EQ(es, shapes[j].es);
            }
            restarts++;
        } else {
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            verify_all(&f, arr, shadow);
        }
        if (vtest_failed > 20)
            break;
    }
    verify_all(&f, arr, shadow);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK(stats(&f).peak_checkpoint_bytes <= 640);
    CHECK(resumes > 10);
    CHECK(restarts > 5);
    fprintf(stderr, "  %d ops, %u resumes, %u restarts\n", RANDOM_OPS, resumes, restarts);
    for (int k = 0; k < NARR; k++)
        free(shadow[k]);
    fx_free(&f);
}

/* Inside a group the changes of an array fill the budget: set and write must answer
 * BUDGET, as array.h says. They answered BUSY: making room flushes the array's own dirty
 * blocks, which a group member refuses (BUSY), and that replaced the BUDGET. The group
 * stays usable and aborts cleanly. */
static void test_group_fills_the_budget(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 256u * 1024u, 16384, 1024) == VNV_OK);
    vnv_obj_t a;
    CHECK_EQ(vnv_array_create(&f.heap, 500, 4, 32, NULL, &a), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    uint32_t v = 0xDEADBEEFu, got = 0;
    int err = VNV_OK, i, sets = 0;
    for (i = 0; i < 500 && !err; i += 8) { /* one new 32-byte block per call */
        err = vnv_array_set(&f.heap, a, (size_t)i, &v);
        sets += !err;
    }
    CHECK_EQ(err, VNV_ERR_BUDGET);
    CHECK(sets > 4);
    void *w;
    CHECK_EQ(vnv_array_write(&f.heap, a, 496, 1, &w), VNV_ERR_BUDGET);
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
    CHECK_EQ(vnv_array_get(&f.heap, a, 0, &got), VNV_OK);
    CHECK_EQ(got, 0u);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

static void test_bad_inputs(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 8192, 2048) == VNV_OK);
    vnv_obj_t a, plain, list;
    CHECK_EQ(vnv_array_create(&f.heap, 0, 4, 32, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 10, 0, 32, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 10, 4, 8, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 10, 4, 48, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 10, 4, 256, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, SIZE_MAX, 4, 32, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 4, SIZE_MAX, 32, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 1u << 20, 1u << 20, 32, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, VNV_MAX_OBJECT_SIZE, 1, 32, NULL, &a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(&f.heap, 10, 4, 32, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_create(NULL, 10, 4, 32, NULL, &a), VNV_ERR_INVAL);
    a = clean_array(&f, 64, 4, 32);
    const uint32_t d0 = stats(&f).dirty_bytes, c0 = stats(&f).checkpoint_bytes;
    uint32_t v = 1, out[4];
    void *w;
    const void *rv;
    /* index and range checks, also with values that overflow when added or multiplied */
    CHECK_EQ(vnv_array_get(&f.heap, a, 64, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set(&f.heap, a, 64, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set(&f.heap, a, SIZE_MAX, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 63, 2, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 1, SIZE_MAX, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set_range(&f.heap, a, SIZE_MAX, 2, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set_range(&f.heap, a, SIZE_MAX / 4 + 1, 4, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set_range(&f.heap, a, 0, 0, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_get_range(&f.heap, a, 0, 0, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_get_range(&f.heap, a, 60, 5, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_get_range(&f.heap, a, 2, SIZE_MAX - 1, out), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_write(&f.heap, a, 0, 0, &w), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_write(&f.heap, a, 64, 1, &w), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_write(&f.heap, a, 10, SIZE_MAX, &w), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_write(&f.heap, a, 0, 1, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_write_all(&f.heap, a, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set(&f.heap, a, 0, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_get(&f.heap, a, 0, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_view(&f.heap, a, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_length(&f.heap, a, NULL), VNV_ERR_INVAL);
    /* nothing refused was charged or left pinned */
    CHECK_EQ(stats(&f).dirty_bytes, d0);
    CHECK_EQ(stats(&f).checkpoint_bytes, c0);
    CHECK_EQ(vnv_array_write(&f.heap, a, 0, 1, &w), VNV_OK);
    CHECK_EQ(vnv_array_release(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_array_release(&f.heap, a), VNV_ERR_INVAL);
    /* handles that are not arrays */
    CHECK_EQ(vnv_alloc(&f.heap, 48, NULL, &plain), VNV_OK);
    CHECK_EQ(vnv_list_create(&f.heap, 4, &list), VNV_OK);
    CHECK_EQ(vnv_array_attach(&f.heap, plain, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_attach(&f.heap, list, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_set(&f.heap, plain, 0, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_view(&f.heap, plain, &rv, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_attach(&f.heap, VNV_NULL, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_attach(&f.heap, (vnv_obj_t){a.id ^ 1u}, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_destroy(&f.heap, plain), VNV_ERR_INVAL);
    CHECK_EQ(vnv_array_get(&f.heap, a, 0, &v), VNV_OK);
    CHECK_EQ(vnv_array_destroy(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_array_get(&f.heap, a, 0, &v), VNV_ERR_INVAL); /* freed */
    CHECK_EQ(vnv_array_destroy(&f.heap, a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A damaged trailer never sizes a copy: every single-bit flip of the element size or the
 * length (also those the object's padding would admit: 4 -> 5 with 3 elements) makes the
 * array refused (INVAL) by attach, get and set, and no byte past the caller's element is
 * read or written. (An outside test flipped 4 -> 5: get wrote 5 bytes into a uint32_t.) */
static void test_damaged_trailer_is_refused(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 8192, 2048) == VNV_OK);
    const uint32_t init[3] = {1, 2, 3};
    vnv_obj_t a;
    CHECK_EQ(vnv_array_create(&f.heap, 3, 4, 16, init, &a), VNV_OK);
    size_t sz = 0;
    CHECK_EQ(vnv_size(&f.heap, a, &sz), VNV_OK);
    unsigned refused = 0;
    for (uint32_t word = 1; word <= 2; word++) { /* element size, length */
        uint32_t off = (uint32_t)sz - VNV_ARRAY_TRAILER_SIZE + 4u * word, was;
        CHECK_EQ(vnv_read(&f.heap, a, off, &was, 4), VNV_OK);
        for (uint32_t bit = 0; bit < 32; bit++) {
            uint32_t bad = was ^ (1u << bit);
            CHECK_EQ(vnv_write(&f.heap, a, off, &bad, 4), VNV_OK);
            struct {
                uint32_t v, guard[4];
            } out = {0x11111111u, {0xAAAAAAAAu, 0xAAAAAAAAu, 0xAAAAAAAAu, 0xAAAAAAAAu}};
            uint32_t len = 0, es = 0;
            int at = vnv_array_attach(&f.heap, a, &len, &es);
            int get = vnv_array_get(&f.heap, a, 2, &out.v);
            int set = vnv_array_set(&f.heap, a, 2, &out.v);
            CHECK_EQ(at, VNV_ERR_INVAL);
            CHECK_EQ(get, VNV_ERR_INVAL);
            CHECK_EQ(set, VNV_ERR_INVAL);
            CHECK_EQ(out.guard[0], 0xAAAAAAAAu);
            refused += at == VNV_ERR_INVAL && get == VNV_ERR_INVAL;
            CHECK_EQ(vnv_write(&f.heap, a, off, &was, 4), VNV_OK);
        }
    }
    CHECK_EQ(refused, 64u);
    uint32_t v = 0;
    CHECK_EQ(vnv_array_get(&f.heap, a, 2, &v), VNV_OK);
    CHECK_EQ(v, 3u);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

int main(void)
{
    RUN(test_create_attach_lifecycle);
    RUN(test_budget_exact);
    RUN(test_flush_writes_dirty_blocks_only);
    RUN(test_checkpoint_writes_dirty_blocks_only);
    RUN(test_random_against_shadow);
    RUN(test_bad_inputs);
    RUN(test_damaged_trailer_is_refused);
    RUN(test_group_fills_the_budget);
    return vtest_summary();
}

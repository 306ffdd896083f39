/*
 * test_tags.c - a handle is never issued twice, resets included (src/store/tags.c).
 *
 * An object allocated after the last checkpoint is gone after a reset, but its handle may
 * live on outside the heap (another heap, a log, a radio message): the next allocations must
 * not hand it out again. The tag reservation on storage (docs/FORMAT.md 1.1) is checked for
 * its storage cost, its doubling, I/O errors, and power cuts at every byte of its writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "image_crc.h"
#include "persist_hook.h"
#include "rng.h"
#include "vtest.h"

#if VNV_MINIMAL /* (no vnv_check in the minimal profile) */
#define HEAP_CHECK(h) ((void)(h), VNV_OK)
#else
#define HEAP_CHECK(h) vnv_check(h)
#endif

#define NV 16384u
#define RAM 4096u
#define DIRTY 1024u

static uint32_t reserves(struct fixture *f)
{
    struct vnv_stats st;
    memset(&st, 0, sizeof st);
    (void)vnv_stats(&f->heap, &st);
    return st.tag_reserves;
}

static uint64_t tag_of(const struct fixture *f, vnv_obj_t o)
{
    return o.id >> f->heap.unit_bits;
}

/* The reset after an allocation that even reached its home: three resets in a row from one
 * checkpoint, each followed by allocations; no handle comes back, and the first allocation
 * after each open costs one 16-byte write and one sync, the next ones nothing. */
static void test_no_handle_reissued_after_a_reset(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    uint32_t a = 1, b = 2, got = 0;
    vnv_obj_t kept, lost[4];
    CHECK_EQ(vnv_alloc(&f.heap, 4, &a, &kept), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, kept), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 4, &b, &lost[0]), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, lost[0]), VNV_OK); /* even written home */
    for (int reset = 1; reset < 4; reset++) {
        REQUIRE(fx_reboot(&f) == VNV_OK); /* unannounced: back to that checkpoint */
        uint64_t w0 = f.emu.write_calls, s0 = f.emu.sync_calls, b0 = f.emu.write_bytes;
        CHECK_EQ(vnv_alloc(&f.heap, 4, &b, &lost[reset]), VNV_OK);
        CHECK_EQ(f.emu.write_calls - w0, 1); /* the reservation */
        CHECK_EQ(f.emu.write_bytes - b0, 16);
        CHECK_EQ(f.emu.sync_calls - s0, 1);
        CHECK_EQ(reserves(&f), 1);
        vnv_obj_t more;
        CHECK_EQ(vnv_alloc(&f.heap, 4, &b, &more), VNV_OK);
        CHECK_EQ(vnv_free(&f.heap, more), VNV_OK);
        CHECK_EQ(f.emu.write_calls - w0, 1); /* later ones: RAM only again */
        for (int k = 0; k < reset; k++) {
            CHECK(!vnv_same(lost[reset], lost[k]));
            CHECK(tag_of(&f, lost[reset]) > tag_of(&f, lost[k]));
            CHECK_EQ(vnv_read(&f.heap, lost[k], 0, &got, 4), VNV_ERR_INVAL); /* names nothing */
        }
        CHECK_EQ(vnv_read(&f.heap, kept, 0, &got, 4), VNV_OK);
        CHECK_EQ(got, 1);
        CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
    }
    fx_free(&f);
}

/* After open the reservations cover 256, 512, 1024, ... counter values: a reset wastes at
 * most about as many tags as the run issued, and a long run writes ever more rarely. After
 * a format the first 2^20 allocations write nothing. */
static void test_reservations_double(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    uint64_t w0 = f.emu.write_calls;
    vnv_obj_t o;
    for (int i = 0; i < 3000; i++) {
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
        CHECK_EQ(vnv_free(&f.heap, o), VNV_OK);
    }
    CHECK_EQ(f.emu.write_calls - w0, 0); /* format reserved 2^20 */
    CHECK_EQ(reserves(&f), 0);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    REQUIRE(fx_reboot(&f) == VNV_OK);
    uint64_t start = f.heap.alloc_count;
    /* the counter values at which a reservation is due: start, +256, +768, +1792, +3840 */
    uint32_t due[] = {0, 256, 768, 1792, 3840}, n = 0;
    for (uint32_t i = 0; i < 4000; i++) {
        uint32_t before = reserves(&f);
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
        CHECK_EQ(tag_of(&f, o), start + i + 1u); /* no gap inside a run */
        int wrote = reserves(&f) != before;
        CHECK_EQ(wrote, n < 5 && i == due[n]);
        n += wrote ? 1u : 0u;
        CHECK_EQ(vnv_free(&f.heap, o), VNV_OK);
    }
    CHECK_EQ(n, 5);
    /* a reset now: the next run starts past the whole reservation (3840 + 4096), no more */
    REQUIRE(fx_reboot(&f) == VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
    CHECK_EQ(tag_of(&f, o), start + 3840u + 4096u + 1u);
    fx_free(&f);
}

/* A reservation that fails (write or sync) issues no handle and leaves the heap as it was;
 * the next allocation writes the same record again, and a reset then still goes on past
 * every handle issued. */
static void test_reservation_io_error(void)
{
    for (int what = 0; what < 2; what++) {
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        REQUIRE(fx_reboot(&f) == VNV_OK);
        uint8_t area[VNV_TAG_AREA_SIZE];
        memcpy(area, f.nv + VNV_SUPERBLOCK_SIZE, sizeof area);
        vnv_obj_t o = VNV_NULL;
        if (what == 0)
            f.emu.fail_write_in = 1;
        else
            f.emu.fail_sync_in = 1;
        uint64_t count = f.heap.alloc_count;
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_ERR_IO);
        CHECK(vnv_is_null(o));
        CHECK_EQ(f.heap.alloc_count, count);
        CHECK_EQ(reserves(&f), 0);
        struct vnv_stats st;
        CHECK_EQ(vnv_stats(&f.heap, &st), VNV_OK);
        CHECK_EQ(st.resident_objects, 0);
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
        CHECK_EQ(reserves(&f), 1);
        /* the record written is the one that did not hold the larger reservation */
        uint32_t changed = 0;
        for (uint32_t i = 0; i < sizeof area; i++)
            changed |= (uint32_t)(area[i] != f.nv[VNV_SUPERBLOCK_SIZE + i]) << (i / 16u);
        CHECK_EQ(changed, 2u); /* format wrote record 0; record 1 is the smaller (void) one */
        vnv_obj_t first = o;
        REQUIRE(fx_reboot(&f) == VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
        CHECK(tag_of(&f, o) > tag_of(&f, first));
        CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* A power cut at every byte of a reservation's write, and at its sync: the torn record
 * fails its check, the other one still counts, and nothing issued before the cut comes
 * back. Each life allocates across two reservations (256 and 512 values), so the cut
 * meets both records. */
static void test_power_cut_in_every_byte_of_a_reservation(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    vnv_abandon(&f.heap);
    uint8_t *image = malloc(NV);
    REQUIRE(image != NULL);
    memcpy(image, f.nv, NV);
    uint32_t cases = 0;
    for (uint32_t which = 0; which < 2; which++) {     /* the first or the second reservation */
        for (uint32_t cut = 0; cut <= 16; cut++) {     /* bytes of it that land */
            memcpy(f.nv, image, NV);
            REQUIRE(fx_reboot(&f) == VNV_OK);
            uint64_t last_issued = 0;
            vnv_obj_t o;
            /* run up to the reservation that is cut */
            for (uint32_t i = 0; i < (which ? 256u : 0u); i++) {
                CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
                last_issued = tag_of(&f, o);
                CHECK_EQ(vnv_free(&f.heap, o), VNV_OK);
            }
            uint32_t r0 = reserves(&f);
            vnv_emu_cut_power_after(&f.emu, cut);
            int err = vnv_alloc(&f.heap, 8, NULL, &o);
            CHECK_EQ(reserves(&f), r0 + 1u);  /* (the firmware believes it wrote) */
            CHECK_EQ(err, VNV_OK);
            /* cut inside the write: the call never returned; with all 16 bytes landed the
             * power may still be on: then it did, and the reset follows */
            CHECK(vnv_emu_power_is_off(&f.emu) || cut == 16u);
            if (!vnv_emu_power_is_off(&f.emu))
                last_issued = tag_of(&f, o);
            REQUIRE(fx_reboot(&f) == VNV_OK);
            CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
            CHECK(tag_of(&f, o) > last_issued);
            CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
            cases++;
        }
    }
    CHECK_EQ(cases, 34);
    free(image);
    fx_free(&f);
}

/* A power-fail request during the reservation's write: deferred to the end of that write's
 * critical section, its checkpoint runs between the write and the sync (each a section of
 * its own). The allocation then completes; a reset to that checkpoint goes on past the
 * handle it issued. */
static void test_checkpoint_inside_a_reservation(void)
{
    struct fixture f;
    uint8_t *image = malloc(NV);
    REQUIRE(image != NULL);
    REQUIRE(hook_format(&f, image, NV, RAM, DIRTY) == VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    REQUIRE(fx_reboot(&f) == VNV_OK);
    uint64_t s0 = f.emu.sync_calls;
    hook_arm(1, 0); /* the next write: the reservation's */
    vnv_obj_t o;
    CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
    CHECK_EQ(hook_result(), VNV_PERSIST_DEFERRED);
    CHECK_EQ(reserves(&f), 1);
    struct vnv_stats st;
    CHECK_EQ(vnv_stats(&f.heap, &st), VNV_OK);
    CHECK_EQ(st.persists, 1);
    CHECK_EQ(f.emu.sync_calls - s0, 3); /* the checkpoint's two, then the reservation's */
    memcpy(f.nv, image, NV); /* a reset right after that checkpoint */
    vnv_obj_t next;
    REQUIRE(fx_reboot(&f) == VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &next), VNV_OK);
    CHECK(tag_of(&f, next) > tag_of(&f, o));
    CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
    free(image);
    fx_free(&f);
}

/* A vnv_format over a used heap cut at every byte it writes (its tag area among them), or
 * failing at each of its writes and syncs: the storage then holds the old heap (nothing
 * landed yet), no heap (NOHEAP) or the new, empty one - never a damaged one - and no handle
 * of the old heap names anything in a new one or comes back from it. A cut inside the
 * final superblock write left a magic over a torn superblock: CORRUPT, a heap that must not
 * be formatted away (found by this test; the magic is now written last). */
static void test_format_cut_anywhere(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    f.wipe = 0;
    vnv_obj_t old[6];
    for (int i = 0; i < 6; i++)
        CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &old[i]), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, old[0]), VNV_OK);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    uint8_t *image = malloc(NV);
    REQUIRE(image != NULL);
    memcpy(image, f.nv, NV);
    uint64_t b0 = f.emu.write_bytes, w0 = f.emu.write_calls, s0 = f.emu.sync_calls;
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    uint32_t bytes = (uint32_t)(f.emu.write_bytes - b0), writes = (uint32_t)(f.emu.write_calls - w0);
    uint32_t syncs = (uint32_t)(f.emu.sync_calls - s0);
    CHECK_EQ(syncs, 5); /* (the header's count) */
    vnv_abandon(&f.heap);
    uint32_t noheap = 0, fresh = 0, kept = 0;
    for (uint32_t k = 0; k < bytes + writes + syncs; k++) {
        memcpy(f.nv, image, NV);
        vnv_emu_power_on(&f.emu);
        if (k < bytes)
            vnv_emu_cut_power_after(&f.emu, k);
        else if (k < bytes + writes)
            f.emu.fail_write_in = k - bytes + 1u;
        else
            f.emu.fail_sync_in = k - bytes - writes + 1u;
        int err = vnv_format(&f.heap, &f.cfg);
        CHECK(k < bytes ? err == VNV_OK : err == VNV_ERR_IO); /* (a cut is silent) */
        vnv_abandon(&f.heap);
        f.emu.fail_write_in = f.emu.fail_sync_in = 0;
        err = fx_reboot(&f);
        CHECK(err == VNV_OK || err == VNV_ERR_NOHEAP);
        if (err != VNV_OK) {
            noheap++;
            continue;
        }
        vnv_obj_t root = VNV_NULL, o;
        uint8_t x;
        CHECK_EQ(vnv_root(&f.heap, &root), VNV_OK);
        if (vnv_same(root, old[0])) { /* nothing of the format landed: the old heap, whole */
            kept++;
            for (int i = 0; i < 6; i++)
                CHECK_EQ(vnv_read(&f.heap, old[i], 0, &x, 1), VNV_OK);
            vnv_abandon(&f.heap);
            continue;
        }
        fresh++;
        CHECK(vnv_is_null(root)); /* the new, empty heap */
        for (int i = 0; i < 6; i++)
            CHECK_EQ(vnv_read(&f.heap, old[i], 0, &x, 1), VNV_ERR_INVAL);
        for (int i = 0; i < 6; i++) {
            CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &o), VNV_OK);
            for (int j = 0; j < 6; j++)
                CHECK(!vnv_same(o, old[j]));
        }
        CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
        vnv_abandon(&f.heap);
    }
    CHECK(noheap > 0 && fresh > 0 && kept > 0);
    free(image);
    fx_free(&f);
}

/* Many lives, each cut at a random byte of its storage writes, random work in between
 * (allocations, frees, writes, flushes, checkpoints): every handle an allocation returned
 * while the power was on is unique over all lives. */
static void test_random_lives_never_reissue(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    f.wipe = 0;
    struct rng r;
    rng_seed(&r, 20261207u);
#ifdef VNV_TEST_CROSS
    enum { LIVES = 100, MAX_ISSUED = 6000 }; /* (the small targets' RAM) */
#else
    enum { LIVES = 400, MAX_ISSUED = 20000 };
#endif
    uint64_t *issued = malloc(MAX_ISSUED * sizeof *issued);
    REQUIRE(issued != NULL);
    uint32_t n_issued = 0, cut_lives = 0;
    vnv_obj_t live[32];
    uint32_t nlive = 0;
    for (int life = 0; life < LIVES && n_issued < MAX_ISSUED - 200; life++) {
        if (rng_below(&r, 3) != 0) {
            vnv_emu_cut_power_after(&f.emu, rng_below(&r, 30000));
            cut_lives++;
        }
        for (int op = 0; op < 150 && !vnv_emu_power_is_off(&f.emu); op++) {
            uint32_t k = rng_below(&r, 10);
            if (k < 5 && nlive < 32) {
                vnv_obj_t o;
                int err = vnv_alloc(&f.heap, 4 + rng_below(&r, 120), NULL, &o);
                if (err == VNV_OK && !vnv_emu_power_is_off(&f.emu)) {
                    issued[n_issued++] = o.id;
                    live[nlive++] = o;
                }
            } else if (k < 7 && nlive) {
                uint32_t i = rng_below(&r, nlive);
                (void)vnv_free(&f.heap, live[i]);
                live[i] = live[--nlive];
            } else if (k < 8 && nlive) {
                (void)vnv_flush(&f.heap, live[rng_below(&r, nlive)]);
            } else if (k < 9) {
                (void)vnv_checkpoint(&f.heap);
            } else if (nlive) {
                uint32_t v = (uint32_t)op;
                (void)vnv_write(&f.heap, live[rng_below(&r, nlive)], 0, &v, sizeof v);
            }
        }
        REQUIRE(fx_reboot(&f) == VNV_OK); /* (a reset whether or not the power was cut) */
        CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
        /* the objects the reset kept (the last checkpoint's, maybe one freed since) live
         * on; the others name nothing now */
        nlive = 0;
        for (uint32_t i = 0; i < n_issued; i++) {
            uint8_t x;
            vnv_obj_t o = {issued[i]};
            int err = vnv_read(&f.heap, o, 0, &x, 1);
            CHECK(err == VNV_OK || err == VNV_ERR_INVAL);
            if (err == VNV_OK && nlive < 32)
                live[nlive++] = o;
            else if (err == VNV_OK)
                CHECK_EQ(vnv_free(&f.heap, o), VNV_OK); /* (more than the list holds) */
        }
    }
    CHECK(cut_lives > LIVES / 2);
    printf("issued %lu handles over %d lives (%lu cut)\n", (unsigned long)n_issued, (int)LIVES,
           (unsigned long)cut_lives);
    CHECK(n_issued > LIVES * 25u);
    /* unique: sort and compare neighbours */
    for (uint32_t i = 1; i < n_issued; i++) { /* insertion sort on a mostly rising list */
        uint64_t v = issued[i];
        uint32_t j = i;
        for (; j > 0 && issued[j - 1] > v; j--)
            issued[j] = issued[j - 1];
        issued[j] = v;
    }
    uint32_t dups = 0;
    for (uint32_t i = 1; i < n_issued; i++)
        dups += issued[i] == issued[i - 1];
    CHECK_EQ(dups, 0);
    free(issued);
    fx_free(&f);
}

/* Damaged or crafted records: a garbled record (every bit of the area flipped in turn) is
 * ignored and the other one counts; an intact record with a larger value moves the counter
 * past it. Nothing is refused: the area holds no data, only a floor for the counter. */
static void test_damaged_records(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    uint64_t at_checkpoint = f.heap.alloc_count, reserved = f.heap.tag_reserved;
    CHECK(reserved > at_checkpoint);
    vnv_abandon(&f.heap);
    uint8_t *image = malloc(NV);
    REQUIRE(image != NULL);
    memcpy(image, f.nv, NV);
    vnv_obj_t o;
    for (uint32_t i = 0; i < VNV_TAG_AREA_SIZE * 8u; i++) {
        memcpy(f.nv, image, NV);
        f.nv[VNV_SUPERBLOCK_SIZE + i / 8u] ^= (uint8_t)(1u << (i & 7u));
        REQUIRE(fx_reboot(&f) == VNV_OK);
        /* format's reservation is record 0: a flip there loses it (the counter goes on
         * from the checkpoint); record 1 is void, and stays so */
        CHECK_EQ(f.heap.alloc_count, i < 128u ? at_checkpoint : reserved);
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
        CHECK_EQ(HEAP_CHECK(&f.heap), VNV_OK);
        vnv_abandon(&f.heap);
    }
    /* an intact record 1 above record 0 (what the next reservation would write) */
    memcpy(f.nv, image, NV);
    const uint8_t *r1 = f.nv + VNV_SUPERBLOCK_SIZE + 16u;
    uint64_t more = reserved + 1000u;
    vnv_img_put_tag_record(f.nv, NV, 1, more);
    REQUIRE(fx_reboot(&f) == VNV_OK);
    CHECK_EQ(f.heap.alloc_count, more);
    CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
    CHECK_EQ(tag_of(&f, o), more + 1u);
    /* the next reservation overwrites the smaller record, 0 */
    CHECK(memcmp(f.nv + VNV_SUPERBLOCK_SIZE, image + VNV_SUPERBLOCK_SIZE, 16) != 0);
    CHECK(memcmp(r1 + 4, &more, 8) == 0); /* (little-endian host: the format's order) */
    vnv_abandon(&f.heap);
    /* an intact record past the tag space (forged: no device counts that far) counts as
     * none. Believed, it left the counter where tags wrap, reservations stopped, and every
     * reset issued the same handle again (an outside review's finding). */
    const uint64_t tags = (UINT64_MAX >> f.heap.unit_bits) - 1u;
    const uint64_t forged[] = {tags, tags + 1000u, UINT64_MAX - 100u, UINT64_MAX};
    for (uint32_t k = 0; k < 4; k++) {
        memcpy(f.nv, image, NV);
        vnv_img_put_tag_record(f.nv, NV, 1, forged[k]);
        vnv_obj_t got[3];
        for (int life = 0; life < 3; life++) {
            REQUIRE(fx_reboot(&f) == VNV_OK); /* (a reset each time: nothing checkpointed) */
            CHECK(f.heap.alloc_count < tags);
            CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &got[life]), VNV_OK);
            CHECK_EQ(reserves(&f), 1);
            for (int j = 0; j < life; j++)
                CHECK(!vnv_same(got[life], got[j]));
        }
        vnv_abandon(&f.heap);
    }
    free(image);
    fx_free(&f);
}

int main(void)
{
    RUN(test_no_handle_reissued_after_a_reset);
    RUN(test_reservations_double);
    RUN(test_reservation_io_error);
    RUN(test_power_cut_in_every_byte_of_a_reservation);
    RUN(test_checkpoint_inside_a_reservation);
    RUN(test_format_cut_anywhere);
    RUN(test_random_lives_never_reissue);
    RUN(test_damaged_records);
    return vtest_summary();
}

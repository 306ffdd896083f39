/*
 * test_data_crc.c - the optional data checksum (VNV_DATA_CRC): bit rot in object data is
 * reported as VNV_ERR_CORRUPT by every path that reads a home's data, is never laundered
 * into a new checksum, costs what vnvheap.h says, and an image records the setting.
 * Built in every configuration; the rot tests need a build with -DVNV_DATA_CRC=ON (the
 * `make test` stage test-crc), the image-setting test runs everywhere.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fixture.h"
#include "image_crc.h"
#include "persist_hook.h"
#include "vtest.h"

#define NV (64u * 1024u)
#define RAM 8192u
#define DIRTY 2048u

enum { SZ = 40 };

/* Storage offset of data slot `slot` of a home (docs/FORMAT.md section 4). */
static uint32_t slot_at(const struct fixture *f, vnv_obj_t o, uint32_t size, uint32_t slot)
{
    uint32_t unit = (uint32_t)o.id & f->heap.unit_mask;
    uint32_t crc = VNV_DATA_CRC ? 4u : 0u;
    return f->heap.nv_off + unit * f->heap.unit + VNV_OBJ_HEADER_SIZE + slot * (size + crc);
}

/* A non-resident object homed in slot 0 (its first flush), and a second one beside it. */
static void two_homed(struct fixture *f, vnv_obj_t *a, vnv_obj_t *b)
{
    uint8_t v[SZ];
    for (unsigned i = 0; i < SZ; i++)
        v[i] = (uint8_t)(i * 7u + 1u);
    REQUIRE(vnv_alloc(&f->heap, SZ, v, a) == VNV_OK);
    REQUIRE(vnv_alloc(&f->heap, SZ, v, b) == VNV_OK);
    REQUIRE(vnv_unload(&f->heap, *a) == VNV_OK);
    REQUIRE(vnv_unload(&f->heap, *b) == VNV_OK);
    REQUIRE(vnv_checkpoint(&f->heap) == VNV_OK);
}

/* Every single-bit flip in the data or the checksum of a non-resident object is reported by
 * a load, a read and a write, and never written over; the neighbour stays readable. */
static void test_every_bit_flip_is_reported(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    vnv_obj_t a, b;
    two_homed(&f, &a, &b);
    uint32_t at = slot_at(&f, a, SZ, 0);
    uint8_t good[SZ], got[SZ];
    CHECK_EQ(vnv_read(&f.heap, b, 0, good, SZ), VNV_OK);
    const void *p;
    unsigned flips = 0;
    for (uint32_t bit = 0; bit < (SZ + 4u) * 8u; bit++) {
        f.nv[at + bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
        CHECK_EQ(vnv_get(&f.heap, a, &p), VNV_ERR_CORRUPT);
        CHECK(!vnv_is_resident(&f.heap, a));
        CHECK_EQ(vnv_read(&f.heap, a, 3, got, 4), VNV_ERR_CORRUPT);
        uint8_t x = 0x5A;
        CHECK_EQ(vnv_write(&f.heap, a, 5, &x, 1), VNV_ERR_CORRUPT);
        CHECK_EQ(vnv_check(&f.heap), VNV_ERR_CORRUPT);
        CHECK_EQ(vnv_read(&f.heap, b, 0, got, SZ), VNV_OK); /* the neighbour is fine */
        CHECK(memcmp(got, good, SZ) == 0);
        f.nv[at + bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
        flips++;
    }
    CHECK_EQ(flips, (SZ + 4u) * 8u);
    CHECK_EQ(vnv_read(&f.heap, a, 0, got, SZ), VNV_OK); /* repaired: nothing was written */
    CHECK(memcmp(got, good, SZ) == 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A write to a non-resident object whose current slot is not protected (written since the
 * last checkpoint) rewrites the slot in place with a new checksum: it checks the old one
 * first, so rot is reported, not laundered. */
static void test_in_place_write_does_not_launder(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    vnv_obj_t a, b;
    two_homed(&f, &a, &b);
    uint8_t x = 9, got[SZ];
    CHECK_EQ(vnv_write(&f.heap, a, 0, &x, 1), VNV_OK); /* copy on write: now slot 1 */
    CHECK_EQ(vnv_write(&f.heap, a, 1, &x, 1), VNV_OK); /* in place, slot 1 */
    CHECK_EQ(vnv_read(&f.heap, a, 0, got, SZ), VNV_OK);
    CHECK_EQ(got[0], 9);
    CHECK_EQ(got[1], 9);
    uint32_t at = slot_at(&f, a, SZ, 1);
    f.nv[at + 20] ^= 0x10;
    CHECK_EQ(vnv_write(&f.heap, a, 2, &x, 1), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_read(&f.heap, a, 0, got, 1), VNV_ERR_CORRUPT);
    f.nv[at + 20] ^= 0x10;
    CHECK_EQ(vnv_read(&f.heap, a, 0, got, SZ), VNV_OK);
    CHECK_EQ(got[2], 2 * 7 + 1); /* the refused write changed nothing */
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* Rot in the home of an object the checkpoint holds resident and clean: open succeeds, the
 * object is left on storage, and every access to it reports CORRUPT. */
static void test_rot_in_a_resident_clean_object_at_open(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    vnv_obj_t a, b;
    two_homed(&f, &a, &b);
    const void *p;
    CHECK_EQ(vnv_get(&f.heap, a, &p), VNV_OK); /* resident and clean */
    CHECK_EQ(vnv_release(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    f.nv[slot_at(&f, a, SZ, 0) + 7] ^= 0x01;
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK(!vnv_is_resident(&f.heap, a));
    CHECK_EQ(vnv_get(&f.heap, a, &p), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_get(&f.heap, b, &p), VNV_OK);
    CHECK_EQ(vnv_release(&f.heap, b), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_ERR_CORRUPT);
    fx_free(&f);
}

/* The documented costs: a load reads the header, the data and the checksum (3
 * transactions); a flush writes data and checksum in one; a home is 8 bytes larger. */
static void test_costs(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    vnv_obj_t a, b;
    two_homed(&f, &a, &b);
    const void *p;
    uint64_t r0 = f.emu.read_calls, rb0 = f.emu.read_bytes;
    CHECK_EQ(vnv_get(&f.heap, a, &p), VNV_OK);
    CHECK_EQ(f.emu.read_calls - r0, 3u);
    CHECK_EQ(f.emu.read_bytes - rb0, VNV_OBJ_HEADER_SIZE + SZ + 4u);
    CHECK_EQ(vnv_release(&f.heap, a), VNV_OK);
    void *w;
    CHECK_EQ(vnv_get_mut(&f.heap, a, &w), VNV_OK);
    ((uint8_t *)w)[0] ^= 1;
    CHECK_EQ(vnv_release(&f.heap, a), VNV_OK);
    uint8_t x = 3;
    CHECK_EQ(vnv_write(&f.heap, b, 0, &x, 1), VNV_OK); /* the interval's first home write
                                                         voids the older checkpoint */
    uint64_t w0 = f.emu.write_calls, wb0 = f.emu.write_bytes;
    CHECK_EQ(vnv_flush(&f.heap, a), VNV_OK); /* to the other slot: data + checksum */
    CHECK_EQ(f.emu.write_calls - w0, 1u);
    CHECK_EQ(f.emu.write_bytes - wb0, SZ + 4u);
    fx_free(&f);
}

/* An image records whether its slots carry checksums; a build with the other setting
 * refuses it (VNV_ERR_VERSION) and leaves it untouched. */
static void test_image_records_the_setting(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    uint32_t features = (uint32_t)f.nv[56] | (uint32_t)f.nv[57] << 8;
    CHECK_EQ(features, VNV_DATA_CRC ? 1u : 0u);
    f.nv[56] ^= 1u; /* as the other build writes it */
    vnv_img_fix_superblock(f.nv, NV);
    uint8_t *copy = malloc(NV);
    REQUIRE(copy != NULL);
    memcpy(copy, f.nv, NV);
    CHECK_EQ(fx_reboot(&f), VNV_ERR_VERSION);
    CHECK(memcmp(copy, f.nv, NV) == 0);
    free(copy);
    fx_free(&f);
}

/* A write into a non-resident object whose slot is fresh rewrites that slot in place
 * (with its checksum). A checkpoint that commits after the write looked at MAP_FRESH and
 * before it writes (here: deferred to the end of the slot check's read) reads that slot:
 * the write must copy to the other slot instead, so that a reset reopens the checkpoint's
 * value. (Before the fix it rewrote the slot: a reset opened the new byte.) */
static uint8_t cow_image[NV];

static void test_checkpoint_before_an_in_place_write(void)
{
    struct fixture f;
    REQUIRE(hook_format(&f, cow_image, NV, RAM, DIRTY) == VNV_OK);
    vnv_obj_t a, b;
    two_homed(&f, &a, &b);
    uint8_t x = 9, y = 5;
    CHECK_EQ(vnv_write(&f.heap, a, 0, &x, 1), VNV_OK); /* copy on write: slot 1, fresh */
    hook_arm(0, VNV_OBJ_HEADER_SIZE); /* in the slot check's read, not the header's */
    CHECK_EQ(vnv_write(&f.heap, a, 1, &y, 1), VNV_OK); /* the checkpoint lands inside */
    CHECK_EQ(hook_result(), VNV_PERSIST_DEFERRED);
    uint8_t got[2];
    CHECK_EQ(vnv_read(&f.heap, a, 0, got, 2), VNV_OK);
    CHECK_EQ(got[0], 9);
    CHECK_EQ(got[1], 5);
    CHECK_EQ(fx_byte_after_reset(cow_image, NV, RAM, DIRTY, a, 1), 1 * 7 + 1);
    /* a reset now: that checkpoint */
    CHECK_EQ(fx_byte_after_reset(f.nv, NV, RAM, DIRTY, a, 1), 1 * 7 + 1);
    CHECK_EQ(fx_byte_after_reset(f.nv, NV, RAM, DIRTY, a, 0), 9);
    fx_free(&f);
}

int main(void)
{
    if (VNV_DATA_CRC) {
        RUN(test_every_bit_flip_is_reported);
        RUN(test_in_place_write_does_not_launder);
        RUN(test_checkpoint_before_an_in_place_write);
        RUN(test_rot_in_a_resident_clean_object_at_open);
        RUN(test_costs);
    } else {
        printf("  (rot tests need -DVNV_DATA_CRC=ON: make test runs them in stage test-crc)\n");
    }
    RUN(test_image_records_the_setting);
    return vtest_summary();
}

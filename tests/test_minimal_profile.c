/*
 * test_minimal_profile - images that use a feature the minimal profile (VNV_MINIMAL) leaves
 * out: block objects, failure-atomic groups.
 *
 * Every image here is made by the library itself and then changed with the format's own
 * checksums recomputed (tests/support/image_crc.h), so it is an intact image. Built in both
 * profiles: the default build shows that each crafted image is a valid image of the full
 * format (it opens it and reads the object), the minimal build that it refuses the same
 * image with VNV_ERR_VERSION and changes no byte of the storage, and still serves everything
 * that does not use the left-out feature.
 */
#include <stdlib.h>

#include "fixture.h"
#include "image_crc.h"
#include "vtest.h"

#define NV_SIZE (16u * 1024u)
#define RAM_SIZE 4096u
#define MAX_DIRTY 1024u

/* bits of docs/FORMAT.md: object header word 0 bit 21 (a block object), record status bits
 * 0x080 (partial) and 0x800 (changed in a group), checkpoint flags bit 1 (in a group) */
#define HDR_PARTIAL (1u << 21)
#define REC_PARTIAL 0x080u
#define REC_GROUP 0x800u
#define CK_FLAG_GROUP 2u

static const uint8_t pattern[40] = "the minimal profile keeps plain objects";

/* A heap with two plain objects: `a` (pattern) and `b` (16 bytes of 0x5B). */
static int two_objects(struct fixture *f, vnv_obj_t *a, vnv_obj_t *b)
{
    uint8_t v[16];
    memset(v, 0x5B, sizeof v);
    int err = fx_format(f, NV_SIZE, RAM_SIZE, MAX_DIRTY);
    if (!err)
        err = vnv_alloc(&f->heap, sizeof pattern, pattern, a);
    if (!err)
        err = vnv_alloc(&f->heap, sizeof v, v, b);
    return err;
}

/* `obj` reads back as `want` (n bytes) through vnv_get. */
static int reads_as(struct fixture *f, vnv_obj_t obj, const void *want, size_t n)
{
    const void *p;
    int err = vnv_get(&f->heap, obj, &p);
    if (err)
        return err;
    int same = memcmp(p, want, n) == 0;
    vnv_release(&f->heap, obj);
    return same ? VNV_OK : VNV_ERR_CORRUPT;
}

/* Open the changed image: the minimal build refuses it and leaves every byte as it was;
 * the default build opens it. */
static void open_refused_by_minimal(struct fixture *f)
{
    uint8_t *before = malloc(NV_SIZE);
    if (!before) {
        CHECK(before != NULL);
        return;
    }
    memcpy(before, f->nv, NV_SIZE);
    int err = fx_reboot(f);
#if VNV_MINIMAL
    CHECK_EQ(err, VNV_ERR_VERSION);
    CHECK(memcmp(before, f->nv, NV_SIZE) == 0);
    CHECK_EQ(vnv_alloc(&f->heap, 8, NULL, &(vnv_obj_t){0}), VNV_ERR_INVAL); /* not open */
#else
    CHECK_EQ(err, VNV_OK);
    CHECK_EQ(vnv_check(&f->heap), VNV_OK);
#endif
    free(before);
}

/* A closed image whose object `a` has a block object's header: the minimal build opens the
 * heap, refuses every access that reads that header, and serves the other object. */
static void test_block_object_header(void)
{
    struct fixture f;
    vnv_obj_t a, b;
    REQUIRE(two_objects(&f, &a, &b) == VNV_OK);
    REQUIRE(vnv_unload(&f.heap, a) == VNV_OK); /* (a resident one would be in the records) */
    REQUIRE(vnv_close(&f.heap) == VNV_OK);
    uint32_t home = vnv_img_handle_home(f.nv, NV_SIZE, a.id);
    REQUIRE(home < NV_SIZE - VNV_IMG_OBJ_HEADER);
    /* size 40 in 16-byte blocks (block-size code 0): a valid block object's header */
    vnv_img_put32(f.nv, NV_SIZE, home, vnv_img_get32(f.nv, NV_SIZE, home) | HDR_PARTIAL);
    vnv_img_fix_checksums(f.nv, NV_SIZE);
    REQUIRE(vnv_img_objhdr_crc_ok(f.nv, NV_SIZE, home));
    uint8_t *before = malloc(NV_SIZE);
    REQUIRE(before != NULL);
    memcpy(before, f.nv, NV_SIZE);
    REQUIRE(fx_reboot(&f) == VNV_OK); /* a closed image: no records, nothing to refuse yet */
    uint8_t buf[sizeof pattern];
    size_t size = 0;
    const void *p;
#if VNV_MINIMAL
    CHECK_EQ(vnv_get(&f.heap, a, &p), VNV_ERR_VERSION);
    CHECK_EQ(vnv_get_sized(&f.heap, a, sizeof pattern, &p), VNV_ERR_VERSION);
    CHECK_EQ(vnv_read(&f.heap, a, 0, buf, sizeof buf), VNV_ERR_VERSION);
    CHECK_EQ(vnv_write(&f.heap, a, 0, "x", 1), VNV_ERR_VERSION);
    CHECK_EQ(vnv_size(&f.heap, a, &size), VNV_ERR_VERSION);
    CHECK_EQ(vnv_free(&f.heap, a), VNV_ERR_VERSION);
    CHECK(!vnv_is_resident(&f.heap, a));
    CHECK(memcmp(before, f.nv, NV_SIZE) == 0); /* refused: nothing written */
#else
    CHECK_EQ(vnv_size(&f.heap, a, &size), VNV_OK);
    CHECK_EQ(size, sizeof pattern);
    CHECK_EQ(vnv_read(&f.heap, a, 0, buf, sizeof buf), VNV_OK);
    CHECK(memcmp(buf, pattern, sizeof buf) == 0);
    CHECK_EQ(vnv_get(&f.heap, a, &p), VNV_OK);
    vnv_release(&f.heap, a);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
#endif
    /* the plain object next to it is served either way, and the heap goes on */
    uint8_t v[16];
    memset(v, 0x5B, sizeof v);
    CHECK_EQ(reads_as(&f, b, v, sizeof v), VNV_OK);
    vnv_obj_t c;
    CHECK_EQ(vnv_alloc(&f.heap, 24, pattern, &c), VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK_EQ(reads_as(&f, c, pattern, 24), VNV_OK);
    CHECK_EQ(reads_as(&f, b, v, sizeof v), VNV_OK);
    free(before);
    fx_free(&f);
}

/* A checkpoint (both objects resident, flushed and clean) in a freshly formatted heap: the
 * format's empty checkpoint is still intact in the other slot. *slot: the newest. */
static int checkpointed(struct fixture *f, vnv_obj_t *a, vnv_obj_t *b, int *slot)
{
    int err = two_objects(f, a, b);
    if (!err)
        err = vnv_flush(&f->heap, *a);
    if (!err)
        err = vnv_flush(&f->heap, *b);
    if (!err)
        err = vnv_checkpoint(&f->heap);
    vnv_abandon(&f->heap); /* a reset: nothing after the checkpoint */
    *slot = vnv_img_loaded_slot(f->nv, NV_SIZE);
    if (!err && (*slot < 0 || vnv_img_newest_slot(f->nv, NV_SIZE) != *slot ||
                 !vnv_img_slot_ok(f->nv, NV_SIZE, (unsigned)(1 - *slot))))
        err = VNV_ERR_CORRUPT;
    return err;
}

/* Mark the checkpoint in slot s as taken inside a group (its checksum is not updated). */
static void set_group_flag(struct fixture *f, int s)
{
    uint32_t flags = vnv_img_slot_off(f->nv, NV_SIZE, (unsigned)s) + VNV_IMG_CK_FLAGS;
    vnv_img_put32(f->nv, NV_SIZE, flags, vnv_img_get32(f->nv, NV_SIZE, flags) | CK_FLAG_GROUP);
}

/* A checkpoint taken inside a group (flag bit 1; no members, no undo entries: the default
 * build rolls back nothing). */
static void test_group_checkpoint(void)
{
    struct fixture f;
    vnv_obj_t a, b;
    int s;
    REQUIRE(checkpointed(&f, &a, &b, &s) == VNV_OK);
    set_group_flag(&f, s);
    vnv_img_fix_checksums(f.nv, NV_SIZE);
    REQUIRE(vnv_img_slot_ok(f.nv, NV_SIZE, (unsigned)s));
    open_refused_by_minimal(&f);
#if !VNV_MINIMAL
    CHECK_EQ(reads_as(&f, a, pattern, sizeof pattern), VNV_OK);
#endif
    fx_free(&f);
}

/* A record of a group member in the last checkpoint (status bit 0x800 or its undo-log mark
 * in the pre field): refused by the minimal build; for the default build the same record
 * without the group flag in the header is damage, never VNV_ERR_VERSION. */
static void test_group_record(void)
{
    for (int variant = 0; variant < 2; variant++) {
        struct fixture f;
        vnv_obj_t a, b;
        int s;
        REQUIRE(checkpointed(&f, &a, &b, &s) == VNV_OK);
        uint32_t rec = vnv_img_record_off(f.nv, NV_SIZE, (unsigned)s, b.id);
        REQUIRE(rec != 0);
        if (variant == 0) {
            uint32_t w = rec + VNV_IMG_CK_RECORD_WORD;
            vnv_img_put32(f.nv, NV_SIZE, w, vnv_img_get32(f.nv, NV_SIZE, w) | REC_GROUP);
        } else {
            f.nv[rec + VNV_IMG_CK_RECORD_PRE] = 0xFF; /* VNV_IMG_PRE_LOG */
            f.nv[rec + VNV_IMG_CK_RECORD_PRE + 1] = 0xFF;
        }
        vnv_img_fix_checksums(f.nv, NV_SIZE);
        REQUIRE(vnv_img_slot_ok(f.nv, NV_SIZE, (unsigned)s));
        uint8_t *before = malloc(NV_SIZE);
        REQUIRE(before != NULL);
        memcpy(before, f.nv, NV_SIZE);
        int err = fx_reboot(&f);
#if VNV_MINIMAL
        CHECK_EQ(err, VNV_ERR_VERSION);
        CHECK(memcmp(before, f.nv, NV_SIZE) == 0);
#else
        /* outside a group such a record is damage, not another profile: an intact
         * checkpoint with it is refused (before the fix the heap opened, and vnv_check
         * then called it corrupt) */
        CHECK_EQ(err, VNV_ERR_CORRUPT);
        CHECK(memcmp(before, f.nv, NV_SIZE) == 0);
#endif
        free(before);
        fx_free(&f);
    }
}

/* The clean resident object `b` of the last checkpoint made a block object: its record
 * gets the partial bit and a one-byte dirty bitmap (none dirty) behind it, its home the
 * block object's header. (`b`, the last block of the RAM arena: its block grows by the
 * bitmap's 8 bytes, into free space.) */
static void test_block_record(void)
{
    struct fixture f;
    vnv_obj_t a, b;
    int s;
    REQUIRE(checkpointed(&f, &a, &b, &s) == VNV_OK);
    uint32_t base = vnv_img_slot_off(f.nv, NV_SIZE, (unsigned)s);
    uint32_t len = vnv_img_get32(f.nv, NV_SIZE, base + VNV_IMG_CK_LEN);
    uint32_t cap = vnv_img_get32(f.nv, NV_SIZE, VNV_IMG_SB_CKPT_CAP);
    uint32_t rec = vnv_img_record_off(f.nv, NV_SIZE, (unsigned)s, b.id);
    REQUIRE(rec != 0 && len < cap && rec + VNV_IMG_CK_RECORD <= base + len);
    uint32_t w = rec + VNV_IMG_CK_RECORD_WORD;
    REQUIRE((vnv_img_get32(f.nv, NV_SIZE, w) & 0x20u) == 0); /* clean: no data follows */
    uint32_t at = rec + VNV_IMG_CK_RECORD; /* the bitmap goes right after the record */
    memmove(f.nv + at + 1, f.nv + at, base + len - at);
    f.nv[at] = 0;
    vnv_img_put32(f.nv, NV_SIZE, base + VNV_IMG_CK_LEN, len + 1u);
    vnv_img_put32(f.nv, NV_SIZE, w, vnv_img_get32(f.nv, NV_SIZE, w) | REC_PARTIAL);
    uint32_t home = vnv_img_handle_home(f.nv, NV_SIZE, b.id);
    vnv_img_put32(f.nv, NV_SIZE, home, vnv_img_get32(f.nv, NV_SIZE, home) | HDR_PARTIAL);
    vnv_img_fix_checksums(f.nv, NV_SIZE);
    REQUIRE(vnv_img_slot_ok(f.nv, NV_SIZE, (unsigned)s));
    open_refused_by_minimal(&f);
#if !VNV_MINIMAL
    uint8_t v[16];
    memset(v, 0x5B, sizeof v);
    CHECK(vnv_is_resident(&f.heap, b));
    CHECK_EQ(reads_as(&f, b, v, sizeof v), VNV_OK);
    void *wp;
    CHECK_EQ(vnv_get_mut_range(&f.heap, b, 0, 1, &wp), VNV_OK); /* it is a block object */
    vnv_release(&f.heap, b);
#endif
    fx_free(&f);
}

/* A torn checkpoint that carries a left-out bit is damage, not a refusal: both builds load
 * the older, intact checkpoint (here the format's empty one). */
static void test_torn_left_out_checkpoint(void)
{
    struct fixture f;
    vnv_obj_t a, b;
    int s;
    REQUIRE(checkpointed(&f, &a, &b, &s) == VNV_OK);
    set_group_flag(&f, s);
    /* (checksum not recomputed: the slot no longer verifies) */
    REQUIRE(!vnv_img_slot_ok(f.nv, NV_SIZE, (unsigned)s));
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK(!vnv_is_resident(&f.heap, a));
    size_t size;
    CHECK_EQ(vnv_size(&f.heap, a, &size), VNV_ERR_INVAL); /* not allocated in that state */
    vnv_obj_t c;
    CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &c), VNV_OK);
    fx_free(&f);
}

int main(void)
{
    RUN(test_block_object_header);
    RUN(test_group_checkpoint);
    RUN(test_group_record);
    RUN(test_block_record);
    RUN(test_torn_left_out_checkpoint);
    return vtest_summary();
}

/*
 * test_lifecycle.c - lifecycle rules that keep the heap from failing silently: calls from the
 * persist callback, two heaps on one storage, the root of a freed object, what
 * vnv_persist_all tells an interrupt handler, and the persist statistics.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "image_crc.h"
#include "vtest.h"

static struct vnv_stats stats(struct fixture *f)
{
    struct vnv_stats st;
    memset(&st, 0, sizeof st);
    (void)vnv_stats(&f->heap, &st);
    return st;
}

/* ---- lifecycle calls from the persist callback ------------------------------------------ */

enum cb_action { CB_NONE, CB_FORMAT, CB_OPEN, CB_CLOSE, CB_CHECKPOINT };
static struct {
    struct fixture *f;
    enum cb_action action;
    int result;
} cb;

static int lifecycle_cb(void *user, int status, void *buf, size_t len)
{
    (void)status;
    (void)buf;
    (void)len;
    struct fixture *f = user;
    f->persist_calls++;
    switch (cb.action) {
    case CB_FORMAT: cb.result = vnv_format(&f->heap, &f->cfg); break;
    case CB_OPEN: cb.result = vnv_open(&f->heap, &f->cfg); break;
    case CB_CLOSE: cb.result = vnv_close(&f->heap); break;
    case CB_CHECKPOINT: cb.result = vnv_checkpoint(&f->heap); break;
    case CB_NONE: break;
    }
    return 0;
}

static void test_lifecycle_from_callback_refused(void)
{
    static const enum cb_action actions[] = {CB_FORMAT, CB_OPEN, CB_CLOSE, CB_CHECKPOINT};
    for (unsigned a = 0; a < sizeof actions / sizeof actions[0]; a++) {
        struct fixture f;
        fx_init(&f, 16384, 2048, 512);
        f.cfg.on_persist = lifecycle_cb;
        REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
        uint32_t v = 7;
        vnv_obj_t o;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof v, &v, &o), VNV_OK);
        CHECK_EQ(vnv_set_root(&f.heap, o), VNV_OK);
        cb.action = actions[a];
        cb.result = 12345;
        CHECK_EQ(vnv_persist_all(), VNV_OK);
        CHECK(cb.result == VNV_ERR_BUSY || (actions[a] == CB_CHECKPOINT && cb.result < 0));
        cb.action = CB_NONE;
        /* the heap still works: the next checkpoint really writes */
        struct vnv_stats before = stats(&f);
        CHECK_EQ(vnv_persist_all(), VNV_OK);
        CHECK_EQ(stats(&f).persists, before.persists + 1);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        CHECK_EQ(vnv_close(&f.heap), VNV_OK);
        CHECK_EQ(fx_reboot(&f), VNV_OK);
        vnv_obj_t r;
        CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, r, 0, &v, sizeof v), VNV_OK);
        CHECK_EQ(v, 7);
        fx_free(&f);
    }
}

/* ---- object calls from the persist callback ----------------------------------------------
 * The callback may have interrupted any heap call, halfway through: object calls from it
 * are refused (INVAL) and change nothing, while the interrupt-safe queries answer. */

enum { OC_ALLOC, OC_READ, OC_WRITE, OC_GET, OC_GET_MUT, OC_FREE, OC_FLUSH, OC_UNLOAD,
       OC_SET_ROOT, OC_ROOT, OC_STATS, OC_CHECK, OC_COUNT };
static struct {
    vnv_obj_t obj;
    int result[OC_COUNT];
    int open, depth, calls;
} oc;

static int object_cb(void *user, int status, void *buf, size_t len)
{
    (void)status;
    (void)buf;
    (void)len;
    struct vnv_heap *h = &((struct fixture *)user)->heap;
    uint32_t v = 99;
    void *p;
    const void *cp;
    vnv_obj_t n;
    struct vnv_stats st;
    oc.calls++;
    oc.open = vnv_is_open(h);
#if !VNV_MINIMAL
    oc.depth = vnv_atomic_depth(h);
#endif
    oc.result[OC_ALLOC] = vnv_alloc(h, 4, &v, &n);
    oc.result[OC_READ] = vnv_read(h, oc.obj, 0, &v, sizeof v);
    oc.result[OC_WRITE] = vnv_write(h, oc.obj, 0, &v, sizeof v);
    oc.result[OC_GET] = vnv_get(h, oc.obj, &cp);
    oc.result[OC_GET_MUT] = vnv_get_mut(h, oc.obj, &p);
    oc.result[OC_FREE] = vnv_free(h, oc.obj);
    oc.result[OC_FLUSH] = vnv_flush(h, oc.obj);
    oc.result[OC_UNLOAD] = vnv_unload(h, oc.obj);
    oc.result[OC_SET_ROOT] = vnv_set_root(h, VNV_NULL);
    oc.result[OC_ROOT] = vnv_root(h, &n);
    oc.result[OC_STATS] = vnv_stats(h, &st);
    oc.result[OC_CHECK] = vnv_check(h);
    return 0;
}

static void test_object_calls_from_callback_refused(void)
{
    struct fixture f;
    fx_init(&f, 16384, 2048, 512);
    f.cfg.on_persist = object_cb;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    uint32_t v = 7;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, &v, &oc.obj), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, oc.obj), VNV_OK);
    /* the interrupt's checkpoint, one taken by the program, one inside a group */
    for (int round = 0; round < (VNV_MINIMAL ? 2 : 3); round++) {
#if !VNV_MINIMAL
        if (round == 2)
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
#endif
        struct vnv_stats before = stats(&f);
        memset(&oc.result, 0, sizeof oc.result);
        oc.calls = 0;
        CHECK_EQ(round == 1 ? vnv_checkpoint(&f.heap) : vnv_persist_all(), VNV_OK);
        CHECK_EQ(oc.calls, 1);
        for (int k = 0; k < OC_COUNT; k++)
            if (!VNV_MINIMAL || k != OC_CHECK) /* (the minimal profile has no vnv_check) */
                CHECK_EQ(oc.result[k], VNV_ERR_INVAL);
        CHECK(oc.open);
        CHECK_EQ(oc.depth, round == 2);
        /* nothing the callback tried happened, and the heap goes on */
        CHECK(vnv_is_open(&f.heap));
        CHECK_EQ(stats(&f).allocs, before.allocs);
        vnv_obj_t r;
        CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
        CHECK(vnv_same(r, oc.obj));
        CHECK_EQ(vnv_read(&f.heap, oc.obj, 0, &v, sizeof v), VNV_OK);
        CHECK_EQ(v, 7u);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    }
#if !VNV_MINIMAL
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
#endif
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK_EQ(vnv_read(&f.heap, oc.obj, 0, &v, sizeof v), VNV_OK);
    CHECK_EQ(v, 7u);
    fx_free(&f);
}

/* ---- two heaps, one storage ---------------------------------------------------------------- */

/* A second heap on the storage or the RAM buffer of an open one is refused. */
static void test_second_heap_on_same_storage(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    struct vnv_heap *other = malloc(sizeof *other);
    uint8_t *ram = aligned_alloc(8, 2048);
    REQUIRE(other && ram);
    memset(other, 0, sizeof *other);
    struct vnv_config c = f.cfg;
    c.buffer = ram;
    uint64_t writes = f.emu.write_calls;
    CHECK_EQ(vnv_open(other, &c), VNV_ERR_BUSY);
    CHECK_EQ(vnv_format(other, &c), VNV_ERR_BUSY);
    CHECK_EQ(f.emu.write_calls, writes); /* refused before touching storage */
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    /* other storage, but the first heap's RAM buffer, whole or in part: refused too */
    struct fixture g;
    fx_init(&g, 16384, 2048, 512);
    g.cfg.buffer = f.ram;
    CHECK_EQ(vnv_format(&g.heap, &g.cfg), VNV_ERR_BUSY);
    g.cfg.buffer = f.ram + 1024;
    CHECK_EQ(vnv_format(&g.heap, &g.cfg), VNV_ERR_BUSY);
    g.cfg.buffer = g.ram; /* its own: fine */
    CHECK_EQ(vnv_format(&g.heap, &g.cfg), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK_EQ(vnv_close(&g.heap), VNV_OK);
    fx_free(&g);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    CHECK_EQ(vnv_open(other, &c), VNV_OK); /* once the first is closed */
    CHECK_EQ(vnv_close(other), VNV_OK);
    free(other);
    free(ram);
    fx_free(&f);
}

/* ---- handles of another heap ---------------------------------------------------------------
 * Two heaps formatted alike, with the same allocations, must not issue the same handles: a
 * handle passed to the wrong heap (or kept from before a format) names nothing there. */

static void test_handles_of_another_heap(void)
{
    struct fixture f, g;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    REQUIRE(fx_format(&g, 16384, 2048, 512) == VNV_OK);
    vnv_obj_t a[3], b[3];
    uint32_t v = 5, got = 0;
    void *p;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &a[i]), VNV_OK);
        CHECK_EQ(vnv_alloc(&g.heap, 40, NULL, &b[i]), VNV_OK);
        CHECK(!vnv_same(a[i], b[i]));
    }
    CHECK_EQ(vnv_unload(&g.heap, b[2]), VNV_OK); /* one checked at its home, not in RAM */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(vnv_read(&g.heap, a[i], 0, &got, sizeof got), VNV_ERR_INVAL);
        CHECK_EQ(vnv_write(&g.heap, a[i], 0, &v, sizeof v), VNV_ERR_INVAL);
        CHECK_EQ(vnv_get_mut(&g.heap, a[i], &p), VNV_ERR_INVAL);
        CHECK_EQ(vnv_set_root(&g.heap, a[i]), VNV_ERR_INVAL);
        CHECK_EQ(vnv_free(&g.heap, a[i]), VNV_ERR_INVAL);
    }
    CHECK_EQ(vnv_check(&g.heap), VNV_OK);
    CHECK_EQ(vnv_close(&g.heap), VNV_OK);
    fx_free(&g);
    /* formatted again (same storage, same RAM): the old handles name nothing new */
    CHECK_EQ(vnv_write(&f.heap, a[0], 0, &v, sizeof v), VNV_OK);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    vnv_obj_t n[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &n[i]), VNV_OK);
        for (int k = 0; k < 3; k++)
            CHECK(!vnv_same(n[i], a[k]));
    }
    for (int i = 0; i < 3; i++)
        CHECK_EQ(vnv_read(&f.heap, a[i], 0, &got, sizeof got), VNV_ERR_INVAL);
    CHECK_EQ(vnv_read(&f.heap, n[0], 0, &got, sizeof got), VNV_OK);
    CHECK_EQ(got, 0u);
    /* a copy of this image formatted as a new heap, while this one goes on from where the
     * copy was taken: the two issue different handles */
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    REQUIRE(fx_format(&g, 16384, 2048, 512) == VNV_OK);
    CHECK_EQ(vnv_close(&g.heap), VNV_OK);
    memcpy(g.nv, f.nv, 16384);
    CHECK_EQ(vnv_format(&g.heap, &g.cfg), VNV_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &a[i]), VNV_OK);
        CHECK_EQ(vnv_alloc(&g.heap, 40, NULL, &b[i]), VNV_OK);
        CHECK(!vnv_same(a[i], b[i]));
        CHECK_EQ(vnv_read(&g.heap, a[i], 0, &got, sizeof got), VNV_ERR_INVAL);
    }
    fx_free(&g);
    fx_free(&f);
}

/* The counter left on the storage is a hint for the new start: the new heap goes on just
 * past a plausible one (by at most 2^32), and ignores one in the top half of the tag space
 * (damage, a crafted image), so the counter stays far from where tags repeat. */
static void test_old_counter_hint(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    uint64_t room = UINT64_MAX >> (f.heap.unit_bits + 2u);
    uint32_t at[2] = {f.heap.ckpt_off + 32u, f.heap.ckpt_off + f.heap.ckpt_cap + 32u};
    uint64_t fresh = f.heap.alloc_count; /* no hint: the address part, within a quarter */
    CHECK(fresh > 0 && fresh <= room);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    uint64_t hint = 2u * room - 5u; /* the largest kind of hint taken */
    memcpy(f.nv + at[1], &hint, sizeof hint);
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    CHECK(f.heap.alloc_count > hint && f.heap.alloc_count - hint <= ((uint64_t)1 << 32));
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    for (int k = 0; k < 2; k++) {
        uint64_t bad = 2u * room + (uint64_t)k * (UINT64_MAX - 2u * room); /* and 2^64 - 1 */
        memcpy(f.nv + at[0], &bad, sizeof bad);
        memcpy(f.nv + at[1], &bad, sizeof bad);
        memset(f.nv + VNV_SUPERBLOCK_SIZE, 0, VNV_TAG_AREA_SIZE); /* (a hint too: below) */
        CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
        CHECK_EQ(f.heap.alloc_count, fresh); /* ignored: the address part only */
        vnv_obj_t o;
        uint32_t v = 3;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof v, &v, &o), VNV_OK);
        CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    }
    /* an intact tag reservation record is a hint under the same bound: one in the top half
     * (below the end of the tag space, where open would believe it) is ignored too */
    memset(f.nv + at[0], 0, 8);
    memset(f.nv + at[1], 0, 8);
    vnv_img_put_tag_record(f.nv, 16384, 0, 2u * room);
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    CHECK_EQ(f.heap.alloc_count, fresh);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    vnv_img_put_tag_record(f.nv, 16384, 0, 2u * room - 3u);
    vnv_img_put_tag_record(f.nv, 16384, 1, 0);
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    CHECK(f.heap.alloc_count > 2u * room - 3u);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    /* the tag reservation format wrote (2^20 ahead) is a hint as well, the larger one here */
    memset(f.nv + at[0], 0, 8);
    memset(f.nv + at[1], 0, 8);
    memset(f.nv + VNV_SUPERBLOCK_SIZE, 0, VNV_TAG_AREA_SIZE);
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    CHECK_EQ(f.heap.alloc_count, fresh); /* (no hint left) */
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK);
    CHECK(f.heap.alloc_count > fresh + ((uint64_t)1 << 20));
    CHECK(f.heap.alloc_count - fresh - ((uint64_t)1 << 20) <= ((uint64_t)1 << 32));
    fx_free(&f);
}

/* Formats of one storage one after the other (a test rig, a device reset to factory state
 * over and over): no handle of an earlier heap is issued again. Each format went past the
 * last counter by up to 2^48 before, so after about 20 formats the counter left half of the
 * tag space, the hint was dropped, and the first heap's handles came back (an outside
 * review's finding). */
static void test_formats_in_a_row_never_reissue(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    enum { FORMATS = 3000 };
    uint64_t *ids = malloc(FORMATS * sizeof *ids);
    REQUIRE(ids != NULL);
    for (uint32_t i = 0; i < FORMATS; i++) {
        vnv_obj_t o;
        CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &o), VNV_OK);
        ids[i] = o.id;
        CHECK(i == 0 || ids[i] > ids[i - 1]); /* (rising: so all distinct) */
        if (i % 2)
            CHECK_EQ(vnv_close(&f.heap), VNV_OK);
        CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_OK); /* (an open heap: abandoned first) */
    }
    free(ids);
    fx_free(&f);
}

/* A callback that abandons its heap (not one of the calls it may make, but it must not be
 * brought back to life): the heap stays closed, and its storage opens again. */
static int abandoning_cb(void *user, int status, void *buf, size_t len)
{
    (void)status;
    (void)buf;
    (void)len;
    vnv_abandon(&((struct fixture *)user)->heap);
    return 0;
}

static void test_abandoned_in_callback_stays_closed(void)
{
    struct fixture f;
    fx_init(&f, 16384, 2048, 512);
    f.cfg.on_persist = abandoning_cb;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    vnv_obj_t o;
    uint32_t v = 8;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, &v, &o), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, o), VNV_OK);
    CHECK_EQ(vnv_persist_all(), VNV_ERR_INVAL); /* (as the header says) */
    CHECK(!vnv_is_open(&f.heap));
    CHECK_EQ(vnv_read(&f.heap, o, 0, &v, sizeof v), VNV_ERR_INVAL);
    f.cfg.on_persist = NULL;
    CHECK_EQ(fx_reboot(&f), VNV_OK); /* the checkpoint before the callback holds it */
    v = 0;
    CHECK_EQ(vnv_read(&f.heap, o, 0, &v, sizeof v), VNV_OK);
    CHECK_EQ(v, 8u);
    fx_free(&f);
}

/* ---- a copied control block ------------------------------------------------------------------
 * A struct copy of an open heap would share its RAM and storage with counters of its own:
 * every call through the copy is refused, and the heap itself goes on unharmed. */

static void test_copied_control_block(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    vnv_obj_t a, b, r;
    uint32_t v = 9, got = 0;
    void *p;
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &a), VNV_OK);
    struct vnv_heap *copy = malloc(sizeof *copy);
    REQUIRE(copy != NULL);
    memcpy(copy, &f.heap, sizeof *copy);
    CHECK(!vnv_is_open(copy));
    CHECK_EQ(vnv_alloc(copy, 4, &v, &b), VNV_ERR_INVAL);
    CHECK_EQ(vnv_read(copy, a, 0, &got, sizeof got), VNV_ERR_INVAL);
    CHECK_EQ(vnv_write(copy, a, 0, &v, sizeof v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get_mut(copy, a, &p), VNV_ERR_INVAL);
    CHECK_EQ(vnv_free(copy, a), VNV_ERR_INVAL);
    CHECK_EQ(vnv_root(copy, &r), VNV_ERR_INVAL);
    CHECK_EQ(vnv_checkpoint(copy), VNV_ERR_INVAL);
    CHECK_EQ(vnv_close(copy), VNV_ERR_INVAL);
    vnv_abandon(copy); /* (not registered: nothing to undo) */
    CHECK(vnv_is_open(&f.heap));
    CHECK_EQ(vnv_read(&f.heap, a, 0, &got, sizeof got), VNV_OK);
    CHECK_EQ(got, 9u);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK_EQ(vnv_persist_all(), VNV_OK); /* the registry still names the heap itself */
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK_EQ(vnv_read(&f.heap, a, 0, &got, sizeof got), VNV_OK);
    CHECK_EQ(got, 9u);
    free(copy);
    fx_free(&f);
}

/* format and open on a control block that is open and in use: vnv_close returns BUSY
 * there, and so must they. They wiped the heap and returned OK: inside an atomic group the
 * group was dropped without a rollback or a commit, and with an object pinned the
 * caller's pointer went on into a rebuilt buffer (its release then said INVAL). An idle
 * open block is still abandoned and re-initialised (documented). */
static void test_format_or_open_of_a_heap_in_use(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    vnv_obj_t a, r;
    uint32_t v = 7, got = 0, *p = NULL;
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &a), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, a), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    v = 8;
    CHECK_EQ(vnv_write(&f.heap, a, 0, &v, sizeof v), VNV_OK); /* after the checkpoint */
    for (int how = VNV_MINIMAL ? 1 : 0; how < 2; how++) {
#if !VNV_MINIMAL
        if (how == 0) { /* an atomic group open */
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
            v = 9;
            CHECK_EQ(vnv_write(&f.heap, a, 0, &v, sizeof v), VNV_OK);
        }
#endif
        if (how == 1) /* a writer pin */
            CHECK_EQ(vnv_get_mut(&f.heap, a, (void **)&p), VNV_OK);
        CHECK_EQ(vnv_format(&f.heap, &f.cfg), VNV_ERR_BUSY);
        CHECK_EQ(vnv_open(&f.heap, &f.cfg), VNV_ERR_BUSY);
        CHECK(vnv_is_open(&f.heap)); /* nothing changed: */
        CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
        CHECK(vnv_same(r, a));
#if !VNV_MINIMAL
        if (how == 0) {
            CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
            CHECK_EQ(vnv_read(&f.heap, a, 0, &got, sizeof got), VNV_OK);
            CHECK_EQ(got, 9u);
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK); /* the group's write undone */
        }
#endif
        if (how == 1 && p) {
            CHECK_EQ(*p, 8u);
            *p = 10;
            CHECK_EQ(vnv_release(&f.heap, a), VNV_OK);
        }
    }
    CHECK_EQ(vnv_read(&f.heap, a, 0, &got, sizeof got), VNV_OK);
    CHECK_EQ(got, 10u);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK_EQ(vnv_open(&f.heap, &f.cfg), VNV_OK); /* idle: back to the last checkpoint */
    CHECK_EQ(vnv_read(&f.heap, a, 0, &got, sizeof got), VNV_OK);
    CHECK_EQ(got, 7u);
    /* A control block kept in RAM that a reset does not clear (a noinit section), with a
     * pin of the run before: after the reset the registry (.bss) no longer names it, so it
     * is not in use, and open must work. */
    CHECK_EQ(vnv_get_mut(&f.heap, a, (void **)&p), VNV_OK);
    struct vnv_heap *kept = malloc(sizeof *kept);
    REQUIRE(kept != NULL);
    memcpy(kept, &f.heap, sizeof *kept);
    vnv_abandon(&f.heap); /* the reset: out of the registry */
    memcpy(&f.heap, kept, sizeof *kept); /* the retained bytes: open, pinned */
    CHECK_EQ(vnv_open(&f.heap, &f.cfg), VNV_OK);
    CHECK_EQ(vnv_read(&f.heap, a, 0, &got, sizeof got), VNV_OK);
    CHECK_EQ(got, 7u);
    free(kept);
    fx_free(&f);
}

/* ---- the root of a freed object ----------------------------------------------------------- */

static void test_free_root_clears_it(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 16384, 2048, 512) == VNV_OK);
    vnv_obj_t a, b, r;
    uint32_t v = 1;
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &a), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &b), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_free(&f.heap, b), VNV_OK); /* not the root: root kept */
    CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
    CHECK(vnv_same(r, a));
    CHECK_EQ(vnv_free(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
    CHECK(vnv_is_null(r));
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* records no dangling root */
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
    CHECK(vnv_is_null(r));
    /* set_root(NULL) only forgets the root; the object stays */
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &a), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, a), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, VNV_NULL), VNV_OK);
    CHECK_EQ(vnv_read(&f.heap, a, 0, &v, 4), VNV_OK);
    CHECK_EQ(v, 1);
    fx_free(&f);
}

/* ---- what an interrupt handler learns, and the statistics --------------------------------- */

/* A callback that requests another checkpoint while it runs, as a second power-fail
 * interrupt would: the heap answers it with a round that writes nothing. */
static int renotify_cb(void *user, int status, void *buf, size_t len)
{
    struct fixture *f = user;
    (void)status;
    f->persist_calls++;
    if (f->persist_calls == 1)
        CHECK_EQ(vnv_persist_all(), VNV_PERSIST_DEFERRED); /* nested: deferred */
    memset(buf, 0, len);
    return 1;
}

static void test_persist_statistics(void)
{
    struct fixture f;
    fx_init(&f, 16384, 2048, 512);
    f.cfg.on_persist = renotify_cb;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    vnv_obj_t o;
    uint32_t v = 3;
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &o), VNV_OK);
    struct vnv_stats b = stats(&f);
    CHECK_EQ(vnv_persist_all(), VNV_OK);
    struct vnv_stats a = stats(&f);
    CHECK_EQ(f.persist_calls, 2);                    /* the nested request got a round */
    CHECK_EQ(a.callbacks - b.callbacks, 2);
    CHECK_EQ(a.persists - b.persists, 1);            /* ... that wrote nothing */
    CHECK_EQ(a.rounds_unwritten - b.rounds_unwritten, 1);
    CHECK_EQ(a.restores - b.restores, 2);            /* each round's callback lost RAM */
    CHECK_EQ(a.deferred - b.deferred, 1);
    CHECK_EQ(a.persist_errors, 0);
    CHECK_EQ(vnv_read(&f.heap, o, 0, &v, 4), VNV_OK);
    CHECK_EQ(v, 3);
    fx_free(&f);
}

/* Requests that keep arriving during every callback (a supply that never recovers) get at
 * most VNV_PERSIST_ROUNDS rounds, so restores per checkpoint are bounded; the last request
 * waits for the next section's end. */
static int storm_cb(void *user, int status, void *buf, size_t len)
{
    struct fixture *f = user;
    (void)status;
    f->persist_calls++;
    (void)vnv_persist_all();
    memset(buf, 0, len);
    return 1;
}

static void test_restore_storm_bounded(void)
{
    struct fixture f;
    fx_init(&f, 16384, 2048, 512);
    f.cfg.on_persist = storm_cb;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    vnv_obj_t o;
    uint32_t v = 9;
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &o), VNV_OK);
    struct vnv_stats b = stats(&f);
    CHECK_EQ(vnv_persist_all(), VNV_OK);
    struct vnv_stats a = stats(&f);
    CHECK_EQ(a.persists - b.persists, 1);
    CHECK(a.restores - b.restores >= 1);
    CHECK_EQ(a.restores - b.restores, VNV_PERSIST_ROUNDS); /* every round lost RAM: the bound */
    CHECK_EQ(a.callbacks - b.callbacks, a.restores - b.restores);
    f.cfg.on_persist = NULL;
    f.heap.on_persist = NULL; /* white-box: stop the storm; the left request runs next */
    CHECK_EQ(vnv_read(&f.heap, o, 0, &v, 4), VNV_OK);
    CHECK_EQ(v, 9);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* Every result code has its name; anything else one fixed name, never NULL. */
static void test_strerror_names_every_code(void)
{
    static const struct {
        int code;
        const char *name;
    } codes[] = {
        {VNV_OK, "VNV_OK"},
        {VNV_ERR_INVAL, "VNV_ERR_INVAL"},
        {VNV_ERR_NOMEM, "VNV_ERR_NOMEM"},
        {VNV_ERR_NOSPC, "VNV_ERR_NOSPC"},
        {VNV_ERR_IO, "VNV_ERR_IO"},
        {VNV_ERR_BUSY, "VNV_ERR_BUSY"},
        {VNV_ERR_CORRUPT, "VNV_ERR_CORRUPT"},
        {VNV_ERR_BUDGET, "VNV_ERR_BUDGET"},
        {VNV_ERR_NOHEAP, "VNV_ERR_NOHEAP"},
        {VNV_ERR_VERSION, "VNV_ERR_VERSION"},
        {VNV_PERSIST_DEFERRED, "VNV_PERSIST_DEFERRED"},
        {-1, "VNV_ERR_UNKNOWN"},
        {2, "VNV_ERR_UNKNOWN"},
        {-2147483647 - 1, "VNV_ERR_UNKNOWN"},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = vnv_strerror(codes[i].code);
        CHECK(s != NULL && strcmp(s, codes[i].name) == 0);
    }
}

/* An intact heap opened with a buffer too small for its layout is the caller's
 * configuration, not damage: INVAL, never CORRUPT (which tells firmware the data is gone).
 * At every buffer size from tiny to the one at format the answer is OK or INVAL, and the
 * heap opens again with the right buffer. A unit no format writes (superblock re-sealed)
 * is CORRUPT. (An outside test found CORRUPT for 200- and 1000-byte buffers.) */
static void test_small_buffer_is_a_configuration_error(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 256u * 1024u, 16384, 2048) == VNV_OK);
    uint32_t v = 7;
    vnv_obj_t o;
    CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &o), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, o), VNV_OK);
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    static uint8_t small[16384] __attribute__((aligned(8)));
    unsigned invalid = 0;
    for (uint32_t size = 64; size <= sizeof small; size += size < 2048 ? 40u : 1024u) {
        struct vnv_config c = f.cfg;
        c.buffer = small;
        c.buffer_size = size;
        int err = vnv_open(&f.heap, &c);
        CHECK(err == VNV_OK || err == VNV_ERR_INVAL);
        invalid += err == VNV_ERR_INVAL;
        if (err == VNV_OK)
            CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    }
    CHECK(invalid > 0);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    vnv_obj_t r;
    CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
    CHECK(vnv_same(r, o));
    CHECK_EQ(vnv_close(&f.heap), VNV_OK);
    /* a forged unit (3) in an intact-looking superblock: damage */
    vnv_img_put32(f.nv, 256u * 1024u, VNV_IMG_SB_UNIT, 3);
    vnv_img_fix_superblock(f.nv, 256u * 1024u);
    struct vnv_config c = f.cfg;
    c.buffer = small;
    c.buffer_size = 1000;
    CHECK_EQ(vnv_open(&f.heap, &c), VNV_ERR_CORRUPT);
    fx_free(&f);
}

int main(void)
{
    RUN(test_strerror_names_every_code);
    RUN(test_small_buffer_is_a_configuration_error);
    RUN(test_lifecycle_from_callback_refused);
    RUN(test_object_calls_from_callback_refused);
    RUN(test_second_heap_on_same_storage);
    RUN(test_handles_of_another_heap);
    RUN(test_copied_control_block);
    RUN(test_format_or_open_of_a_heap_in_use);
    RUN(test_old_counter_hint);
    RUN(test_formats_in_a_row_never_reissue);
    RUN(test_abandoned_in_callback_stays_closed);
    RUN(test_free_root_clears_it);
    RUN(test_persist_statistics);
    RUN(test_restore_storm_bounded);
    return vtest_summary();
}

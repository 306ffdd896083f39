/*
 * test_group.c - failure-atomic groups (vnv_atomic_begin / end / abort).
 *
 * A power-fail request inside a group is served at once (not deferred); a resume continues
 * inside the group with all its changes; a restart sees the state before the group (or
 * after it, once a checkpoint followed its end); abort rolls back in the running program.
 * Then a randomized model test with power cuts at every kind of instant, and a task-based
 * application (a small key-value store, every insert and delete one group) restarted at
 * random instants, whose final contents must equal a run without failures.
 */
#include <stdlib.h>

#include "fixture.h"
#include "image_crc.h"
#include "rng.h"
#include "vtest.h"
#include "vnvheap/list.h"

#define NV (64u * 1024u)
#define RAM 4096u
#define DIRTY 1024u

static struct vnv_stats stats(struct fixture *f)
{
    struct vnv_stats s;
    memset(&s, 0, sizeof s);
    (void)vnv_stats(&f->heap, &s);
    return s;
}

static uint32_t get_u32(struct fixture *f, vnv_obj_t o, int *err)
{
    uint32_t v = 0;
    *err = vnv_read(&f->heap, o, 0, &v, sizeof v);
    return v;
}

static void put_u32(struct fixture *f, vnv_obj_t o, uint32_t v)
{
    CHECK_EQ(vnv_write(&f->heap, o, 0, &v, sizeof v), VNV_OK);
}

/* Objects a (resident, dirty), b (resident, clean), c (not resident), d (freed in the
 * group), root = a; the group changes a, b, c, frees d, allocates n, moves the root. */
struct scene {
    vnv_obj_t a, b, c, d, n;
};

static void setup_scene(struct fixture *f, struct scene *sc)
{
    uint32_t v;
    REQUIRE(fx_format(f, NV, RAM, DIRTY) == VNV_OK);
    v = 1;
    CHECK_EQ(vnv_alloc(&f->heap, 4, &v, &sc->b), VNV_OK);
    v = 3;
    CHECK_EQ(vnv_alloc(&f->heap, 4, &v, &sc->c), VNV_OK);
    v = 4;
    CHECK_EQ(vnv_alloc(&f->heap, 4, &v, &sc->d), VNV_OK);
    CHECK_EQ(vnv_flush(&f->heap, sc->b), VNV_OK);
    CHECK_EQ(vnv_unload(&f->heap, sc->c), VNV_OK);
    CHECK_EQ(vnv_set_root(&f->heap, sc->b), VNV_OK);
    f->wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f->heap), VNV_OK);
    /* changes after the checkpoint and before the group: they belong to "before" */
    v = 10;
    CHECK_EQ(vnv_alloc(&f->heap, 4, &v, &sc->a), VNV_OK); /* resident, dirty, never homed */
    CHECK_EQ(vnv_set_root(&f->heap, sc->a), VNV_OK);
}

static void change_in_group(struct fixture *f, struct scene *sc)
{
    CHECK_EQ(vnv_atomic_begin(&f->heap), VNV_OK);
    put_u32(f, sc->a, 11);
    put_u32(f, sc->b, 2);
    uint32_t *p;
    CHECK_EQ(vnv_get_mut(&f->heap, sc->c, (void **)&p), VNV_OK);
    *p = 30;
    CHECK_EQ(vnv_release(&f->heap, sc->c), VNV_OK);
    CHECK_EQ(vnv_free(&f->heap, sc->d), VNV_OK);
    uint32_t v = 99;
    CHECK_EQ(vnv_alloc(&f->heap, 4, &v, &sc->n), VNV_OK);
    CHECK_EQ(vnv_set_root(&f->heap, sc->n), VNV_OK);
}

/* before: a=10 b=1 c=3 d=4 root=a, n invalid; after: a=11 b=2 c=30 d invalid n=99 root=n */
static void expect(struct fixture *f, const struct scene *sc, int after)
{
    int e;
    vnv_obj_t r;
    CHECK_EQ(get_u32(f, sc->a, &e), after ? 11u : 10u);
    CHECK_EQ(e, VNV_OK);
    CHECK_EQ(get_u32(f, sc->b, &e), after ? 2u : 1u);
    CHECK_EQ(get_u32(f, sc->c, &e), after ? 30u : 3u);
    uint32_t dv = get_u32(f, sc->d, &e);
    CHECK_EQ(e, after ? VNV_ERR_INVAL : VNV_OK);
    if (!after)
        CHECK_EQ(dv, 4);
    uint32_t nv = get_u32(f, sc->n, &e);
    CHECK_EQ(e, after ? VNV_OK : VNV_ERR_INVAL);
    if (after)
        CHECK_EQ(nv, 99);
    CHECK_EQ(vnv_root(&f->heap, &r), VNV_OK);
    CHECK(vnv_same(r, after ? sc->n : sc->a));
    CHECK_EQ(vnv_check(&f->heap), VNV_OK);
}

static void test_checkpoint_inside_group_served_at_once(void)
{
    struct fixture f;
    struct scene sc;
    setup_scene(&f, &sc);
    change_in_group(&f, &sc);
    unsigned calls = f.persist_calls;
    f.wipe = 1; /* the power-fail interrupt, RAM lost, resume */
    CHECK_EQ(vnv_persist_all(), VNV_OK); /* not deferred: the group is no critical section */
    CHECK_EQ(f.persist_calls, calls + 1);
    CHECK_EQ(stats(&f).deferred, 0);
    expect(&f, &sc, 1); /* resume: every change of the group is still there */
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* allowed inside a group too */
    /* restart: the state before the group, exactly */
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    expect(&f, &sc, 0);
    /* the rolled-back heap works on, and the freed-then-revived object is a normal one */
    put_u32(&f, sc.d, 5);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    int e;
    CHECK_EQ(get_u32(&f, sc.d, &e), 5u);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

static void test_end_then_checkpoint_keeps_the_group(void)
{
    struct fixture f;
    struct scene sc;
    setup_scene(&f, &sc);
    change_in_group(&f, &sc);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* inside */
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
    expect(&f, &sc, 1);
    /* ended, but no checkpoint since: a restart still sees "before" */
    struct vnv_heap keep = f.heap;
    (void)keep;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* after the end */
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    expect(&f, &sc, 1);
    fx_free(&f);
}

static void test_end_without_checkpoint_restarts_before(void)
{
    struct fixture f;
    struct scene sc;
    setup_scene(&f, &sc);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* "before" committed */
    change_in_group(&f, &sc);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* inside */
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
    put_u32(&f, sc.a, 12); /* after the group; flushed, evicted: homes change */
    CHECK_EQ(vnv_unload(&f.heap, sc.a), VNV_OK);
    CHECK_EQ(vnv_unload(&f.heap, sc.b), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK); /* the last checkpoint was inside the group */
    expect(&f, &sc, 0);
    fx_free(&f);
}

static void test_abort_rolls_back(void)
{
    struct fixture f;
    struct scene sc;
    setup_scene(&f, &sc);
    change_in_group(&f, &sc);
    const void *p;
    CHECK_EQ(vnv_get(&f.heap, sc.a, &p), VNV_OK);
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_BUSY); /* a member is pinned */
    CHECK_EQ(vnv_release(&f.heap, sc.a), VNV_OK);
    CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK); /* nested: abort takes the whole group */
    CHECK_EQ(vnv_atomic_depth(&f.heap), 2);
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
    CHECK_EQ(vnv_atomic_depth(NULL), 0);
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_ERR_INVAL); /* nothing open any more */
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_INVAL);
    expect(&f, &sc, 0);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    expect(&f, &sc, 0);
    fx_free(&f);
}

/* Nesting is flat: an inner end only counts - the group stays open, so a checkpoint taken
 * then still restarts before the whole group - and the outermost end commits. Only the
 * outermost begin refuses while an object is pinned for writing; 255 deep is the limit. */
static void test_nesting_is_flat(void)
{
    for (int outer_end = 0; outer_end < 2; outer_end++) {
        struct fixture f;
        struct scene sc;
        setup_scene(&f, &sc);
        uint32_t *p;
        CHECK_EQ(vnv_get_mut(&f.heap, sc.b, (void **)&p), VNV_OK);
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_ERR_BUSY); /* a writer pin from before */
        CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
        CHECK_EQ(vnv_release(&f.heap, sc.b), VNV_OK);
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        change_in_group(&f, &sc); /* (its begin is the inner one) */
        CHECK_EQ(vnv_atomic_depth(&f.heap), 2);
        CHECK_EQ(vnv_get_mut(&f.heap, sc.a, (void **)&p), VNV_OK);
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK); /* inner: a writer pin is fine */
        CHECK_EQ(vnv_release(&f.heap, sc.a), VNV_OK);
        CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
        CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
        CHECK_EQ(vnv_atomic_depth(&f.heap), 1); /* still open: nothing committed */
        expect(&f, &sc, 1);
        if (outer_end) {
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_ERR_INVAL);
        }
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(fx_reboot(&f), VNV_OK);
        expect(&f, &sc, outer_end); /* inside the outer group: before all of it */
        CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
        fx_free(&f);
    }
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    for (int i = 0; i < 255; i++)
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_ERR_BUSY);
    CHECK_EQ(vnv_atomic_depth(&f.heap), 255);
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_depth(&f.heap), 254);
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK); /* at any depth: the whole group */
    CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    vnv_abandon(&f.heap); /* a heap that is not open is in no group */
    CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
    fx_free(&f);
}

/* Dirty objects in a group keep their value from before it in RAM (a pre-image, or for a
 * freed one its handle), charged to the budget, with no storage traffic: a dirty one
 * changed, one changed then freed, one freed; the group's checkpoint holds what a restart
 * needs; abort, restart and resume all come out right. */
static void test_dirty_members_cost_no_traffic(void)
{
    for (int how = 0; how < 3; how++) { /* 0 abort, 1 restart from inside, 2 resume + end */
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        uint8_t va[40], vb[24], vc[16];
        memset(va, 0xA1, sizeof va);
        memset(vb, 0xB1, sizeof vb);
        memset(vc, 0xC1, sizeof vc);
        vnv_obj_t a, b, c;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof va, va, &a), VNV_OK); /* dirty, never homed */
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vb, vb, &b), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vc, vc, &c), VNV_OK);
        CHECK_EQ(vnv_set_root(&f.heap, c), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        uint32_t used0 = stats(&f).checkpoint_bytes;
        uint64_t w0 = f.emu.write_calls, r0 = f.emu.read_calls;
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        uint8_t x[40];
        memset(x, 0xA2, sizeof x);
        CHECK_EQ(vnv_write(&f.heap, a, 0, x, sizeof x), VNV_OK);
        CHECK_EQ(stats(&f).checkpoint_bytes, used0 + sizeof va); /* the pre-image is charged */
        CHECK_EQ(vnv_write(&f.heap, b, 0, x, 8), VNV_OK);
        CHECK_EQ(vnv_free(&f.heap, b), VNV_OK); /* changed, then freed */
        CHECK_EQ(vnv_free(&f.heap, c), VNV_OK); /* freed: the root goes with it */
        CHECK_EQ(f.emu.write_calls, w0);
        CHECK_EQ(f.emu.read_calls, r0);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        uint8_t got[40];
        if (how == 0) {
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        } else if (how == 1) {
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* inside: data + pre blocks */
            CHECK_EQ(fx_reboot(&f), VNV_OK);
        } else {
            f.wipe = 1;
            CHECK_EQ(vnv_persist_all(), VNV_OK); /* RAM lost and rebuilt: still inside */
            CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
            CHECK_EQ(vnv_read(&f.heap, a, 0, got, sizeof x), VNV_OK);
            CHECK(memcmp(got, x, sizeof x) == 0);
            CHECK_EQ(vnv_read(&f.heap, b, 0, got, 1), VNV_ERR_INVAL);
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK); /* the resumed group rolls back */
        }
        CHECK_EQ(vnv_read(&f.heap, a, 0, got, sizeof va), VNV_OK);
        CHECK(memcmp(got, va, sizeof va) == 0);
        CHECK_EQ(vnv_read(&f.heap, b, 0, got, sizeof vb), VNV_OK); /* back, as before */
        CHECK(memcmp(got, vb, sizeof vb) == 0);
        CHECK_EQ(vnv_read(&f.heap, c, 0, got, sizeof vc), VNV_OK);
        CHECK(memcmp(got, vc, sizeof vc) == 0);
        vnv_obj_t r;
        CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
        CHECK(vnv_same(r, c));
        CHECK_EQ(stats(&f).checkpoint_bytes, used0); /* pre blocks released */
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        /* and committed: the pre blocks go, the changes stay */
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, a, 0, x, sizeof x), VNV_OK);
        CHECK_EQ(vnv_free(&f.heap, b), VNV_OK);
        CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, a, 0, got, sizeof x), VNV_OK);
        CHECK(memcmp(got, x, sizeof x) == 0);
        CHECK_EQ(vnv_read(&f.heap, b, 0, got, 1), VNV_ERR_INVAL);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* A dirty member with a pre-image freed when the budget has no 8 bytes left for its pre
 * block: its value from before the group goes home instead (one write), and abort, a
 * restart from inside and an end all come out right. */
static void test_free_with_full_budget_sends_the_pre_image_home(void)
{
    for (int how = 0; how < 3; how++) { /* 0 abort, 1 restart from inside, 2 end */
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        uint8_t va[44], x[44], got[44];
        memset(va, 0xA1, sizeof va);
        memset(x, 0xA2, sizeof x);
        vnv_obj_t a, keep;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof va, va, &a), VNV_OK); /* dirty, never homed */
        CHECK_EQ(vnv_alloc(&f.heap, 4, va, &keep), VNV_OK);
        CHECK_EQ(vnv_set_root(&f.heap, keep), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, a, 0, x, sizeof x), VNV_OK); /* a pre-image in RAM */
        /* fill the budget: each new object goes home with an undo entry (12 bytes) until
         * that fails; with 44-byte objects a's pre-image leaves it exactly full */
        vnv_obj_t n;
        while (vnv_alloc(&f.heap, 64, NULL, &n) == VNV_OK) {
        }
        REQUIRE(DIRTY - stats(&f).checkpoint_bytes < 8u); /* no room for a pre block */
        uint64_t w0 = f.emu.write_calls;
        CHECK_EQ(vnv_free(&f.heap, a), VNV_OK);
        CHECK_EQ(f.emu.write_calls, w0 + 1); /* the value from before, to its home */
        CHECK_EQ(vnv_read(&f.heap, a, 0, got, 1), VNV_ERR_INVAL);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        if (how == 0) {
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        } else if (how == 1) {
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            CHECK_EQ(fx_reboot(&f), VNV_OK);
        } else {
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            CHECK_EQ(fx_reboot(&f), VNV_OK);
        }
        int e = vnv_read(&f.heap, a, 0, got, sizeof va);
        CHECK_EQ(e, how == 2 ? VNV_ERR_INVAL : VNV_OK);
        if (how != 2)
            CHECK(memcmp(got, va, sizeof va) == 0); /* back, with its value from before */
        CHECK_EQ(vnv_read(&f.heap, keep, 0, got, 4), VNV_OK);
        CHECK(memcmp(got, va, 4) == 0);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* An object freed in a group whose home holds its value from before the group needs no RAM
 * copy: a non-resident one is not loaded (no data read, no write), a clean resident one
 * gives its data's RAM back, a changed one (its earlier value flushed home) drops its
 * changes from the checkpoint. Each leaves a 16-byte record (plus a block object's bitmap)
 * that refuses its handle until the group ends. Abort, restart from inside, resume then
 * abort, and resume then end all come out right. */
static void test_free_in_group_keeps_no_copy(void)
{
    for (int how = 0; how < 4; how++) { /* abort, restart, resume + abort, resume + end */
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        uint8_t vx[300], vp[256], vy[100], vz[60], got[300];
        memset(vx, 0x11, sizeof vx);
        memset(vp, 0x22, sizeof vp);
        memset(vy, 0x33, sizeof vy);
        memset(vz, 0x44, sizeof vz);
        vnv_obj_t x, p, y, z;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vx, vx, &x), VNV_OK);
        CHECK_EQ(vnv_alloc_blocks(&f.heap, sizeof vp, 32, vp, &p), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vy, vy, &y), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vz, vz, &z), VNV_OK);
        CHECK_EQ(vnv_unload(&f.heap, x), VNV_OK);
        CHECK_EQ(vnv_unload(&f.heap, p), VNV_OK);
        CHECK_EQ(vnv_flush(&f.heap, y), VNV_OK); /* resident, clean */
        CHECK_EQ(vnv_flush(&f.heap, z), VNV_OK);
        CHECK_EQ(vnv_set_root(&f.heap, x), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        struct vnv_stats s0 = stats(&f);
        uint64_t w0 = f.emu.write_calls, r0 = f.emu.read_calls;
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        uint8_t zz[60];
        memset(zz, 0x45, sizeof zz);
        CHECK_EQ(vnv_write(&f.heap, z, 0, zz, sizeof zz), VNV_OK); /* z: dirty member */
        CHECK_EQ(vnv_free(&f.heap, x), VNV_OK);
        CHECK_EQ(vnv_free(&f.heap, p), VNV_OK);
        struct vnv_stats s1 = stats(&f);
        CHECK_EQ(s1.loads, s0.loads);                   /* nothing loaded */
        CHECK(f.emu.read_calls <= r0 + 2u);             /* at most their headers */
        CHECK_EQ(s1.resident_objects, s0.resident_objects + 2u);
        CHECK_EQ(s1.checkpoint_bytes, s0.checkpoint_bytes + sizeof vz + 2u * 16u + 1u);
        CHECK_EQ(vnv_free(&f.heap, y), VNV_OK);         /* its data's RAM comes back */
        CHECK_EQ(stats(&f).arena_free, s1.arena_free + sizeof vy + 4u);
        CHECK_EQ(vnv_free(&f.heap, z), VNV_OK);         /* the group's change: flushed away */
        struct vnv_stats s2 = stats(&f);
        CHECK_EQ(s2.checkpoint_bytes, s0.checkpoint_bytes + 2u * 16u + 1u);
        CHECK_EQ(s2.dirty_bytes, 0);
        CHECK(f.emu.write_calls <= w0 + 1u);            /* z's value from before, home */
        CHECK_EQ(vnv_read(&f.heap, x, 0, got, 1), VNV_ERR_INVAL);
        CHECK_EQ(vnv_read(&f.heap, p, 0, got, 1), VNV_ERR_INVAL);
        CHECK_EQ(vnv_read(&f.heap, y, 0, got, 1), VNV_ERR_INVAL);
        CHECK_EQ(vnv_free(&f.heap, x), VNV_ERR_INVAL);
        /* their tombstones (tag 0; x's home is unit 0, so VNV_NULL is one) match no handle */
        const vnv_obj_t dead[4] = {x, p, y, z};
        for (unsigned k = 0; k < 4u; k++) {
            vnv_obj_t t = {dead[k].id & f.heap.unit_mask};
            const void *cp;
            void *mp;
            CHECK_EQ(vnv_get(&f.heap, t, &cp), VNV_ERR_INVAL);
            CHECK_EQ(vnv_get_sized(&f.heap, t, 4, &cp), VNV_ERR_INVAL);
            CHECK_EQ(vnv_get_mut(&f.heap, t, &mp), VNV_ERR_INVAL);
            CHECK_EQ(vnv_release(&f.heap, t), VNV_ERR_INVAL);
            CHECK_EQ(vnv_read(&f.heap, t, 0, got, 1), VNV_ERR_INVAL);
        }
        CHECK_EQ(x.id & f.heap.unit_mask, 0u);
        vnv_obj_t r;
        CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
        CHECK(vnv_is_null(r));
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        if (how == 0) {
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        } else if (how == 1) {
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* inside: the records only */
            CHECK_EQ(fx_reboot(&f), VNV_OK);
        } else {
            f.wipe = 1;
            CHECK_EQ(vnv_persist_all(), VNV_OK); /* RAM lost and rebuilt: still inside */
            CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
            CHECK_EQ(vnv_read(&f.heap, y, 0, got, 1), VNV_ERR_INVAL);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            CHECK_EQ(how == 2 ? vnv_atomic_abort(&f.heap) : vnv_atomic_end(&f.heap), VNV_OK);
        }
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        if (how == 3) { /* committed: gone for good, their storage free */
            CHECK_EQ(vnv_read(&f.heap, x, 0, got, 1), VNV_ERR_INVAL);
            CHECK_EQ(vnv_read(&f.heap, z, 0, got, 1), VNV_ERR_INVAL);
            CHECK_EQ(stats(&f).resident_objects, 0);
            CHECK_EQ(stats(&f).arena_free, s0.arena_free + 120u + 80u); /* y's, z's blocks */
            fx_free(&f);
            continue;
        }
        CHECK_EQ(vnv_read(&f.heap, x, 0, got, sizeof vx), VNV_OK);
        CHECK(memcmp(got, vx, sizeof vx) == 0);
        CHECK_EQ(vnv_read(&f.heap, p, 0, got, sizeof vp), VNV_OK);
        CHECK(memcmp(got, vp, sizeof vp) == 0);
        CHECK_EQ(vnv_read(&f.heap, y, 0, got, sizeof vy), VNV_OK);
        CHECK(memcmp(got, vy, sizeof vy) == 0);
        CHECK_EQ(vnv_read(&f.heap, z, 0, got, sizeof vz), VNV_OK);
        CHECK(memcmp(got, vz, sizeof vz) == 0);
        CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
        CHECK(vnv_same(r, x));
        CHECK_EQ(stats(&f).checkpoint_bytes, /* clean records only: the ghosts are gone */
                 VNV_CKPT_HEADER_SIZE + stats(&f).resident_objects * VNV_CKPT_RECORD_SIZE);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(fx_reboot(&f), VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, p, 0, got, sizeof vp), VNV_OK);
        CHECK(memcmp(got, vp, sizeof vp) == 0);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* A RAM allocator that re-creates a block only at its size (the older alloc_at contract):
 * a free in a group cannot shrink the block, returns NOMEM and changes nothing. */
static struct vnv_ram_allocator strict_ram;
static int (*inner_alloc_at)(void *st, uint32_t off, uint32_t size);
static uint32_t freed_off = UINT32_MAX, freed_size;
static int (*inner_free)(void *st, uint32_t off, uint32_t size);
static int noting_free(void *st, uint32_t off, uint32_t size)
{
    freed_off = off;
    freed_size = size;
    return inner_free(st, off, size);
}
static int strict_alloc_at(void *st, uint32_t off, uint32_t size)
{
    if (off == freed_off && size < freed_size)
        return VNV_ERR_NOMEM;
    return inner_alloc_at(st, off, size);
}

static void test_free_in_group_without_shrink(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    strict_ram = *f.heap.ram;
    inner_alloc_at = strict_ram.alloc_at;
    inner_free = strict_ram.free;
    strict_ram.alloc_at = strict_alloc_at;
    strict_ram.free = noting_free;
    f.heap.ram = &strict_ram;
    uint8_t v[100], w[100], got[100];
    memset(v, 0x31, sizeof v);
    memset(w, 0x32, sizeof w);
    vnv_obj_t o;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &o), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, o), VNV_OK); /* clean: its home holds the value before */
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    CHECK_EQ(vnv_write(&f.heap, o, 0, w, sizeof w), VNV_OK); /* the group's change */
    CHECK_EQ(vnv_free(&f.heap, o), VNV_ERR_NOMEM);
    CHECK_EQ(vnv_read(&f.heap, o, 0, got, sizeof got), VNV_OK); /* still there, changed */
    CHECK(memcmp(got, w, sizeof w) == 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
    CHECK_EQ(vnv_unload(&f.heap, o), VNV_OK); /* its change goes home */
    CHECK_EQ(vnv_read(&f.heap, o, 0, got, sizeof got), VNV_OK);
    CHECK(memcmp(got, w, sizeof w) == 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A checkpoint inside a group holds a 16-byte record for a freed block object (its value is
 * at home); the same record claiming dirty blocks it does not carry would make open size
 * its RAM block wrongly: refused as CORRUPT, and the undamaged image opens rolled back. */
static void test_damaged_freed_record_is_refused(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    uint8_t vp[256], got[256];
    memset(vp, 0x5C, sizeof vp);
    vnv_obj_t p, q;
    CHECK_EQ(vnv_alloc_blocks(&f.heap, sizeof vp, 32, vp, &p), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 8, vp, &q), VNV_OK);
    CHECK_EQ(vnv_unload(&f.heap, p), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    CHECK_EQ(vnv_free(&f.heap, p), VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    vnv_abandon(&f.heap);
    int s = vnv_img_loaded_slot(f.nv, NV);
    REQUIRE(s >= 0);
    vnv_img_put32(f.nv, NV, vnv_img_slot_off(f.nv, NV, 1u - (unsigned)s), 0); /* no fallback */
    uint8_t *good = malloc(NV);
    REQUIRE(good != NULL);
    memcpy(good, f.nv, NV);
    uint32_t rec = vnv_img_record_off(f.nv, NV, (unsigned)s, p.id);
    REQUIRE(rec != 0);
    uint32_t w = vnv_img_get32(f.nv, NV, rec + 8u);
    CHECK_EQ(w & 0x20A0u, 0x2080u); /* freed in the group, a block object, clean */
    vnv_img_put32(f.nv, NV, rec + 8u, w | 0x20u);
    vnv_img_fix_checksums(f.nv, NV);
    CHECK_EQ(vnv_img_slot_ok(f.nv, NV, (unsigned)s), 1);
    CHECK_EQ(fx_reboot(&f), VNV_ERR_CORRUPT);
    memcpy(f.nv, good, NV);
    CHECK_EQ(fx_reboot(&f), VNV_OK); /* rolled back: p is back */
    CHECK_EQ(vnv_read(&f.heap, p, 0, got, sizeof vp), VNV_OK);
    CHECK(memcmp(got, vp, sizeof vp) == 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    free(good);
    fx_free(&f);
}

/* A restart that rolls a group back frees the homes the group allocated, but until the
 * next checkpoint a reset reopens the same checkpoint, whose rollback reads those homes
 * again (its undo log names them). So they must not be reused before then: an object
 * allocated and flushed in between must land elsewhere, and a second reset must reopen
 * the same state (it returned CORRUPT when the freed home held the new object's header). */
static void test_rollback_frees_homes_only_at_the_next_checkpoint(void)
{
    for (int flush = 0; flush < 2; flush++) {
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        uint8_t big[600], v8[8], got[600];
        memset(big, 0x33, sizeof big);
        memset(v8, 0x5A, sizeof v8);
        vnv_obj_t p, x, y;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof big, big, &p), VNV_OK);
        CHECK_EQ(vnv_set_root(&f.heap, p), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof big, big, &x), VNV_OK); /* budget full: at home */
        CHECK_EQ(vnv_is_resident(&f.heap, x), 0);
        CHECK_EQ(vnv_write(&f.heap, x, 200, v8, sizeof v8), VNV_OK); /* written through */
        if (!VNV_DATA_CRC) /* (with the checksum the object is loaded and changed in RAM) */
            CHECK_EQ(vnv_is_resident(&f.heap, x), 0);
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* inside the group: rolls back at open */
        REQUIRE(fx_reboot(&f) == VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, x, 0, got, 1), VNV_ERR_INVAL); /* rolled back: gone */
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        CHECK(stats(&f).nv_quarantined >= sizeof big); /* x's home waits for a checkpoint */
        CHECK_EQ(vnv_alloc(&f.heap, 16, big, &y), VNV_OK);
        if (flush)
            CHECK_EQ(vnv_flush(&f.heap, y), VNV_OK);
        CHECK(vnv_img_handle_home(f.nv, NV, y.id) != vnv_img_handle_home(f.nv, NV, x.id));
        for (int round = 0; round < 2; round++) { /* the same checkpoint, reopened twice */
            CHECK_EQ(fx_reboot(&f), VNV_OK);
            vnv_obj_t r;
            CHECK_EQ(vnv_root(&f.heap, &r), VNV_OK);
            CHECK(vnv_same(r, p));
            CHECK_EQ(vnv_read(&f.heap, p, 0, got, sizeof big), VNV_OK);
            CHECK(memcmp(got, big, sizeof big) == 0);
            CHECK_EQ(vnv_read(&f.heap, x, 0, got, 1), VNV_ERR_INVAL);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        }
        fx_free(&f);
    }
}

/* An undo entry for RAM bytes (bit 31) belongs to a member of the group that logged its
 * small writes. One forged to name a resident object outside the group (checksums right)
 * was applied: that object read other bytes while resident and its own after an unload.
 * Open must refuse it; the untouched image rolls back as usual. */
static void test_undo_entry_of_a_non_member_is_refused(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
    uint8_t vk[48], vd[40], got[48];
    memset(vk, 0xC0, sizeof vk);
    memset(vd, 0xD0, sizeof vd);
    vnv_obj_t k, d;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof vk, vk, &k), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, sizeof vd, vd, &d), VNV_OK);
    CHECK_EQ(vnv_flush(&f.heap, k), VNV_OK); /* clean, resident, never in the group */
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(vnv_write(&f.heap, d, 0, vk, 1), VNV_OK); /* dirty again */
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    CHECK_EQ(vnv_write(&f.heap, d, 8, "abcdefgh", 8), VNV_OK); /* logged in RAM */
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    vnv_abandon(&f.heap);
    int s = vnv_img_loaded_slot(f.nv, NV);
    REQUIRE(s >= 0);
    uint32_t base = vnv_img_slot_off(f.nv, NV, (unsigned)s);
    uint32_t e = vnv_img_undo_off(f.nv, NV, (unsigned)s);
    uint32_t n = vnv_img_get32(f.nv, NV, base + VNV_IMG_CK_FLAGS) >> 16;
    REQUIRE(e != 0 && n == 1u);
    CHECK(vnv_img_get32(f.nv, NV, e + 4u) & 0x80000000u); /* a RAM entry, of d */
    CHECK_EQ(vnv_img_get32(f.nv, NV, e), vnv_img_handle_unit(f.nv, NV, d.id));
    uint8_t *good = malloc(NV);
    REQUIRE(good != NULL);
    memcpy(good, f.nv, NV);
    vnv_img_put32(f.nv, NV, e, vnv_img_handle_unit(f.nv, NV, k.id)); /* now "of k" */
    vnv_img_fix_checksums(f.nv, NV);
    CHECK_EQ(vnv_img_slot_ok(f.nv, NV, (unsigned)s), 1);
    CHECK_EQ(fx_reboot(&f), VNV_ERR_CORRUPT);
    memcpy(f.nv, good, NV);
    CHECK_EQ(fx_reboot(&f), VNV_OK); /* rolled back: d as before the group */
    vd[0] = vk[0];
    CHECK_EQ(vnv_read(&f.heap, d, 0, got, sizeof vd), VNV_OK);
    CHECK(memcmp(got, vd, sizeof vd) == 0);
    CHECK_EQ(vnv_read(&f.heap, k, 0, got, sizeof vk), VNV_OK);
    CHECK(memcmp(got, vk, sizeof vk) == 0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    free(good);
    fx_free(&f);
}

/* Small writes in a group go to the undo log instead of whole copies: a write of at most 32
 * bytes to an object that is not resident (and whose slot the last checkpoint does not
 * read) is written through with its old bytes logged (one read, one write); a small write
 * to a dirty resident object logs its old bytes in RAM; an object allocated in the group
 * may go home, logged as an allocation. Abort, restart from inside and resume all come out
 * right, including for an object written through and loaded afterwards (its clean RAM copy
 * must roll back with its home). */
static void test_undo_log(void)
{
    for (int how = 0; how < 3; how++) { /* 0 abort, 1 restart from inside, 2 resume + abort */
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        uint8_t va[16], vc[64], ve[64], got[64], x[8];
        memset(va, 0xA1, sizeof va);
        memset(vc, 0xC1, sizeof vc);
        memset(ve, 0xE1, sizeof ve);
        memset(x, 0x77, sizeof x);
        vnv_obj_t a, c, e, n;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vc, vc, &c), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof ve, ve, &e), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(vnv_unload(&f.heap, c), VNV_OK); /* written home after the checkpoint */
        CHECK_EQ(vnv_unload(&f.heap, e), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof va, va, &a), VNV_OK); /* dirty, resident */
        uint32_t used0 = stats(&f).checkpoint_bytes;
        uint64_t w0 = f.emu.write_calls, r0 = f.emu.read_calls;
        uint64_t wb0 = f.emu.write_bytes;
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, c, 4, x, sizeof x), VNV_OK); /* written through */
        if (!VNV_DATA_CRC) { /* (with the checksum the slot is rewritten whole instead) */
            CHECK_EQ(f.emu.write_calls, w0 + 1);
            CHECK_EQ(f.emu.read_calls, r0 + 2); /* its header (where), the bytes it replaces */
            CHECK_EQ(f.emu.write_bytes, wb0 + sizeof x);
            CHECK_EQ(stats(&f).checkpoint_bytes, used0 + 12u + sizeof x); /* the entry */
            CHECK_EQ(stats(&f).resident_objects, 1); /* only a: c was not loaded */
        }
        w0 = f.emu.write_calls;
        used0 = stats(&f).checkpoint_bytes;
        CHECK_EQ(vnv_write(&f.heap, a, 2, x, 4), VNV_OK); /* dirty: logged in RAM */
        CHECK_EQ(f.emu.write_calls, w0);
        CHECK_EQ(stats(&f).checkpoint_bytes, used0 + 12u + 4u);
        CHECK_EQ(vnv_write(&f.heap, e, 60, x, 4), VNV_OK); /* through, then loaded clean */
        const void *p;
        CHECK_EQ(vnv_get(&f.heap, e, &p), VNV_OK);
        CHECK_EQ(((const uint8_t *)p)[60], 0x77);
        CHECK_EQ(vnv_release(&f.heap, e), VNV_OK);
        uint8_t vn[48];
        memset(vn, 0x5A, sizeof vn);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vn, vn, &n), VNV_OK);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        if (how == 0) {
            /* e is no member, but the rollback rewrites it: a pointer into it stops abort
             * (a fuzzer found abort pulling a pinned logged object away) */
            CHECK_EQ(vnv_get(&f.heap, e, &p), VNV_OK);
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_BUSY);
            CHECK_EQ(vnv_release(&f.heap, e), VNV_OK);
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        } else if (how == 1) {
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* inside: the log goes with it */
            CHECK_EQ(fx_reboot(&f), VNV_OK);
        } else {
            f.wipe = 1;
            CHECK_EQ(vnv_persist_all(), VNV_OK); /* RAM lost and rebuilt: still inside */
            CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
            CHECK_EQ(vnv_read(&f.heap, c, 4, got, sizeof x), VNV_OK);
            CHECK(memcmp(got, x, sizeof x) == 0);
            CHECK_EQ(vnv_read(&f.heap, a, 2, got, 4), VNV_OK);
            CHECK(memcmp(got, x, 4) == 0);
            CHECK_EQ(vnv_read(&f.heap, n, 0, got, sizeof vn), VNV_OK);
            CHECK(memcmp(got, vn, sizeof vn) == 0);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        }
        for (int round = 0; round < 2; round++) { /* rolled back; then after a restart */
            CHECK_EQ(vnv_read(&f.heap, c, 0, got, sizeof vc), VNV_OK);
            CHECK(memcmp(got, vc, sizeof vc) == 0);
            CHECK_EQ(vnv_read(&f.heap, e, 0, got, sizeof ve), VNV_OK);
            CHECK(memcmp(got, ve, sizeof ve) == 0);
            CHECK_EQ(vnv_get(&f.heap, e, &p), VNV_OK); /* a RAM copy, if it has one */
            CHECK(memcmp(p, ve, sizeof ve) == 0);
            CHECK_EQ(vnv_release(&f.heap, e), VNV_OK);
            CHECK_EQ(vnv_read(&f.heap, a, 0, got, sizeof va), VNV_OK);
            CHECK(memcmp(got, va, sizeof va) == 0);
            CHECK_EQ(vnv_read(&f.heap, n, 0, got, 1), VNV_ERR_INVAL);
            CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            f.wipe = 0;
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            if (round == 0)
                CHECK_EQ(fx_reboot(&f), VNV_OK);
        }
        /* committed: the log goes, the changes stay */
        CHECK_EQ(vnv_unload(&f.heap, c), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, c, 0, x, sizeof x), VNV_OK); /* fresh again: through */
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, c, 8, x, sizeof x), VNV_OK);
        CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(fx_reboot(&f), VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, c, 0, got, 2u * sizeof x), VNV_OK);
        CHECK(memcmp(got, x, sizeof x) == 0 && memcmp(got + 8, x, sizeof x) == 0);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* A power failure whose persist round is deferred to the end of a storage read inside an
 * undo-logged write (the RAM lost and rebuilt from the checkpoint it writes) must find the
 * log entry whole: its block allocated, filled and linked in one section. Armed on the
 * read of the bytes the write-through replaces (8 bytes; headers are 16). */
static int (*inner_read)(void *ctx, uint32_t off, void *dst, uint32_t len);
static int fire_on_len;
static int firing_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    int err = inner_read(ctx, off, dst, len);
    if (fire_on_len && len == (uint32_t)fire_on_len) {
        fire_on_len = 0;
        (void)vnv_persist_all(); /* deferred: the heap is inside a critical section */
    }
    return err;
}

/* The write transactions of a checkpoint (vnv_persist_all in the header): pieces of 20 a
 * gather write, the NV map one, each resident object one, each undo entry one. A group's
 * undo log can outnumber the resident objects many times (here 150 entries of 4 bytes and
 * one resident object): its term is needed, and the count stays within it. */
static void test_checkpoint_transactions_with_undo_entries(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, 8192, 4096) == VNV_OK);
    f.wipe = 0;
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(f.emu.write_calls, 2); /* empty: the map, then the header */
    uint8_t big[1024];
    memset(big, 0x3C, sizeof big);
    vnv_obj_t o;
    CHECK_EQ(vnv_alloc(&f.heap, sizeof big, big, &o), VNV_OK); /* resident, dirty */
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    for (uint32_t i = 0; i < 150; i++) /* small writes: the old bytes logged in RAM */
        CHECK_EQ(vnv_write(&f.heap, o, i * 4u, &i, 4), VNV_OK);
    struct vnv_stats s = stats(&f);
    uint32_t undo = f.heap.undo_count, r = s.resident_objects ? s.resident_objects : 1u;
    CHECK_EQ(undo, 150);
    CHECK_EQ(s.resident_objects, 1);
    uint32_t bound = (r + VNV_PERSIST_BATCH - 1u) / VNV_PERSIST_BATCH +
                     (undo + 2u * VNV_PERSIST_BATCH + 3u) / (2u * VNV_PERSIST_BATCH + 4u) + 1u;
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK(f.emu.write_calls <= bound);
    CHECK(f.emu.write_calls > (r + VNV_PERSIST_BATCH - 1u) / VNV_PERSIST_BATCH + 1u);
    CHECK(f.emu.write_bytes <= vnv_persist_bound(&f.cfg));
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
    fx_free(&f);
}

/* Storage whose n-th read from now fails, optionally with a power-fail request raised
 * inside that read (it lands in the abort's critical section: deferred). */
static struct {
    struct vnv_storage inner;
    uint32_t fail_in;
    int request;
} ab;

static int ab_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    if (ab.fail_in && --ab.fail_in == 0) {
        if (ab.request)
            (void)vnv_persist_all();
        return VNV_ERR_IO;
    }
    return ab.inner.read(ctx, off, dst, len);
}

/* A storage error inside vnv_atomic_abort. Before the abort changes anything (the log's
 * headers are read first) it is refused as a whole: the group goes on. Part way through,
 * the group would be half rolled back, and the next checkpoint would record a state that
 * vnv_open refuses as CORRUPT (an outside tester found this: a half-done abort, then a
 * power failure, and the heap could not be opened again): the heap closes itself, and
 * vnv_open finds the last checkpoint. */
static void test_storage_error_inside_abort(void)
{
    for (int request = 0; request < 2; request++) {
        struct fixture f;
        fx_init(&f, NV, RAM, DIRTY);
        ab.inner = f.storage;
        ab.fail_in = 0;
        ab.request = 0;
        f.storage.read = ab_read;
        REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
        uint8_t vc[64], x[8], got[64];
        memset(vc, 0xC1, sizeof vc);
        memset(x, 0x77, sizeof x);
        vnv_obj_t o, c, p;
        uint32_t v = 1;
        int e;
        CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &o), VNV_OK);
        CHECK_EQ(vnv_flush(&f.heap, o), VNV_OK);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vc, vc, &c), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* o = 1, c = vc */
        CHECK_EQ(vnv_unload(&f.heap, c), VNV_OK);  /* home written after the checkpoint */
        v = 5;
        CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &p), VNV_OK); /* after the checkpoint */
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, c, 4, x, sizeof x), VNV_OK); /* through, logged */
        put_u32(&f, o, 2);
        if (!VNV_DATA_CRC) { /* (with the data checksum the write loads c: no log entry) */
            ab.fail_in = 1; /* undo_check's read of c's header */
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_IO);
            CHECK(vnv_is_open(&f.heap));
            CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
            CHECK_EQ(get_u32(&f, o, &e), 2u);
            CHECK_EQ(vnv_read(&f.heap, c, 4, got, sizeof x), VNV_OK);
            CHECK(memcmp(got, x, sizeof x) == 0);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        }
        unsigned calls = f.persist_calls;
        ab.fail_in = VNV_DATA_CRC ? 1 : 2; /* a member's reload, after the log's RAM part */
        ab.request = request;
        CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_IO);
        CHECK(!vnv_is_open(&f.heap));
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_ERR_INVAL); /* nothing records that state */
        CHECK_EQ(f.persist_calls, calls + (unsigned)request); /* the deferred request: */
        if (request)
            CHECK_EQ(f.last_status, VNV_ERR_IO); /* answered, with the error */
        ab.fail_in = 0;
        ab.request = 0;
        CHECK_EQ(fx_reboot(&f), VNV_OK); /* the checkpoint before the group */
        CHECK_EQ(get_u32(&f, o, &e), 1u);
        CHECK_EQ(e, VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, c, 0, got, sizeof vc), VNV_OK);
        CHECK(memcmp(got, vc, sizeof vc) == 0);
        (void)get_u32(&f, p, &e);
        CHECK_EQ(e, VNV_ERR_INVAL); /* allocated after it: lost as in a reset */
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* The same for an allocation logged in a group: a round deferred inside the RAM
 * allocation of its entry (16 bytes) must not run before the entry is linked. */
static struct vnv_ram_allocator firing_ram;
static int (*inner_alloc)(void *st, uint32_t size, uint32_t *off);
static int fire_on_alloc;
static int firing_alloc(void *st, uint32_t size, uint32_t *off)
{
    int err = inner_alloc(st, size, off);
    if (fire_on_alloc && size == (uint32_t)fire_on_alloc) {
        fire_on_alloc = 0;
        (void)vnv_persist_all(); /* deferred: the heap is inside a critical section */
    }
    return err;
}

static void test_undo_entry_survives_a_restore_inside_the_write(void)
{
    {
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        firing_ram = *f.heap.ram;
        inner_alloc = firing_ram.alloc;
        firing_ram.alloc = firing_alloc;
        f.heap.ram = &firing_ram;
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        unsigned calls = f.persist_calls;
        f.wipe = 1;
        fire_on_alloc = 16; /* the entry's block */
        vnv_obj_t big;
        CHECK_EQ(vnv_alloc(&f.heap, 100, NULL, &big), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(fire_on_alloc, 0);
        CHECK_EQ(f.persist_calls, calls + 1);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK); /* the entry frees it */
        size_t sz;
        CHECK_EQ(vnv_size(&f.heap, big, &sz), VNV_ERR_INVAL);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }

    /* (VNV_DATA_CRC never writes through: the slot is rewritten with its checksum) */
    for (int how = 0; how < (VNV_DATA_CRC ? 0 : 2); how++) { /* 0 abort, 1 restart */
        struct fixture f;
        REQUIRE(fx_format(&f, NV, RAM, DIRTY) == VNV_OK);
        uint8_t vc[64], x[8], got[64];
        memset(vc, 0xC1, sizeof vc);
        memset(x, 0x77, sizeof x);
        vnv_obj_t c;
        CHECK_EQ(vnv_alloc(&f.heap, sizeof vc, vc, &c), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(vnv_unload(&f.heap, c), VNV_OK); /* home, slot fresh: written through */
        inner_read = f.heap.storage.read;
        f.heap.storage.read = firing_read;
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        unsigned calls = f.persist_calls;
        f.wipe = 1;
        fire_on_len = (int)sizeof x;
        CHECK_EQ(vnv_write(&f.heap, c, 8, x, sizeof x), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(f.persist_calls, calls + 1); /* the round ran, RAM rebuilt */
        CHECK_EQ(fire_on_len, 0);
        f.heap.storage.read = inner_read;
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        CHECK_EQ(vnv_read(&f.heap, c, 8, got, sizeof x), VNV_OK);
        CHECK(memcmp(got, x, sizeof x) == 0);
        if (how == 0)
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        else
            CHECK_EQ(fx_reboot(&f), VNV_OK); /* the round's checkpoint was inside the group */
        CHECK_EQ(vnv_read(&f.heap, c, 0, got, sizeof vc), VNV_OK);
        CHECK(memcmp(got, vc, sizeof vc) == 0); /* the old bytes, from the entry */
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* vnv_list inside groups (its push and pop at the ends change only the words that change,
 * as undo entries, instead of its intent protocol): random pushes and pops at both ends,
 * past RAM (nodes at home, links written through), each group ended, aborted, resumed
 * after a power failure with RAM lost, or restarted from a checkpoint taken inside it; the
 * list must equal a model of the committed operations after every group. */
#define LQ_MAX 64
struct lq {
    uint32_t v[LQ_MAX];
    uint32_t n;
};

static void lq_push(struct lq *q, uint32_t v, int front)
{
    if (front) {
        memmove(q->v + 1, q->v, q->n * sizeof q->v[0]);
        q->v[0] = v;
    } else {
        q->v[q->n] = v;
    }
    q->n++;
}

static uint32_t lq_pop(struct lq *q, int front)
{
    uint32_t v = front ? q->v[0] : q->v[q->n - 1u];
    if (front)
        memmove(q->v, q->v + 1, (q->n - 1u) * sizeof q->v[0]);
    q->n--;
    return v;
}

static int lq_matches(struct fixture *f, vnv_obj_t l, const struct lq *q)
{
    uint32_t len = 0, item[16];
    if (vnv_list_attach(&f->heap, l) || vnv_list_length(&f->heap, l, &len) || len != q->n)
        return 0;
    vnv_obj_t n;
    int err = vnv_list_first(&f->heap, l, &n);
    for (uint32_t i = 0; i < q->n; i++) {
        if (err || vnv_is_null(n) || vnv_list_get(&f->heap, l, n, item) || item[0] != q->v[i] ||
            item[15] != ~q->v[i])
            return 0;
        err = vnv_list_next(&f->heap, l, n, &n);
    }
    return !err && vnv_is_null(n) && vnv_check(&f->heap) == VNV_OK;
}

/* The RAM allocator of the randomized tests (NULL: the default): objects freed in a group
 * shrink their blocks in place through the allocator (alloc.h), so both run them. */
static const struct vnv_ram_allocator *group_ram;

static void test_list_in_groups(void)
{
    struct fixture f;
    fx_init(&f, NV, 1536, DIRTY); /* ~12 nodes of 64 B in RAM */
    if (group_ram)
        f.cfg.ram_allocator = group_ram;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    vnv_obj_t l;
    REQUIRE(vnv_list_create(&f.heap, 64, &l) == VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, l), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    struct lq model = {{0}, 0}, g;
    struct rng r;
    rng_seed(&r, 77);
    unsigned ends = 0, aborts = 0, resumes = 0, restarts = 0, bad = 0, writes0 = 0;
    uint32_t next = 1;
    for (int round = 0; round < 400; round++) {
        g = model;
        REQUIRE(vnv_atomic_begin(&f.heap) == VNV_OK);
        unsigned k = 1 + rng_below(&r, 4), how = rng_below(&r, 8);
        int resumed = 0;
        for (unsigned i = 0; i < k; i++) {
            int front = (int)rng_below(&r, 2);
            if (g.n > 0 && (g.n >= 40 || rng_below(&r, 2))) {
                uint32_t item[16], want = lq_pop(&g, front);
                int err = front ? vnv_list_pop_front(&f.heap, l, item)
                                : vnv_list_pop_back(&f.heap, l, item);
                if (err || item[0] != want)
                    bad++;
            } else {
                uint32_t item[16];
                for (unsigned w = 0; w < 16; w++)
                    item[w] = next * 2654435761u + w;
                item[0] = next;
                item[15] = ~next;
                next++;
                int err = front ? vnv_list_push_front(&f.heap, l, item)
                                : vnv_list_push_back(&f.heap, l, item);
                if (err)
                    bad++;
                else
                    lq_push(&g, item[0], front);
            }
            if (how == 5 && i == 0) { /* a power failure inside: RAM lost and rebuilt */
                f.wipe = 1;
                CHECK_EQ(vnv_persist_all(), VNV_OK);
                f.wipe = 0;
                CHECK_EQ(vnv_atomic_depth(&f.heap), 1);
                resumed = 1;
            }
        }
        if (how == 6) { /* abort: as before the group */
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
            aborts++;
        } else if (how == 7) { /* restart from a checkpoint inside the group */
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            CHECK_EQ(fx_reboot(&f), VNV_OK);
            CHECK_EQ(vnv_atomic_depth(&f.heap), 0);
            restarts++;
        } else {
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            model = g;
            ends++;
            resumes += (unsigned)resumed;
            if (rng_below(&r, 4) == 0)
                CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            else if (rng_below(&r, 3) == 0)
                (void)vnv_checkpoint(&f.heap);
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* the state a restart returns to */
        }
        if (!lq_matches(&f, l, &model))
            bad++;
        writes0 += f.emu.write_calls > 0;
    }
    printf("list in groups: %u groups ended (%u resumed after a failure inside), %u aborted, "
           "%u restarted from inside; list length at the end %u\n",
           ends, resumes, aborts, restarts, (unsigned)model.n);
    CHECK_EQ(bad, 0);
    CHECK(ends > 100 && aborts > 20 && restarts > 20 && resumes > 10);
    CHECK(writes0 > 0);
    fx_free(&f);
}

/* A group whose changes cannot fit the budget: BUDGET at the change, then abort. */
static void test_group_budget(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, 400) == VNV_OK);
    vnv_obj_t o[8], gone, reused, taker;
    uint8_t v[100];
    memset(v, 1, sizeof v);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &o[i]), VNV_OK);
        CHECK_EQ(vnv_unload(&f.heap, o[i]), VNV_OK);
    }
    /* two stale handles: one whose home is free, one whose home another object took */
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &gone), VNV_OK);
    CHECK_EQ(vnv_free(&f.heap, gone), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &reused), VNV_OK);
    CHECK_EQ(vnv_free(&f.heap, reused), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &taker), VNV_OK); /* (reused's home) */
    CHECK_EQ(vnv_unload(&f.heap, taker), VNV_OK);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    memset(v, 2, sizeof v);
    int i = 0, err = VNV_OK;
    for (; i < 8 && !err; i++)
        err = vnv_write(&f.heap, o[i], 0, v, sizeof v);
    CHECK_EQ(err, VNV_ERR_BUDGET); /* members cannot be flushed to make room */
    CHECK(i >= 2);
    CHECK(stats(&f).checkpoint_bytes <= 400);
    vnv_obj_t n; /* a new object: no budget for its undo entry, or to stay in RAM */
    CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &n), VNV_ERR_BUDGET);
    /* a typed load finds no room either, but a stale handle is still INVAL (found by a
     * review: the room was made, and refused, before the handle was looked at) */
    const void *p;
    CHECK_EQ(vnv_get_exact(&f.heap, gone, sizeof v, &p), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get_exact(&f.heap, reused, sizeof v, &p), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get_sized(&f.heap, reused, sizeof v, &p), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get_exact(&f.heap, taker, sizeof v, &p), VNV_ERR_BUDGET); /* (live) */
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
    for (int k = 0; k < 8; k++) {
        CHECK_EQ(vnv_read(&f.heap, o[k], 0, v, sizeof v), VNV_OK);
        CHECK_EQ(v[99], 1);
    }
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* In a group a new object that cannot stay in RAM goes home with an undo entry, which
 * needs RAM too: with the arena full of pinned objects, vnv_alloc says NOMEM (outside a
 * group it would go home), changes nothing, and works once the pins are gone. */
static void test_group_alloc_without_ram(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, 1024, 900) == VNV_OK);
    vnv_obj_t o[32], n;
    const void *p;
    int k = 0, err = VNV_OK;
    for (; k < 32 && !err; k++) {
        CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &o[k]), VNV_OK);
        err = vnv_get(&f.heap, o[k], &p);
    }
    CHECK_EQ(err, VNV_ERR_NOMEM); /* RAM is full of pinned objects */
    k--;                          /* o[k] is not pinned */
    CHECK(k > 4);
    /* and the rest of the arena too, so that no undo entry fits */
    uint32_t rest = stats(&f).arena_free;
    if (rest > VNV_META_SIZE) {
        CHECK_EQ(vnv_alloc(&f.heap, rest - VNV_META_SIZE, NULL, &o[k]), VNV_OK);
        CHECK_EQ(vnv_get(&f.heap, o[k], &p), VNV_OK);
        k++;
    }
    CHECK_EQ(stats(&f).arena_free, 0u);
    CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &n), VNV_OK); /* outside a group: home */
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    struct vnv_stats before = stats(&f);
    CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &n), VNV_ERR_NOMEM);
    CHECK_EQ(stats(&f).allocs, before.allocs);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    for (int i = 0; i < k; i++)
        CHECK_EQ(vnv_release(&f.heap, o[i]), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 40, NULL, &n), VNV_OK);
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
    CHECK_EQ(vnv_read(&f.heap, n, 0, &err, sizeof err), VNV_ERR_INVAL); /* rolled back */
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* ---- randomized model test ----------------------------------------------------------- */

#define MN 12
#define MAXV 64

struct model {
    vnv_obj_t h[MN];
    uint8_t val[MN][MAXV];
    uint32_t size[MN];
    int live[MN];
    vnv_obj_t root;
};

/* Checkpoints known to have been written, with the state a restart must then see. */
#define MAXCK 64
struct ckrec {
    uint64_t end;     /* emulated bytes written when it completed */
    struct model m;   /* what vnv_open must find (the group's start if taken inside one) */
};

static int model_matches(struct fixture *f, const struct model *m)
{
    vnv_obj_t r;
    if (vnv_root(&f->heap, &r) || !vnv_same(r, m->root))
        return 0;
    for (int i = 0; i < MN; i++) {
        if (vnv_is_null(m->h[i]))
            continue;
        uint8_t v[MAXV];
        int err = vnv_read(&f->heap, m->h[i], 0, v, m->live[i] ? m->size[i] : 1);
        if (m->live[i] ? (err || memcmp(v, m->val[i], m->size[i])) : err != VNV_ERR_INVAL)
            return 0;
    }
    return vnv_check(&f->heap) == VNV_OK;
}

/* One random operation inside a group; updates the model on success. */
static void group_op(struct fixture *f, struct model *m, struct rng *r)
{
    int i = (int)rng_below(r, MN);
    uint32_t op = rng_below(r, 10);
    if (!m->live[i]) { /* allocate */
        uint32_t size = 4 + rng_below(r, MAXV - 4);
        uint8_t v[MAXV];
        rng_fill(r, v, size);
        vnv_obj_t h;
        int err = vnv_alloc(&f->heap, size, v, &h);
        if (err) {
            CHECK(err == VNV_ERR_BUDGET || err == VNV_ERR_NOMEM || err == VNV_ERR_NOSPC);
            return;
        }
        m->h[i] = h;
        m->size[i] = size;
        memcpy(m->val[i], v, size);
        m->live[i] = 1;
    } else if (op < 6) { /* change some bytes */
        uint32_t off = rng_below(r, m->size[i]), len = 1 + rng_below(r, m->size[i] - off);
        uint8_t v[MAXV];
        rng_fill(r, v, len);
        int err;
        if (op < 3) {
            err = vnv_write(&f->heap, m->h[i], off, v, len);
        } else {
            uint8_t *p;
            err = vnv_get_mut(&f->heap, m->h[i], (void **)&p);
            if (!err) {
                memcpy(p + off, v, len);
                CHECK_EQ(vnv_release(&f->heap, m->h[i]), VNV_OK);
            }
        }
        if (err) {
            CHECK(err == VNV_ERR_BUDGET || err == VNV_ERR_NOMEM);
            return;
        }
        memcpy(m->val[i] + off, v, len);
    } else if (op < 8) { /* free */
        int err = vnv_free(&f->heap, m->h[i]);
        if (err) {
            CHECK(err == VNV_ERR_BUDGET || err == VNV_ERR_NOMEM);
            return;
        }
        m->live[i] = 0;
        if (vnv_same(m->root, m->h[i]))
            m->root = VNV_NULL;
    } else { /* move the root */
        CHECK_EQ(vnv_set_root(&f->heap, m->h[i]), VNV_OK);
        m->root = m->h[i];
    }
}

static void test_random_groups_with_resets(void)
{
    struct fixture f;
    struct rng r;
    rng_seed(&r, 2024);
    unsigned restarts = 0, resumes = 0, rolled = 0, aborts = 0, commits = 0, groups = 0;
    unsigned header_cuts = 0;
    for (int run = 0; run < 60; run++) {
        fx_init(&f, 32768, 2048, 300); /* small: flushes and evictions inside groups */
        if (group_ram)
            f.cfg.ram_allocator = group_ram;
        REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
        f.wipe = 0;
        static struct model m, start;
        static struct ckrec ck[MAXCK];
        memset(&m, 0, sizeof m);
        int nck = 0;
        ck[nck].end = f.emu.write_bytes;
        ck[nck++].m = m;
        /* Three lives: after each reset the program goes on from what open found (a
         * rollback's freed homes must stay untouched until a checkpoint: the next reset
         * reopens the same one) */
        for (int life = 0; life < 3; life++) {
            /* power off after a random number of further bytes: a reset no checkpoint announced */
            uint64_t cut = f.emu.write_bytes + 200u + rng_below(&r, 6000);
            vnv_emu_cut_power_after(&f.emu, cut - f.emu.write_bytes);
            for (int task = 0; task < 40 && !vnv_emu_power_is_off(&f.emu); task++) {
                groups++;
                start = m;
                REQUIRE(vnv_atomic_begin(&f.heap) == VNV_OK);
                int ops = 1 + (int)rng_below(&r, 5), dead = 0;
                /* once the power is off the device is dead: stop at the next look (what ran
                 * after the cut wrote nothing that storage kept) */
                for (int k = 0; k < ops && !(dead = vnv_emu_power_is_off(&f.emu)); k++) {
                    group_op(&f, &m, &r);
                    uint32_t ev = rng_below(&r, 20);
                    if (ev == 0 && nck < MAXCK) { /* a checkpoint inside the group: served now */
                        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
                        ck[nck].end = f.emu.write_bytes;
                        ck[nck++].m = start; /* a restart rolls the group back */
                    } else if (ev == 1 && nck < MAXCK) { /* the power-fail interrupt, RAM lost */
                        f.wipe = 1;
                        int err = vnv_persist_all();
                        f.wipe = 0;
                        ck[nck].end = f.emu.write_bytes; /* may land even if cut in its header */
                        ck[nck++].m = start;
                        if (vnv_emu_power_is_off(&f.emu))
                            break; /* cut during it: dead */
                        CHECK_EQ(err, VNV_OK);
                        resumes++;
                        CHECK(model_matches(&f, &m)); /* resume: inside, with everything */
                    }
                }
                if (dead || vnv_emu_power_is_off(&f.emu))
                    break;
                if (rng_below(&r, 6) == 0) {
                    int err = vnv_atomic_abort(&f.heap);
                    if (vnv_emu_power_is_off(&f.emu))
                        break;
                    CHECK_EQ(err, VNV_OK);
                    m = start;
                    aborts++;
                    CHECK(model_matches(&f, &m));
                } else {
                    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
                }
                uint32_t pick = rng_below(&r, 2 * MN); /* between groups: an object to */
                if (pick < MN && m.live[pick]) {       /* storage (a flush or an unload) */
                    int err = pick & 1u ? vnv_flush(&f.heap, m.h[pick])
                                        : vnv_unload(&f.heap, m.h[pick]);
                    if (vnv_emu_power_is_off(&f.emu))
                        break;
                    CHECK_EQ(err, VNV_OK);
                }
                if (rng_below(&r, 4) == 0 && nck < MAXCK) {
                    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
                    ck[nck].end = f.emu.write_bytes;
                    ck[nck++].m = m;
                    commits++;
                }
            }
            /* reset: the last checkpoint that fully landed before the cut decides */
            uint64_t landed = vnv_emu_power_is_off(&f.emu) ? cut : f.emu.write_bytes;
            int last = 0;
            for (int k = 0; k < nck; k++)
                if (ck[k].end <= landed)
                    last = k;
            f.emu.power_off = 0;
            vnv_abandon(&f.heap);
            int err = fx_reboot(&f);
            CHECK_EQ(err, VNV_OK);
            restarts++;
            if (!err) {
                /* A cut inside the next checkpoint's header write (its last write) leaves it
                 * valid when the bytes that did not land equal the ones already there (a zero
                 * high byte over the zeroed old header): then that checkpoint decides. */
                int ok = model_matches(&f, &ck[last].m);
                if (!ok && last + 1 < nck && landed + VNV_CKPT_HEADER_SIZE >= ck[last + 1].end &&
                    model_matches(&f, &ck[last + 1].m)) {
                    ok = 1;
                    last++;
                    header_cuts++;
                }
                CHECK(ok);
                if (!ok)
                    fprintf(stderr, "  run %d: restart does not match checkpoint %d of %d\n", run,
                            last, nck);
                rolled += memcmp(&ck[last].m, &m, sizeof m) != 0;
            }
            if (err || !model_matches(&f, &ck[last].m))
                break;
            m = ck[last].m; /* the next life starts from the state open found */
            nck = 0;
            ck[nck].end = f.emu.write_bytes;
            ck[nck++].m = m;
            f.wipe = 0;
        }
        fx_free(&f);
    }
    printf("random groups: %u groups, %u aborted, %u resumes inside groups, %u checkpoints "
           "after groups, %u restarts (%u of them lost work since: each exactly at a group "
           "boundary; %u cut in a checkpoint header that landed anyway)\n",
           groups, aborts, resumes, commits, restarts, rolled, header_cuts);
    CHECK(resumes > 10 && aborts > 10 && restarts == 180 && rolled > 10);
}

/* ---- a task-based application: a key-value store, one group per task ----------------- */

#define KB 16     /* buckets */
#define KOPS 3000 /* tasks */

struct kv_root {
    uint32_t next_task; /* tasks 0 .. next_task-1 are done */
    uint32_t hits;      /* queries that found their key */
    uint32_t sum;       /* of the values found */
    vnv_obj_t bucket[KB];
};
struct kv_entry {
    uint32_t key, value;
    vnv_obj_t next;
};

/* Task t: insert/update, delete or query a key, all from t alone. */
static void task_of(uint32_t t, uint32_t *kind, uint32_t *key, uint32_t *value)
{
    uint32_t x = t * 2654435761u ^ 0x9E3779B9u;
    x ^= x >> 15;
    *kind = x % 4u; /* 0, 1: put; 2: delete; 3: query */
    *key = (x >> 8) % 97u;
    *value = x >> 3;
}

/* One task as a failure-atomic group (root pinned inside it). */
static int kv_task(struct fixture *f, vnv_obj_t rooth, uint32_t t)
{
    uint32_t kind, key, value;
    task_of(t, &kind, &key, &value);
    int err = vnv_atomic_begin(&f->heap);
    struct kv_root *rt;
    if (!err)
        err = vnv_get_mut(&f->heap, rooth, (void **)&rt);
    if (err)
        return err;
    vnv_obj_t *link = &rt->bucket[key % KB], cur = *link, prev = VNV_NULL;
    struct kv_entry e;
    while (!vnv_is_null(cur) && !err) {
        err = vnv_read(&f->heap, cur, 0, &e, sizeof e);
        if (err || e.key == key)
            break;
        prev = cur;
        cur = e.next;
    }
    int found = !err && !vnv_is_null(cur);
    if (!err && kind <= 1) {
        if (found) {
            e.value = value;
            err = vnv_write(&f->heap, cur, 0, &e, sizeof e);
        } else {
            struct kv_entry n = {key, value, *link};
            vnv_obj_t o;
            err = vnv_alloc(&f->heap, sizeof n, &n, &o);
            if (!err)
                *link = o;
        }
    } else if (!err && kind == 2 && found) {
        if (vnv_is_null(prev)) {
            *link = e.next;
        } else {
            struct kv_entry pe;
            err = vnv_read(&f->heap, prev, 0, &pe, sizeof pe);
            pe.next = e.next;
            if (!err)
                err = vnv_write(&f->heap, prev, 0, &pe, sizeof pe);
        }
        if (!err)
            err = vnv_free(&f->heap, cur);
    } else if (!err && kind == 3 && found) {
        rt->hits++;
        rt->sum += e.value;
    }
    if (!err)
        rt->next_task = t + 1u;
    (void)vnv_release(&f->heap, rooth);
    if (err) {
        (void)vnv_atomic_abort(&f->heap);
        return err;
    }
    return vnv_atomic_end(&f->heap);
}

/* The reference: the same tasks on a plain C table. */
static void kv_reference(uint32_t *hits, uint32_t *sum, uint32_t *live, uint32_t *vals)
{
    static int have[97];
    static uint32_t v[97];
    memset(have, 0, sizeof have);
    *hits = *sum = 0;
    for (uint32_t t = 0; t < KOPS; t++) {
        uint32_t kind, key, value;
        task_of(t, &kind, &key, &value);
        if (kind <= 1) {
            have[key] = 1;
            v[key] = value;
        } else if (kind == 2) {
            have[key] = 0;
        } else if (have[key]) {
            (*hits)++;
            *sum += v[key];
        }
    }
    *live = 0;
    *vals = 0;
    for (int k = 0; k < 97; k++)
        if (have[k]) {
            (*live)++;
            *vals += v[k] * (uint32_t)(k + 1);
        }
}

static void test_kvs_tasks_survive_resets(void)
{
    struct fixture f;
    struct rng r;
    rng_seed(&r, 77);
    fx_init(&f, 65536, 3072, 600);
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    f.wipe = 0;
    struct kv_root r0;
    memset(&r0, 0, sizeof r0);
    vnv_obj_t rooth;
    REQUIRE(vnv_alloc(&f.heap, sizeof r0, &r0, &rooth) == VNV_OK);
    REQUIRE(vnv_set_root(&f.heap, rooth) == VNV_OK);
    REQUIRE(vnv_checkpoint(&f.heap) == VNV_OK);
    unsigned resets = 0, announced = 0, redone = 0;
    for (int guard = 0; guard < 2000; guard++) {
        struct kv_root rt;
        REQUIRE(vnv_root(&f.heap, &rooth) == VNV_OK);
        REQUIRE(vnv_read(&f.heap, rooth, 0, &rt, sizeof rt) == VNV_OK);
        if (rt.next_task >= KOPS)
            break;
        /* run until a reset: unannounced after a random number of bytes, or announced
         * (the interrupt's checkpoint, then the power goes) after a random number of tasks */
        int silent = rng_below(&r, 3) != 0;
        uint32_t tasks = 1 + rng_below(&r, 200), done = 0;
        if (silent)
            vnv_emu_cut_power_after(&f.emu, 100u + rng_below(&r, 20000));
        for (uint32_t t = rt.next_task; t < KOPS && done < tasks; t++, done++) {
            if (vnv_emu_power_is_off(&f.emu))
                break;
            int err = kv_task(&f, rooth, t);
            if (vnv_emu_power_is_off(&f.emu))
                break;
            CHECK_EQ(err, VNV_OK);
            if (err)
                return;
            if (rng_below(&r, 8) == 0)
                CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* a commit point */
            if (rng_below(&r, 50) == 0) { /* a power-fail checkpoint inside a task */
                CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
                CHECK_EQ(vnv_persist_all(), VNV_OK);
                CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            }
        }
        if (!silent) {
            CHECK_EQ(vnv_persist_all(), VNV_OK);
            announced++;
        }
        uint32_t before = rt.next_task;
        f.emu.power_off = 0;
        vnv_abandon(&f.heap);
        REQUIRE(fx_reboot(&f) == VNV_OK);
        resets++;
        REQUIRE(vnv_root(&f.heap, &rooth) == VNV_OK);
        REQUIRE(vnv_read(&f.heap, rooth, 0, &rt, sizeof rt) == VNV_OK);
        CHECK(rt.next_task >= before); /* never behind the last commit */
        redone += done - (rt.next_task - before);
    }
    /* the final contents equal the run without failures */
    struct kv_root rt;
    REQUIRE(vnv_read(&f.heap, rooth, 0, &rt, sizeof rt) == VNV_OK);
    CHECK_EQ(rt.next_task, KOPS);
    uint32_t hits, sum, live, vals, n = 0, got = 0;
    kv_reference(&hits, &sum, &live, &vals);
    CHECK_EQ(rt.hits, hits);
    CHECK_EQ(rt.sum, sum);
    for (int b = 0; b < KB; b++)
        for (vnv_obj_t c = rt.bucket[b]; !vnv_is_null(c);) {
            struct kv_entry e;
            REQUIRE(vnv_read(&f.heap, c, 0, &e, sizeof e) == VNV_OK);
            n++;
            got += e.value * (e.key + 1u);
            c = e.next;
        }
    CHECK_EQ(n, live);
    CHECK_EQ(got, vals);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    printf("kvs tasks: %u tasks, %u resets (%u announced), %u tasks redone after resets; "
           "contents and query results equal a run without failures\n",
           (unsigned)KOPS, resets, announced, redone);
    CHECK(resets > 20);
    fx_free(&f);
}

/* End and abort visit the members the group noted (up to 5: one lookup each) or walk
 * every resident object when there are more; either way every mark goes (vnv_check
 * refuses a member no visit would find, and a wrong writer-pin count). Groups of 1 to
 * 20 changed, allocated and freed objects, with a resume (RAM wiped and rebuilt) inside
 * half of them; then a writer pin held outside refuses begin, released lets it. */
static void test_members_noted_or_walked(void)
{
    static const uint32_t counts[] = {1, 2, 3, 4, 6, 9, 20};
    for (unsigned ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        for (int mode = 0; mode < 4; mode++) { /* bit 0: abort; bit 1: resume inside */
            struct fixture f;
            uint32_t n = counts[ci], v;
            vnv_obj_t o[24], fresh[2];
            REQUIRE(fx_format(&f, NV, 8192, 4096) == VNV_OK);
            for (uint32_t i = 0; i < n + 1u; i++) {
                v = 100u + i;
                CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &o[i]), VNV_OK);
            }
            f.wipe = 0;
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            for (uint32_t i = 0; i < n + 1u; i += 3) /* some dirty, some clean */
                put_u32(&f, o[i], 200u + i);
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
            /* n - 1 changed (small writes and a whole get_mut), 2 new, 1 freed: n + 2
             * members, the freed one last */
            for (uint32_t i = 0; i + 1u < n; i++) {
                if (i & 1u) {
                    put_u32(&f, o[i], 300u + i);
                } else {
                    uint32_t *p;
                    CHECK_EQ(vnv_get_mut(&f.heap, o[i], (void **)&p), VNV_OK);
                    *p = 300u + i;
                    CHECK_EQ(vnv_release(&f.heap, o[i]), VNV_OK);
                }
            }
            v = 7;
            CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &fresh[0]), VNV_OK);
            CHECK_EQ(vnv_alloc(&f.heap, 4, &v, &fresh[1]), VNV_OK);
            CHECK_EQ(vnv_free(&f.heap, o[n]), VNV_OK);
            uint32_t members = n + 2u;
            CHECK_EQ(f.heap.group_noted, members <= 5u ? members : 255u);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            if (mode & 2) {
                f.wipe = 1;
                CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
                f.wipe = 0;
                CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            }
            int abort = mode & 1;
            if (abort) { /* a pinned member (new, or changed whole) stops the abort */
                const void *q;
                vnv_obj_t pin = (n & 1u) ? fresh[1] : o[0];
                CHECK_EQ(vnv_get(&f.heap, pin, &q), VNV_OK);
                CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_BUSY);
                CHECK_EQ(vnv_release(&f.heap, pin), VNV_OK);
            }
            CHECK_EQ(abort ? vnv_atomic_abort(&f.heap) : vnv_atomic_end(&f.heap), VNV_OK);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            int e;
            for (uint32_t i = 0; i + 1u < n; i++) {
                uint32_t want = abort ? (i % 3u == 0 ? 200u + i : 100u + i) : 300u + i;
                CHECK_EQ(get_u32(&f, o[i], &e), want);
                CHECK_EQ(e, VNV_OK);
            }
            (void)get_u32(&f, o[n], &e);
            CHECK_EQ(e, abort ? VNV_OK : VNV_ERR_INVAL);
            (void)get_u32(&f, fresh[0], &e);
            CHECK_EQ(e, abort ? VNV_ERR_INVAL : VNV_OK);
            /* a writer pin taken outside a group refuses begin until released */
            uint32_t *p;
            CHECK_EQ(vnv_get_mut(&f.heap, o[0], (void **)&p), VNV_OK);
            CHECK_EQ(f.heap.writer_pins, 1u);
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_ERR_BUSY);
            CHECK_EQ(vnv_release(&f.heap, o[0]), VNV_OK);
            CHECK_EQ(f.heap.writer_pins, 0u);
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            /* a count too high (never expected) is corrected by begin's walk, not obeyed */
            f.heap.writer_pins = 2;
            CHECK_EQ(vnv_check(&f.heap), VNV_ERR_CORRUPT);
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
            CHECK_EQ(f.heap.writer_pins, 0u);
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            fx_free(&f);
        }
    }
}

int main(void)
{
    RUN(test_checkpoint_inside_group_served_at_once);
    RUN(test_end_then_checkpoint_keeps_the_group);
    RUN(test_end_without_checkpoint_restarts_before);
    RUN(test_abort_rolls_back);
    RUN(test_nesting_is_flat);
    RUN(test_members_noted_or_walked);
    RUN(test_group_budget);
    RUN(test_group_alloc_without_ram);
    RUN(test_dirty_members_cost_no_traffic);
    RUN(test_free_in_group_keeps_no_copy);
    RUN(test_free_with_full_budget_sends_the_pre_image_home);
    RUN(test_damaged_freed_record_is_refused);
    RUN(test_free_in_group_without_shrink);
    RUN(test_undo_log);
    RUN(test_checkpoint_transactions_with_undo_entries);
    RUN(test_storage_error_inside_abort);
    RUN(test_undo_entry_of_a_non_member_is_refused);
    RUN(test_rollback_frees_homes_only_at_the_next_checkpoint);
    RUN(test_undo_entry_survives_a_restore_inside_the_write);
    RUN(test_list_in_groups);
    RUN(test_random_groups_with_resets);
    group_ram = &vnv_ram_buddy;
    RUN(test_list_in_groups); /* again, over the buddy allocator */
    RUN(test_random_groups_with_resets);
    group_ram = NULL;
    RUN(test_kvs_tasks_survive_resets);
    return vtest_summary();
}

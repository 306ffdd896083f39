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
#include "rng.h"
#include "vtest.h"

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
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK); /* nested: abort takes the whole group */
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_ERR_INVAL); /* nothing open any more */
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_ERR_INVAL);
    expect(&f, &sc, 0);
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    expect(&f, &sc, 0);
    fx_free(&f);
}

/* A group whose changes cannot fit the budget: BUDGET at the change, then abort. */
static void test_group_budget(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, NV, RAM, 400) == VNV_OK);
    vnv_obj_t o[8];
    uint8_t v[100];
    memset(v, 1, sizeof v);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(vnv_alloc(&f.heap, sizeof v, v, &o[i]), VNV_OK);
        CHECK_EQ(vnv_unload(&f.heap, o[i]), VNV_OK);
    }
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
    CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
    for (int k = 0; k < 8; k++) {
        CHECK_EQ(vnv_read(&f.heap, o[k], 0, v, sizeof v), VNV_OK);
        CHECK_EQ(v[99], 1);
    }
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

int main(void)
{
    RUN(test_checkpoint_inside_group_served_at_once);
    RUN(test_end_then_checkpoint_keeps_the_group);
    RUN(test_end_without_checkpoint_restarts_before);
    RUN(test_abort_rolls_back);
    RUN(test_group_budget);
    return vtest_summary();
}

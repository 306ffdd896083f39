/* test_list.c - vnv_list against a reference deque: random operations with checkpoint + RAM
 * wipe + resume and checkpoint + restart; objects touched per operation; refused inputs;
 * injected I/O errors at every storage call of an operation; and power failures at every
 * step of an operation (a checkpoint taken exactly there, then the power is lost). */
#include <stdlib.h>

#include "fixture.h"
#include "rng.h"
#include "vnvheap/list.h"
#include "vtest.h"

#ifdef VNV_TEST_CROSS
#define RANDOM_OPS 4000
#define RANDOM_OPS_LARGE 1500
#else
#define RANDOM_OPS 60000
#define RANDOM_OPS_LARGE 8000
#endif

/* ---- the reference deque --------------------------------------------------------------------- */

#define ESMAX 160
#define MCAP 512

struct model {
    uint32_t es, head, n;
    uint8_t v[MCAP][ESMAX];
};

static uint8_t *m_at(struct model *m, uint32_t i) { return m->v[(m->head + i) % MCAP]; }

static void m_init(struct model *m, uint32_t es)
{
    m->es = es;
    m->head = m->n = 0;
}

static void m_push_back(struct model *m, const void *v)
{
    memcpy(m_at(m, m->n), v, m->es);
    m->n++;
}

static void m_push_front(struct model *m, const void *v)
{
    m->head = (m->head + MCAP - 1u) % MCAP;
    memcpy(m->v[m->head], v, m->es);
    m->n++;
}

static void m_remove(struct model *m, uint32_t i)
{
    for (uint32_t j = i; j + 1u < m->n; j++)
        memcpy(m_at(m, j), m_at(m, j + 1u), m->es);
    m->n--;
}

static void m_pop_front(struct model *m)
{
    m->head = (m->head + 1u) % MCAP;
    m->n--;
}

/* Does the list hold exactly the model's values, forwards and backwards? */
static int list_equals(struct fixture *f, vnv_obj_t l, struct model *m)
{
    uint32_t len = 0, es = 0, i = 0;
    uint8_t buf[ESMAX];
    vnv_obj_t n;
    if (vnv_list_length(&f->heap, l, &len) || len != m->n)
        return 0;
    if (vnv_list_elem_size(&f->heap, l, &es) || es != m->es)
        return 0;
    int err = vnv_list_first(&f->heap, l, &n);
    while (!err && !vnv_is_null(n)) {
        if (i >= m->n || vnv_list_get(&f->heap, l, n, buf) || memcmp(buf, m_at(m, i), es))
            return 0;
        i++;
        err = vnv_list_next(&f->heap, l, n, &n);
    }
    if (err || i != m->n)
        return 0;
    err = vnv_list_last(&f->heap, l, &n);
    while (!err && !vnv_is_null(n)) {
        if (i == 0 || vnv_list_get(&f->heap, l, n, buf) || memcmp(buf, m_at(m, i - 1u), es))
            return 0;
        i--;
        err = vnv_list_prev(&f->heap, l, n, &n);
    }
    return !err && i == 0;
}

/* The node at position i (walking from the nearer end). */
static vnv_obj_t nth(struct fixture *f, vnv_obj_t l, uint32_t i, uint32_t len)
{
    vnv_obj_t n = VNV_NULL;
    if (i < len / 2) {
        CHECK_EQ(vnv_list_first(&f->heap, l, &n), VNV_OK);
        for (uint32_t k = 0; k < i; k++)
            CHECK_EQ(vnv_list_next(&f->heap, l, n, &n), VNV_OK);
    } else {
        CHECK_EQ(vnv_list_last(&f->heap, l, &n), VNV_OK);
        for (uint32_t k = len - 1u; k > i; k--)
            CHECK_EQ(vnv_list_prev(&f->heap, l, n, &n), VNV_OK);
    }
    return n;
}

static struct vnv_stats stats(struct fixture *f)
{
    struct vnv_stats s;
    memset(&s, 0, sizeof s);
    (void)vnv_stats(&f->heap, &s);
    s.nv_free += s.nv_quarantined; /* leak checks: free once the next checkpoint is done */
    return s;
}

struct elem {
    uint32_t a, b, c;
};

static struct model m1, m2, m3; /* large: static */

/* ---- basics ---------------------------------------------------------------------------------- */

static void test_basic(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 4096, 1024) == VNV_OK);
    uint32_t nv0 = stats(&f).nv_free;
    vnv_obj_t l;
    CHECK_EQ(vnv_list_create(&f.heap, sizeof(struct elem), &l), VNV_OK);
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    uint32_t len = 99;
    CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
    CHECK_EQ(len, 0);
    struct elem e, out;
    vnv_obj_t n;
    CHECK_EQ(vnv_list_first(&f.heap, l, &n), VNV_OK);
    CHECK(vnv_is_null(n));
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &out), VNV_ERR_INVAL);  /* empty */
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &out), VNV_ERR_INVAL); /* empty */
    CHECK_EQ(vnv_list_peek_back(&f.heap, l, &out), VNV_ERR_INVAL);
    const void *rv;
    CHECK_EQ(vnv_list_peek_front_ref(&f.heap, l, &n, &rv), VNV_ERR_INVAL);
    m_init(&m1, sizeof e);
    for (uint32_t i = 1; i <= 3; i++) {
        e = (struct elem){i, i * 10u, i * 100u};
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &e), VNV_OK);
        m_push_back(&m1, &e);
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    }
    e = (struct elem){0, 0, 7};
    CHECK_EQ(vnv_list_push_front(&f.heap, l, &e), VNV_OK);
    m_push_front(&m1, &e);
    CHECK_EQ(vnv_list_push_front(&f.heap, l, NULL), VNV_OK); /* zeroes */
    memset(&e, 0, sizeof e);
    m_push_front(&m1, &e);
    CHECK(list_equals(&f, l, &m1));
    CHECK_EQ(vnv_list_peek_back(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(out.a, 3);
    CHECK_EQ(vnv_list_peek_front(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(out.c, 0);
    /* pinned references */
    const struct elem *rp;
    struct elem *wp;
    CHECK_EQ(vnv_list_peek_back_ref(&f.heap, l, &n, (const void **)&rp), VNV_OK);
    CHECK_EQ(rp->b, 30);
    CHECK_EQ(((uintptr_t)rp) % 8, 0);
    CHECK_EQ(vnv_list_release(&f.heap, n), VNV_OK);
    CHECK_EQ(vnv_list_peek_front_mut(&f.heap, l, &n, (void **)&wp), VNV_OK);
    wp->a = 555;
    CHECK_EQ(vnv_list_release(&f.heap, n), VNV_OK);
    ((struct elem *)(void *)m_at(&m1, 0))->a = 555;
    CHECK(list_equals(&f, l, &m1));
    /* pops */
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(out.a, 3);
    m1.n--;
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(out.a, 555);
    m_pop_front(&m1);
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, NULL), VNV_OK); /* discard */
    m_pop_front(&m1);
    CHECK(list_equals(&f, l, &m1));
    /* remove from the middle by handle */
    n = nth(&f, l, 1, m1.n);
    CHECK_EQ(vnv_list_remove(&f.heap, l, n, &out), VNV_OK);
    CHECK_EQ(out.a, 2);
    m_remove(&m1, 1);
    CHECK_EQ(vnv_list_remove(&f.heap, l, n, &out), VNV_ERR_INVAL); /* already removed */
    CHECK(list_equals(&f, l, &m1));
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    /* destroy frees every node and the header */
    CHECK_EQ(vnv_list_destroy(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_list_attach(&f.heap, l), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &e), VNV_ERR_INVAL);
    CHECK_EQ(stats(&f).nv_free, nv0);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* The objects an operation touches, counted as loads from a cold state (nothing resident)
 * and as the dirty bytes it leaves. */
/* Write every object of the list home and drop it from RAM (every `step`-th node). */
static void unload_nodes(struct fixture *f, vnv_obj_t l, uint32_t step)
{
    vnv_obj_t n;
    uint32_t i = 0;
    int err = vnv_list_first(&f->heap, l, &n);
    while (!err && !vnv_is_null(n)) {
        vnv_obj_t next;
        err = vnv_list_next(&f->heap, l, n, &next);
        if (i++ % step == 0) {
            CHECK_EQ(vnv_unload(&f->heap, n), VNV_OK);
            CHECK(!vnv_is_resident(&f->heap, n));
        }
        n = next;
    }
    CHECK_EQ(err, VNV_OK);
}

static void unload_all(struct fixture *f, vnv_obj_t l)
{
    unload_nodes(f, l, 1);
    CHECK_EQ(vnv_unload(&f->heap, l), VNV_OK);
    CHECK(!vnv_is_resident(&f->heap, l));
}

static void test_objects_touched(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 8192, 2048) == VNV_OK);
    const uint32_t node = VNV_LIST_NODE_OVERHEAD + sizeof(struct elem); /* 28 */
    vnv_obj_t l, n;
    struct elem e = {1, 2, 3}, out;
    CHECK_EQ(vnv_list_create(&f.heap, sizeof e, &l), VNV_OK);
    for (int i = 0; i < 12; i++)
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &e), VNV_OK);
    struct vnv_stats s0;
    uint32_t len;

#define COLD()                                                                             \
    do {                                                                                   \
        unload_all(&f, l);                                                                 \
        CHECK_EQ(stats(&f).resident_objects, 0);                                           \
        CHECK_EQ(stats(&f).dirty_bytes, 0);                                                \
        s0 = stats(&f);                                                                    \
    } while (0)
#define LOADS() (stats(&f).loads - s0.loads)
    COLD(); /* push: header W + the new node (allocated resident); the old tail's link is
             * written through without loading it */
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &e), VNV_OK);
    CHECK_EQ(LOADS(), 1);
    CHECK_EQ(stats(&f).allocs - s0.allocs, 1);
    CHECK_EQ(stats(&f).resident_objects, 2);
    CHECK_EQ(stats(&f).dirty_bytes, VNV_LIST_HEADER_SIZE + node);
    COLD();
    CHECK_EQ(vnv_list_push_front(&f.heap, l, &e), VNV_OK);
    CHECK_EQ(LOADS(), 1);
    CHECK_EQ(stats(&f).dirty_bytes, VNV_LIST_HEADER_SIZE + node);
    COLD(); /* pop: header W + the node R, then the node is freed; no neighbour touched */
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(LOADS(), 2);
    CHECK_EQ(stats(&f).frees - s0.frees, 1);
    CHECK_EQ(stats(&f).resident_objects, 1);
    CHECK_EQ(stats(&f).dirty_bytes, VNV_LIST_HEADER_SIZE);
    COLD();
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(LOADS(), 2);
    CHECK_EQ(stats(&f).dirty_bytes, VNV_LIST_HEADER_SIZE);
    /* remove from the middle: header W + node R + both neighbours W */
    n = nth(&f, l, 5, 12);
    COLD();
    CHECK_EQ(vnv_list_remove(&f.heap, l, n, &out), VNV_OK);
    CHECK_EQ(LOADS(), 4);
    CHECK_EQ(stats(&f).dirty_bytes, VNV_LIST_HEADER_SIZE + 2 * node);
    /* readers: header R (+ node R), nothing dirty */
    COLD();
    CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
    CHECK_EQ(len, 11);
    CHECK_EQ(LOADS(), 1);
    COLD();
    CHECK_EQ(vnv_list_peek_back(&f.heap, l, &out), VNV_OK);
    CHECK_EQ(LOADS(), 2);
    CHECK_EQ(stats(&f).dirty_bytes, 0);
    COLD();
    CHECK_EQ(vnv_list_first(&f.heap, l, &n), VNV_OK);
    CHECK_EQ(LOADS(), 1);
    COLD();
    CHECK_EQ(vnv_list_next(&f.heap, l, n, &n), VNV_OK);
    CHECK_EQ(LOADS(), 2); /* header (which node is the tail) + the node */
    CHECK_EQ(vnv_list_get(&f.heap, l, n, &out), VNV_OK);
    CHECK_EQ(LOADS(), 3); /* the next node: its first access */
    /* a push onto an empty list touches the header only (+ the new node) */
    vnv_obj_t l2;
    CHECK_EQ(vnv_list_create(&f.heap, sizeof e, &l2), VNV_OK);
    CHECK_EQ(vnv_unload(&f.heap, l2), VNV_OK);
    s0 = stats(&f);
    CHECK_EQ(vnv_list_push_back(&f.heap, l2, &e), VNV_OK);
    CHECK_EQ(LOADS(), 1);
    CHECK_EQ(vnv_list_destroy(&f.heap, l2), VNV_OK);
    /* destroy: header W, then every node R + freed */
    COLD();
    CHECK_EQ(vnv_list_destroy(&f.heap, l), VNV_OK);
    CHECK_EQ(LOADS(), 1 + 11);
    CHECK_EQ(stats(&f).frees - s0.frees, 1 + 11);
#undef COLD
#undef LOADS
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A FIFO of 256-byte items (push_back + pop_front) on a RAM buffer that holds ~8 nodes, in
 * and out of failure-atomic groups: while it fits, no storage traffic at all; past RAM, at
 * most one node written (leaving RAM) and one read (coming back) per push + pop, and less
 * on average, as the items that fitted are popped from RAM. Counted in bytes, so that the
 * builds that split transactions (VNV_IO_CHUNK) or add a checksum (VNV_DATA_CRC) agree. */
#define NODE_IO (VNV_OBJ_HEADER_SIZE + VNV_LIST_NODE_OVERHEAD + 256u + 8u) /* (+ a CRC) */

static void stream_run(unsigned len, int grouped, uint64_t *bytes, uint64_t *worst)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 128u * 1024u, 3072, 3072) == VNV_OK);
    vnv_obj_t l;
    uint8_t item[256], out[256];
    uint32_t next = 0, want = 0;
    CHECK_EQ(vnv_list_create(&f.heap, sizeof item, &l), VNV_OK);
    for (unsigned i = 0; i < len + 200u; i++) {
        memset(item, (int)(next & 0xFFu), sizeof item);
        item[0] = (uint8_t)(next >> 8);
        uint64_t before = f.emu.read_bytes + f.emu.write_bytes;
        if (grouped)
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l, item), VNV_OK);
        if (grouped) {
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
            CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        }
        next++;
        if (i >= len) {
            CHECK_EQ(vnv_list_pop_front(&f.heap, l, out), VNV_OK);
            CHECK(out[0] == (uint8_t)(want >> 8) && out[1] == (uint8_t)(want & 0xFFu) &&
                  out[255] == (uint8_t)(want & 0xFFu));
            want++;
        }
        if (grouped)
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
        if (i >= len + 40u) { /* steady state: after the first items have passed */
            uint64_t d = f.emu.read_bytes + f.emu.write_bytes - before;
            *bytes += d;
            if (d > *worst)
                *worst = d;
        }
    }
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

static void test_streaming_queue_traffic(void)
{
    for (int grouped = 0; grouped < 2; grouped++) {
        uint64_t bytes = 0, worst = 0;
        stream_run(5, grouped, &bytes, &worst); /* fits: nothing reaches storage */
        CHECK_EQ(bytes, 0);
        bytes = 0;
        stream_run(24, grouped, &bytes, &worst); /* 3 x RAM: 160 push + pop measured */
        CHECK(worst <= 2u * NODE_IO);
        CHECK(bytes >= 160u * (NODE_IO - 8u)); /* most items pass through storage */
        CHECK(bytes < 2u * 160u * (NODE_IO - 8u)); /* the ones that fitted never do */
        fprintf(stderr, "  FIFO of 24 x 256 B, RAM for ~8, %s: %.2f nodes moved per push + pop\n",
                grouped ? "every op a group" : "no groups",
                (double)bytes / (160.0 * (NODE_IO - 8u)));
    }
}

/* The budget an update needs, as list.h states it: HDR + 4 REC + 56 + 2 x (16 + es). */
static void test_minimum_budget(void)
{
    const uint32_t es = 12, need = VNV_CKPT_HEADER_SIZE + 4 * VNV_CKPT_RECORD_SIZE +
                                       VNV_LIST_HEADER_SIZE + 2 * (VNV_LIST_NODE_OVERHEAD + es);
    for (uint32_t budget = need - 1; budget <= need; budget++) {
        struct fixture f;
        REQUIRE(fx_format(&f, 64u * 1024u, 4096, budget) == VNV_OK);
        vnv_obj_t l;
        struct elem e = {1, 2, 3}, out;
        CHECK_EQ(vnv_list_create(&f.heap, es, &l), VNV_OK);
        m_init(&m1, es);
        for (uint32_t i = 0; i < 5; i++) {
            e.a = i;
            CHECK_EQ(vnv_list_push_back(&f.heap, l, &e), VNV_OK); /* 3 W + new node home */
            m_push_back(&m1, &e);
        }
        vnv_obj_t n = nth(&f, l, 2, 5);
        int err = vnv_list_remove(&f.heap, l, n, &out);
        if (budget < need) {
            CHECK_EQ(err, VNV_ERR_BUDGET);
        } else {
            CHECK_EQ(err, VNV_OK);
            CHECK_EQ(out.a, 2);
            m_remove(&m1, 2);
        }
        CHECK(list_equals(&f, l, &m1));
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* ---- random operations against the model ----------------------------------------------------- */

static void random_run(uint32_t seed, uint32_t es, int ops, uint32_t ram, uint32_t dirty)
{
    struct fixture f;
    struct rng r;
    rng_seed(&r, seed);
    REQUIRE(fx_format(&f, 256u * 1024u, ram, dirty) == VNV_OK);
    uint32_t nv0 = stats(&f).nv_free;
    vnv_obj_t l;
    CHECK_EQ(vnv_list_create(&f.heap, es, &l), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, l), VNV_OK);
    m_init(&m1, es);
    uint8_t v[ESMAX], out[ESMAX];
    unsigned counts[16] = {0}, resumes = 0, restarts = 0;
    for (int op = 0; op < ops; op++) {
        uint32_t what = rng_below(&r, 100);
        if (m1.n > 420 && what < 40)
            what += 40; /* keep it below the model's capacity */
        rng_fill(&r, v, es);
        int err;
        if (what < 22) {
            CHECK_EQ(vnv_list_push_back(&f.heap, l, v), VNV_OK);
            m_push_back(&m1, v);
            counts[0]++;
        } else if (what < 40) {
            CHECK_EQ(vnv_list_push_front(&f.heap, l, v), VNV_OK);
            m_push_front(&m1, v);
            counts[1]++;
        } else if (what < 72) {
            int front = what < 58;
            err = front ? vnv_list_pop_front(&f.heap, l, out) : vnv_list_pop_back(&f.heap, l, out);
            if (m1.n == 0) {
                CHECK_EQ(err, VNV_ERR_INVAL); /* empty */
            } else {
                CHECK_EQ(err, VNV_OK);
                CHECK(memcmp(out, m_at(&m1, front ? 0 : m1.n - 1u), es) == 0);
                if (front)
                    m_pop_front(&m1);
                else
                    m1.n--;
            }
            counts[front ? 2 : 3]++;
        } else if (what < 78) {
            int front = what < 75;
            err = front ? vnv_list_peek_front(&f.heap, l, out)
                        : vnv_list_peek_back(&f.heap, l, out);
            if (m1.n == 0) {
                CHECK_EQ(err, VNV_ERR_INVAL);
            } else {
                CHECK_EQ(err, VNV_OK);
                CHECK(memcmp(out, m_at(&m1, front ? 0 : m1.n - 1u), es) == 0);
            }
            counts[4]++;
        } else if (what < 84) {
            /* modify in place through a writer reference, sometimes across a checkpoint
             * with RAM wipe */
            vnv_obj_t n;
            uint8_t *p;
            int front = what < 81;
            err = front ? vnv_list_peek_front_mut(&f.heap, l, &n, (void **)&p)
                        : vnv_list_peek_back_mut(&f.heap, l, &n, (void **)&p);
            if (m1.n == 0) {
                CHECK_EQ(err, VNV_ERR_INVAL);
            } else if (err == VNV_OK) {
                if (rng_below(&r, 4) == 0) {
                    CHECK_EQ(vnv_persist_all(), VNV_OK);
                    resumes++;
                }
                CHECK(memcmp(p, m_at(&m1, front ? 0 : m1.n - 1u), es) == 0);
                memcpy(p, v, es);
                memcpy(m_at(&m1, front ? 0 : m1.n - 1u), v, es);
                CHECK_EQ(vnv_list_release(&f.heap, n), VNV_OK);
            } else {
                CHECK_EQ(err, VNV_OK);
            }
            counts[5]++;
        } else if (what < 89) {
            if (m1.n) {
                uint32_t i = rng_below(&r, m1.n);
                vnv_obj_t n = nth(&f, l, i, m1.n);
                CHECK_EQ(vnv_list_remove(&f.heap, l, n, out), VNV_OK);
                CHECK(memcmp(out, m_at(&m1, i), es) == 0);
                m_remove(&m1, i);
            }
            counts[6]++;
        } else if (what < 93) {
            uint32_t len = 0;
            CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
            CHECK_EQ(len, m1.n);
        } else if (what < 96) {
            CHECK_EQ(vnv_persist_all(), VNV_OK); /* checkpoint + RAM wipe + resume */
            resumes++;
        } else if (what < 98) {
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* checkpoint + power loss */
            CHECK_EQ(fx_reboot(&f), VNV_OK);
            vnv_obj_t root;
            CHECK_EQ(vnv_root(&f.heap, &root), VNV_OK);
            CHECK(vnv_same(root, l));
            CHECK_EQ(vnv_list_attach(&f.heap, root), VNV_OK);
            restarts++;
        } else if (what < 99) {
            CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
        } else {
            if (rng_below(&r, 4) == 0) {
                CHECK_EQ(vnv_check(&f.heap), VNV_OK);
                CHECK(list_equals(&f, l, &m1));
            }
        }
        if (vtest_failed > 20)
            break;
    }
    CHECK(list_equals(&f, l, &m1));
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    CHECK(stats(&f).peak_checkpoint_bytes <= dirty);
    CHECK(stats(&f).evictions > 0 && stats(&f).flushes > 0);
    CHECK(restarts > 10 && resumes > 10);
    fprintf(stderr,
            "  es %u: %d ops (push back/front %u/%u, pop front/back %u/%u, peek %u, "
            "write-ref %u, remove %u), %u resumes, %u restarts, final length %u\n",
            (unsigned)es, ops, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5],
            counts[6], resumes, restarts, (unsigned)m1.n);
    /* no node leaked over all of it */
    CHECK_EQ(vnv_list_destroy(&f.heap, l), VNV_OK);
    CHECK_EQ(stats(&f).nv_free, nv0);
    fx_free(&f);
}

static void test_random_small_elements(void) { random_run(11, 12, RANDOM_OPS, 4096, 1024); }

/* nodes larger than VNV_LIST_STACK_NODE: allocated zeroed, then filled */
static void test_random_large_elements(void)
{
    random_run(12, 150, RANDOM_OPS_LARGE, 4096, 1536);
}

/* ---- refused inputs -------------------------------------------------------------------------- */

static void test_bad_inputs(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 4096, 1024) == VNV_OK);
    vnv_obj_t l, l2, plain, plain56, n, out_n;
    uint32_t v = 5, len;
    CHECK_EQ(vnv_list_create(&f.heap, 0, &l), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_create(&f.heap, VNV_LIST_MAX_ELEM + 1u, &l), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_create(&f.heap, SIZE_MAX, &l), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_create(&f.heap, 4, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_create(NULL, 4, &l), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_create(&f.heap, 4, &l), VNV_OK);
    CHECK_EQ(vnv_list_create(&f.heap, 4, &l2), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, 20, NULL, &plain), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, VNV_LIST_HEADER_SIZE, NULL, &plain56), VNV_OK);
    /* handles that are not lists */
    CHECK_EQ(vnv_list_attach(&f.heap, VNV_NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_attach(&f.heap, plain), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_attach(&f.heap, plain56), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_attach(&f.heap, (vnv_obj_t){l.id ^ 2u}), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_push_back(&f.heap, plain56, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_pop_front(&f.heap, plain, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_length(&f.heap, plain56, &len), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_check(&f.heap, plain56), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_destroy(&f.heap, plain56), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_push_back(NULL, l, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_length(&f.heap, l, NULL), VNV_ERR_INVAL);
    /* empty list */
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_peek_front(&f.heap, l, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_remove(&f.heap, l, VNV_NULL, &v), VNV_ERR_INVAL);
    /* nodes of another list, the list itself, plain objects as nodes */
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &i), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l2, &i), VNV_OK);
    }
    CHECK_EQ(vnv_list_first(&f.heap, l2, &n), VNV_OK);
    CHECK_EQ(vnv_list_remove(&f.heap, l, n, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_next(&f.heap, l, n, &out_n), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_get(&f.heap, l, n, &v), VNV_ERR_INVAL);
    const void *rv;
    void *wv;
    CHECK_EQ(vnv_list_ref(&f.heap, l, n, &rv), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_ref_mut(&f.heap, l, n, &wv), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_remove(&f.heap, l, l, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_remove(&f.heap, l, plain, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_remove(&f.heap, l, plain56, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_next(&f.heap, l, l, &out_n), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_next(&f.heap, l, VNV_NULL, &out_n), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_remove(&f.heap, l, (vnv_obj_t){n.id ^ 4u}, &v), VNV_ERR_INVAL);
    /* NULL where a result goes (the list is not empty, the node is its own) */
    vnv_obj_t own;
    CHECK_EQ(vnv_list_first(&f.heap, l, &own), VNV_OK);
    CHECK_EQ(vnv_list_elem_size(&f.heap, l, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_first(&f.heap, l, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_last(&f.heap, l, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_next(&f.heap, l, own, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_prev(&f.heap, l, own, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_get(&f.heap, l, own, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_ref(&f.heap, l, own, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_ref_mut(&f.heap, l, own, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_peek_front(&f.heap, l, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_peek_back(&f.heap, l, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_peek_front_ref(&f.heap, l, NULL, &rv), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_peek_back_ref(&f.heap, l, &out_n, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_peek_front_mut(&f.heap, l, &out_n, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_unload(&f.heap, own), VNV_OK); /* not left pinned */
    CHECK_EQ(vnv_unload(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    /* objects of another size as nodes: INVAL, nothing read or copied past them - a forged
     * node with this list's owner words (white-box: words 4-5) and a larger value would
     * overflow `v` if its own size were believed */
    vnv_obj_t tiny, forged;
    uint32_t fw[10] = {0};
    fw[4] = (uint32_t)l.id;
    fw[5] = 0x6E4C4E56u;
    CHECK_EQ(vnv_alloc(&f.heap, 8, NULL, &tiny), VNV_OK);
    CHECK_EQ(vnv_alloc(&f.heap, sizeof fw, fw, &forged), VNV_OK);
    vnv_obj_t odd[2] = {tiny, forged};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(vnv_list_get(&f.heap, l, odd[k], &v), VNV_ERR_INVAL);
        CHECK_EQ(vnv_list_next(&f.heap, l, odd[k], &out_n), VNV_ERR_INVAL);
        CHECK_EQ(vnv_list_prev(&f.heap, l, odd[k], &out_n), VNV_ERR_INVAL);
        CHECK_EQ(vnv_list_ref(&f.heap, l, odd[k], &rv), VNV_ERR_INVAL);
        CHECK_EQ(vnv_list_ref_mut(&f.heap, l, odd[k], &wv), VNV_ERR_INVAL);
        CHECK_EQ(vnv_list_remove(&f.heap, l, odd[k], &v), VNV_ERR_INVAL);
        CHECK_EQ(vnv_release(&f.heap, odd[k]), VNV_ERR_INVAL); /* nothing left pinned */
    }
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    /* a popped node's handle is dead */
    vnv_obj_t last;
    CHECK_EQ(vnv_list_last(&f.heap, l, &last), VNV_OK);
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &v), VNV_OK);
    CHECK_EQ(vnv_list_get(&f.heap, l, last, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_remove(&f.heap, l, last, &v), VNV_ERR_INVAL);
    /* held references block the updates that need those nodes: BUSY, list unchanged */
    vnv_obj_t held;
    CHECK_EQ(vnv_list_peek_back_ref(&f.heap, l, &held, &rv), VNV_OK);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_ERR_BUSY);  /* needs the tail W */
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &v), VNV_ERR_BUSY);   /* frees the tail */
    CHECK_EQ(vnv_list_push_front(&f.heap, l, &v), VNV_OK);       /* far end: fine */
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &v), VNV_OK);
    CHECK_EQ(vnv_list_release(&f.heap, held), VNV_OK);
    CHECK_EQ(vnv_list_peek_front_mut(&f.heap, l, &held, &wv), VNV_OK);
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &v), VNV_ERR_BUSY);
    /* the other end comes off without touching its held neighbour */
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, &v), VNV_OK);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_ERR_BUSY); /* the held node's link */
    CHECK_EQ(vnv_list_peek_front(&f.heap, l, &v), VNV_ERR_BUSY);
    CHECK_EQ(vnv_list_release(&f.heap, held), VNV_OK);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_OK); /* back to two */
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    const void *hv;
    CHECK_EQ(vnv_get(&f.heap, l, &hv), VNV_OK); /* someone reads the header */
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_ERR_BUSY);
    CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
    CHECK_EQ(len, 2);
    CHECK_EQ(vnv_release(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
    CHECK_EQ(len, 2);
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_list_check(&f.heap, l2), VNV_OK);
    /* a broken link is reported by check (a scribble through a raw pointer) */
    uint32_t *raw;
    CHECK_EQ(vnv_list_first(&f.heap, l2, &n), VNV_OK);
    CHECK_EQ(vnv_get_mut(&f.heap, n, (void **)&raw), VNV_OK);
    uint64_t saved; /* words 2-3: the next link */
    memcpy(&saved, raw + 2, sizeof saved);
    memcpy(raw + 2, &n.id, sizeof n.id); /* next = itself */
    CHECK_EQ(vnv_release(&f.heap, n), VNV_OK);
    CHECK_EQ(vnv_list_check(&f.heap, l2), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_get_mut(&f.heap, n, (void **)&raw), VNV_OK);
    memcpy(raw + 2, &saved, sizeof saved);
    CHECK_EQ(vnv_release(&f.heap, n), VNV_OK);
    CHECK_EQ(vnv_list_check(&f.heap, l2), VNV_OK);
    /* destroy: refused while a node is pinned, resumable */
    CHECK_EQ(vnv_list_peek_back_ref(&f.heap, l2, &held, &rv), VNV_OK);
    CHECK_EQ(vnv_list_destroy(&f.heap, l2), VNV_ERR_BUSY);
    CHECK_EQ(vnv_list_check(&f.heap, l2), VNV_OK);            /* a partly destroyed list */
    CHECK_EQ(vnv_list_attach(&f.heap, l2), VNV_ERR_INVAL);    /* ... is not attachable */
    CHECK_EQ(vnv_list_push_back(&f.heap, l2, &v), VNV_ERR_INVAL);
    CHECK_EQ(vnv_list_release(&f.heap, held), VNV_OK);
    CHECK_EQ(vnv_list_destroy(&f.heap, l2), VNV_OK);
    CHECK_EQ(vnv_list_destroy(&f.heap, l2), VNV_ERR_INVAL);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A damaged length at its end (2^32 - 1, more nodes than any heap holds) must not wrap to 0
 * on a push: the push is refused, and nothing is allocated or linked. */
static void test_length_at_its_end(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 4096, 2048) == VNV_OK);
    vnv_obj_t l;
    uint32_t v = 7, len = 0, max = UINT32_MAX;
    CHECK_EQ(vnv_list_create(&f.heap, sizeof v, &l), VNV_OK);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_OK);
    CHECK_EQ(vnv_write(&f.heap, l, 2u * 4u, &max, sizeof max), VNV_OK); /* word 2: length */
    struct vnv_stats before, after;
    CHECK_EQ(vnv_stats(&f.heap, &before), VNV_OK);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_list_push_front(&f.heap, l, &v), VNV_ERR_CORRUPT);
    /* inside a group, where push takes its own path (found by an outside test: it wrapped
     * the length to 0 there) */
    CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
    CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_list_push_front(&f.heap, l, &v), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
    CHECK_EQ(vnv_stats(&f.heap, &after), VNV_OK);
    CHECK_EQ(after.allocs, before.allocs);
    CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
    CHECK_EQ(len, UINT32_MAX);
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_ERR_CORRUPT);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

/* A committed push intent whose link write names an object that is not a node of this list
 * (a crafted image): attach and every update refuse it (set_link), so vnv_list_check must
 * too, though that object is not on the list's walk (found by an outside test). */
static void test_check_refuses_what_the_redo_refuses(void)
{
    for (int other_list = 0; other_list < 2; other_list++) {
        struct fixture f;
        REQUIRE(fx_format(&f, 64u * 1024u, 4096, 2048) == VNV_OK);
        vnv_obj_t l, l2, plain;
        uint32_t v = 7, len = 0;
        CHECK_EQ(vnv_list_create(&f.heap, sizeof v, &l), VNV_OK);
        CHECK_EQ(vnv_list_create(&f.heap, sizeof v, &l2), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &v), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l2, &v), VNV_OK);
        uint8_t zero[VNV_LIST_NODE_OVERHEAD + sizeof v];
        memset(zero, 0x11, sizeof zero);
        CHECK_EQ(vnv_alloc(&f.heap, sizeof zero, zero, &plain), VNV_OK);
        vnv_obj_t foreign = plain;
        if (other_list)
            CHECK_EQ(vnv_list_first(&f.heap, l2, &foreign), VNV_OK);
        /* words of the header: ihead 12, itail 14, ilen 4, ia 16, ianext 18, then op 3 */
        uint32_t hd[2], w[2] = {(uint32_t)foreign.id, (uint32_t)(foreign.id >> 32)};
        uint32_t one = 1, link = 0x4B4E494Cu;
        CHECK_EQ(vnv_read(&f.heap, l, 6u * 4u, hd, sizeof hd), VNV_OK); /* head */
        CHECK_EQ(vnv_write(&f.heap, l, 12u * 4u, hd, sizeof hd), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, l, 14u * 4u, hd, sizeof hd), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, l, 4u * 4u, &one, sizeof one), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, l, 16u * 4u, w, sizeof w), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, l, 3u * 4u, &link, sizeof link), VNV_OK);
        uint8_t before[sizeof zero], after[sizeof zero];
        CHECK_EQ(vnv_read(&f.heap, foreign, 0, before, sizeof before), VNV_OK);
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_ERR_CORRUPT);
        CHECK_EQ(vnv_list_attach(&f.heap, l), VNV_ERR_CORRUPT);
        CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_ERR_CORRUPT);
        CHECK_EQ(vnv_read(&f.heap, foreign, 0, after, sizeof after), VNV_OK);
        CHECK(memcmp(before, after, sizeof before) == 0); /* the bystander is untouched */
        CHECK_EQ(vnv_list_check(&f.heap, l2), VNV_OK);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* A list left in the middle of a destroy whose nodes form a cycle (node data carries no
 * checksum: a scribbled or forged image). Destroy's walk checks no back links, so before
 * only the stored length stopped vnv_list_check on the cycle: 2^32 - 1 steps, hours on a
 * microcontroller. It must end within a few rounds of the cycle. Nodes of 2 KiB, so that
 * only one fits in RAM and every step loads (stats.loads counts the steps); a length of
 * 1000 makes the old walk fail the count quickly instead of running for hours. */
static void test_cycle_in_a_list_being_destroyed(void)
{
    for (int big = 0; big < 2; big++) {
        struct fixture f;
        REQUIRE(fx_format(&f, 64u * 1024u, 4096, 2600) == VNV_OK);
        static uint8_t v[2000];
        vnv_obj_t l, n[3];
        CHECK_EQ(vnv_list_create(&f.heap, sizeof v, &l), VNV_OK);
        for (int i = 0; i < 3; i++) {
            memset(v, 0x40 + i, sizeof v);
            CHECK_EQ(vnv_list_push_back(&f.heap, l, v), VNV_OK);
            CHECK_EQ(vnv_list_last(&f.heap, l, &n[i]), VNV_OK);
        }
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
        uint32_t next[2] = {(uint32_t)n[0].id, (uint32_t)(n[0].id >> 32)};
        uint32_t len = big ? UINT32_MAX : 1000u, op = 0x59545344u; /* "being destroyed" */
        /* 2 -> 1: a cycle before the tail (whose next link the walks ignore) */
        CHECK_EQ(vnv_write(&f.heap, n[1], 2u * 4u, next, sizeof next), VNV_OK);
        CHECK_EQ(vnv_write(&f.heap, l, 2u * 4u, &len, sizeof len), VNV_OK);  /* word 2 */
        CHECK_EQ(vnv_write(&f.heap, l, 3u * 4u, &op, sizeof op), VNV_OK);    /* word 3 */
        struct vnv_stats before, after;
        CHECK_EQ(vnv_stats(&f.heap, &before), VNV_OK);
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_ERR_CORRUPT);
        CHECK_EQ(vnv_stats(&f.heap, &after), VNV_OK);
        CHECK(after.loads - before.loads >= 3u); /* (the walk did load: the count means it) */
        CHECK(after.loads - before.loads <= 16u);
        CHECK_EQ(vnv_list_destroy(&f.heap, l), VNV_ERR_CORRUPT); /* frees until the cycle */
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}

/* A destroy restarted from a checkpoint taken at each of its steps, over a list whose tail
 * still links to a node popped before (a tail's next link is don't-care, and destroy
 * ignores it): vnv_list_check must pass on every such state (list.h), and a second destroy
 * must finish the list with no storage left behind. It said CORRUPT on 68 of them: its
 * walk did not stop at the tail during a destroy and followed the stale link to the freed
 * node (an outside tester found it). */
static struct {
    struct fixture *f;
    uint32_t step, target;
    uint8_t *image;
} D;

static void d_step(void *arg)
{
    (void)arg;
    if (++D.step == D.target && vnv_checkpoint(&D.f->heap) == VNV_OK)
        memcpy(D.image, D.f->nv, 64u * 1024u);
}

static void test_destroy_restarts_with_a_stale_tail_link(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 4096, 1024) == VNV_OK);
    uint8_t *base = malloc(64u * 1024u), *image = malloc(64u * 1024u);
    REQUIRE(base != NULL && image != NULL);
    vnv_obj_t l;
    CHECK_EQ(vnv_list_create(&f.heap, 1, &l), VNV_OK);
    CHECK_EQ(vnv_set_root(&f.heap, l), VNV_OK);
    for (uint8_t i = 0; i < 13; i++)
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &i), VNV_OK);
    CHECK_EQ(vnv_list_pop_back(&f.heap, l, NULL), VNV_OK); /* the new tail links to it */
    f.wipe = 0;
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
    uint32_t nv_base = stats(&f).nv_free;
    memcpy(base, f.nv, 64u * 1024u);
    D.f = &f;
    D.image = image;
    unsigned mid = 0;
    for (D.target = 1; D.target < 400; D.target++) {
        memcpy(f.nv, base, 64u * 1024u);
        REQUIRE(fx_reboot(&f) == VNV_OK);
        f.wipe = 0;
        D.step = 0;
        vnv_list_set_step_hook(d_step, NULL);
        int err = vnv_list_destroy(&f.heap, l);
        vnv_list_set_step_hook(NULL, NULL);
        CHECK_EQ(err, VNV_OK);
        if (D.step < D.target)
            break; /* every step done */
        uint32_t nv_done = stats(&f).nv_free;
        CHECK(nv_done > nv_base);
        memcpy(f.nv, image, 64u * 1024u); /* the power was lost after that checkpoint */
        REQUIRE(fx_reboot(&f) == VNV_OK);
        int aerr = vnv_list_attach(&f.heap, l), cerr = vnv_list_check(&f.heap, l);
        if (aerr == VNV_ERR_INVAL && cerr == VNV_OK)
            mid++; /* marked as being destroyed */
        CHECK(aerr == VNV_OK || aerr == VNV_ERR_INVAL);
        CHECK(cerr == VNV_OK || (aerr == VNV_ERR_INVAL && cerr == VNV_ERR_INVAL)); /* freed */
        int derr = vnv_list_destroy(&f.heap, l);
        CHECK(derr == VNV_OK || derr == VNV_ERR_INVAL);
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* (freed homes return after it) */
        CHECK_EQ(stats(&f).nv_free, nv_done);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    }
    CHECK(mid >= 12); /* restarts inside the destroy, one per node at least */
    free(base);
    free(image);
    fx_free(&f);
}

/* A pop inside a group whose free finds the budget full (a group member fills it) after
 * the header already names the new end: putting the header back needs an undo entry of its
 * own, which the full budget refuses too. The pop returned BUDGET with the list one node
 * shorter and the node neither in it nor freed. Now the pop aborts the group: the error,
 * depth 0, and the list as before the group. Swept over the filler's size, so that some
 * sizes make the free fail and the header's restore succeed, others both fail. */
static void test_grouped_pop_when_the_budget_runs_out(void)
{
    unsigned both_failed = 0, one_failed = 0;
    for (uint32_t fill = 300; fill > 8; fill--) {
        struct fixture f;
        REQUIRE(fx_format(&f, 16384u, 2048, 420) == VNV_OK);
        vnv_obj_t l, x, n;
        uint64_t a = 1, b = 2, c = 3, d = 4, out = 0;
        uint32_t len0 = 0, len1 = 0;
        if (vnv_alloc(&f.heap, fill, NULL, &x) || vnv_unload(&f.heap, x)) {
            fx_free(&f);
            continue;
        }
        CHECK_EQ(vnv_list_create(&f.heap, sizeof a, &l), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &a), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &b), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(vnv_list_push_back(&f.heap, l, &c), VNV_OK);
        CHECK_EQ(vnv_list_first(&f.heap, l, &n), VNV_OK);
        (void)vnv_unload(&f.heap, n);
        CHECK_EQ(vnv_list_next(&f.heap, l, n, &n), VNV_OK);
        (void)vnv_unload(&f.heap, n);
        CHECK_EQ(vnv_list_length(&f.heap, l, &len0), VNV_OK);
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        void *p;
        if (vnv_list_push_front(&f.heap, l, &d) || vnv_get_mut(&f.heap, x, &p)) {
            fx_free(&f); /* (this size leaves no room for the setup itself) */
            continue;
        }
        CHECK_EQ(vnv_release(&f.heap, x), VNV_OK); /* x: a member filling the budget */
        int err = vnv_list_pop_back(&f.heap, l, &out);
        CHECK_EQ(vnv_list_length(&f.heap, l, &len1), VNV_OK);
        if (err && vnv_atomic_depth(&f.heap) == 0) { /* aborted: as before the group */
            both_failed++;
            CHECK_EQ(len1, len0);
            CHECK_EQ(vnv_list_peek_front(&f.heap, l, &out), VNV_OK);
            CHECK_EQ(out, a);
        } else if (err) { /* the header went back: as before the pop (d pushed) */
            one_failed++;
            CHECK_EQ(len1, len0 + 1u);
        } else {
            CHECK_EQ(len1, len0);
            CHECK_EQ(out, c);
        }
        if (vnv_atomic_depth(&f.heap)) /* (reading nodes needs budget the group holds) */
            CHECK_EQ(vnv_atomic_abort(&f.heap), VNV_OK);
        CHECK_EQ(vnv_list_length(&f.heap, l, &len1), VNV_OK);
        CHECK_EQ(len1, len0);
        CHECK_EQ(vnv_list_peek_back(&f.heap, l, &out), VNV_OK);
        CHECK_EQ(out, c);
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
    printf("grouped pop, budget full: %u sizes aborted the group, %u put the header back\n",
           both_failed, one_failed);
    CHECK(both_failed > 0);
}

/* Pushes inside a group until the budget runs out. The failing push frees its new node,
 * and that free needs budget of its own when the node went home (a record for the freed
 * object), which the full budget refused: the free's error was ignored and the node stayed
 * allocated, in no list, for good (an outside tester found 128 bytes of storage lost).
 * Now such a push aborts the group. Either way no storage may be lost: after the group
 * (ended or aborted) and popping everything, the free storage is what it was before. */
static void test_grouped_push_when_the_budget_runs_out(void)
{
    unsigned aborted = 0, backed_out = 0;
    for (uint32_t dirty = 600; dirty <= 960; dirty += 24) {
        struct fixture f;
        fx_init(&f, 64u * 1024u, 3072, dirty);
        f.cfg.ram_allocator = &vnv_ram_buddy;
        REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
        vnv_obj_t l;
        CHECK_EQ(vnv_list_create(&f.heap, 1, &l), VNV_OK);
        CHECK_EQ(vnv_set_root(&f.heap, l), VNV_OK);
        f.wipe = 0;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        uint32_t free0 = stats(&f).nv_free, len = 0;
        CHECK_EQ(vnv_atomic_begin(&f.heap), VNV_OK);
        int err = VNV_OK, pushed = 0;
        for (uint8_t i = 0; i < 200 && !err; i++) {
            err = (i & 1) ? vnv_list_push_front(&f.heap, l, &i) : vnv_list_push_back(&f.heap, l, &i);
            pushed += !err;
        }
        CHECK_EQ(err, VNV_ERR_BUDGET);
        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        CHECK_EQ(vnv_list_length(&f.heap, l, &len), VNV_OK);
        if (vnv_atomic_depth(&f.heap) == 0) { /* aborted: as before the group */
            aborted++;
            CHECK_EQ(len, 0);
        } else {
            backed_out++;
            CHECK_EQ(len, (uint32_t)pushed);
            CHECK_EQ(vnv_atomic_end(&f.heap), VNV_OK);
        }
        while (vnv_list_pop_front(&f.heap, l, NULL) == VNV_OK)
            ;
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* (freed homes return after the next) */
        CHECK_EQ(stats(&f).nv_free, free0);
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
    printf("grouped push, budget full: %u aborted the group, %u backed out the push\n",
           aborted, backed_out);
    CHECK(aborted > 0);
}

/* ---- injected I/O errors --------------------------------------------------------------------- */

enum op_kind {
    OP_PUSH_BACK,
    OP_PUSH_FRONT,
    OP_POP_BACK,
    OP_POP_FRONT,
    OP_REMOVE_MID,
    OP_PUSH_EMPTY,
    OP_POP_LAST,
    OP_DESTROY,
    OP_POP_PINNED, /* pop_back while the tail is referenced: its free fails, rolled back */
    OP_KINDS
};
static const char *const op_name[OP_KINDS] = {"push_back", "push_front", "pop_back",
                                              "pop_front", "remove",     "push(empty)",
                                              "pop(last)", "destroy",    "pop(pinned)"};

/* Run one operation on list `l` (model `m` = its content before) and put the expected
 * content after it into `post`. Returns the operation's result. */
static int run_op(struct fixture *f, enum op_kind k, vnv_obj_t l, vnv_obj_t mid,
                  struct model *m, struct model *post, uint8_t *out)
{
    static const uint8_t val[ESMAX] = {0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45};
    *post = *m;
    switch (k) {
    case OP_PUSH_BACK:
    case OP_PUSH_EMPTY:
        m_push_back(post, val);
        return vnv_list_push_back(&f->heap, l, val);
    case OP_PUSH_FRONT:
        m_push_front(post, val);
        return vnv_list_push_front(&f->heap, l, val);
    case OP_POP_BACK:
    case OP_POP_LAST:
        memcpy(out + ESMAX, m_at(post, post->n - 1u), m->es);
        post->n--;
        return vnv_list_pop_back(&f->heap, l, out);
    case OP_POP_FRONT:
        memcpy(out + ESMAX, m_at(post, 0), m->es);
        m_pop_front(post);
        return vnv_list_pop_front(&f->heap, l, out);
    case OP_REMOVE_MID: {
        memcpy(out + ESMAX, m_at(post, 2), m->es);
        m_remove(post, 2);
        return vnv_list_remove(&f->heap, l, mid, out);
    }
    case OP_DESTROY:
        post->n = 0;
        return vnv_list_destroy(&f->heap, l);
    case OP_POP_PINNED: {
        /* `post` is what a restart sees if the checkpoint caught the removal committed */
        post->n--;
        vnv_obj_t held;
        const void *rv;
        int err = vnv_list_peek_back_ref(&f->heap, l, &held, &rv);
        if (err)
            return err;
        err = vnv_list_pop_back(&f->heap, l, out); /* BUSY: the node cannot be freed */
        (void)vnv_list_release(&f->heap, held);
        return err;
    }
    default:
        return VNV_ERR_INVAL;
    }
}

/* Build the base heap image: lists of 6 and 0 elements (es 12) and one of 2 large elements,
 * the handles in a root object. mode 1 (cold) unloads everything before the checkpoint,
 * mode 2 every other node of list 0 and the header of list 2, mode 0 nothing. */
struct base {
    vnv_obj_t lists[3];
    struct model *m[3];
    uint8_t *image;
    uint32_t nv_size;
};

static void make_base(struct fixture *f, struct base *b, int mode)
{
    static const uint32_t es[3] = {12, 12, 150};
    static const uint32_t count[3] = {6, 0, 2};
    b->m[0] = &m1;
    b->m[1] = &m2;
    b->m[2] = &m3;
    for (int i = 0; i < 3; i++) {
        m_init(b->m[i], es[i]);
        CHECK_EQ(vnv_list_create(&f->heap, es[i], &b->lists[i]), VNV_OK);
        for (uint32_t j = 0; j < count[i]; j++) {
            uint8_t v[ESMAX];
            memset(v, (int)(0x10u * (uint32_t)i + j + 1u), sizeof v);
            CHECK_EQ(vnv_list_push_back(&f->heap, b->lists[i], v), VNV_OK);
            m_push_back(b->m[i], v);
        }
        if (mode == 1)
            unload_all(f, b->lists[i]);
    }
    if (mode == 2) {
        unload_nodes(f, b->lists[0], 2);
        CHECK_EQ(vnv_unload(&f->heap, b->lists[2]), VNV_OK);
    }
    vnv_obj_t root;
    CHECK_EQ(vnv_alloc(&f->heap, sizeof b->lists, b->lists, &root), VNV_OK);
    CHECK_EQ(vnv_set_root(&f->heap, root), VNV_OK);
    if (mode == 1)
        CHECK_EQ(vnv_unload(&f->heap, root), VNV_OK);
    CHECK_EQ(vnv_checkpoint(&f->heap), VNV_OK);
    b->nv_size = f->emu.size;
    b->image = malloc(b->nv_size);
    memcpy(b->image, f->nv, b->nv_size);
}

/* Back to the base state: the saved storage image, then a restart. */
static int restore_base(struct fixture *f, struct base *b)
{
    memcpy(f->nv, b->image, b->nv_size);
    int err = fx_reboot(f);
    for (int i = 0; !err && i < 3; i++)
        err = vnv_list_attach(&f->heap, b->lists[i]);
    return err;
}

static void injection_sweep(int cold)
{
    struct fixture f;
    struct base b;
    REQUIRE(fx_format(&f, 64u * 1024u, cold ? 4096 : 1024, cold ? 1024 : 480) == VNV_OK);
    make_base(&f, &b, cold);
    static struct model post;
    uint8_t out[2 * ESMAX];
    unsigned trials = 0, failed_ops = 0;
    for (int kind = 0; kind < OP_KINDS + 1; kind++) {
        enum op_kind k = kind == OP_KINDS ? OP_PUSH_BACK : (enum op_kind)kind;
        int which = k == OP_PUSH_EMPTY ? 1 : kind == OP_KINDS ? 2 : 0; /* 2: large elements */
        if (k == OP_POP_LAST || k == OP_POP_PINNED)
            continue; /* covered by the power-failure sweep */
        for (int reads = 0; reads < 2; reads++) {
            for (uint32_t at = 1; at < 400; at++) {
                REQUIRE(restore_base(&f, &b) == VNV_OK);
                vnv_obj_t l = b.lists[which];
                struct model *m = b.m[which];
                vnv_obj_t mid = k == OP_REMOVE_MID ? nth(&f, l, 2, m->n) : VNV_NULL;
                if (reads)
                    vnv_emu_fail_read_at(&f.emu, at);
                else
                    vnv_emu_fail_write_at(&f.emu, at);
                int err = run_op(&f, k, l, mid, m, &post, out);
                int fired = reads ? f.emu.fail_read_in == 0 : f.emu.fail_write_in == 0;
                vnv_emu_fail_read_at(&f.emu, 0);
                vnv_emu_fail_write_at(&f.emu, 0);
                trials++;
                if (!fired) {
                    CHECK_EQ(err, VNV_OK); /* the operation needs fewer calls: done */
                    break;
                }
                if (err)
                    failed_ops++;
                unsigned before = vtest_failed;
                int hc = vnv_check(&f.heap);
                CHECK_EQ(hc, VNV_OK);
                if (k == OP_DESTROY) {
                    /* either untouched (error before the DESTROY commit) or destroyed in
                     * part: calling destroy again finishes it */
                    int a = vnv_list_attach(&f.heap, l);
                    if (!err) {
                        CHECK_EQ(a, VNV_ERR_INVAL);
                    } else if (a == VNV_OK) {
                        CHECK(list_equals(&f, l, m));
                        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
                    } else {
                        CHECK_EQ(a, VNV_ERR_INVAL);
                        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
                        if (hc == VNV_OK) {
                            CHECK_EQ(vnv_list_destroy(&f.heap, l), VNV_OK);
                            CHECK_EQ(vnv_list_attach(&f.heap, l), VNV_ERR_INVAL);
                        }
                    }
                    continue;
                }
                CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
                struct model *expect = err ? m : &post;
                CHECK(list_equals(&f, l, expect));
                if (!err && (k == OP_POP_BACK || k == OP_POP_FRONT || k == OP_REMOVE_MID))
                    CHECK(memcmp(out, out + ESMAX, m->es) == 0);
                if (hc == VNV_OK) {
                    /* and it keeps working */
                    uint8_t v[ESMAX] = {9, 9, 9};
                    CHECK_EQ(vnv_list_push_front(&f.heap, l, v), VNV_OK);
                    CHECK_EQ(vnv_list_pop_front(&f.heap, l, out), VNV_OK);
                    CHECK(memcmp(out, v, m->es) == 0);
                    CHECK(list_equals(&f, l, expect));
                    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
                }
                if (vtest_failed != before)
                    fprintf(stderr, "  ^ %s, %s, %s failure at call %u: err %d\n",
                            cold ? "cold" : "warm", op_name[k], reads ? "read" : "write",
                            (unsigned)at, err);
                if (vtest_failed > 40)
                    return;
            }
        }
    }
    fprintf(stderr, "  %s: %u trials, %u operations failed and left the list as before\n",
            cold ? "cold" : "warm", trials, failed_ops);
    CHECK(failed_ops > 10); /* allocations and frees do no I/O but a tag reservation: fewer
                               places fail */
    free(b.image);
    fx_free(&f);
}

/* ---- scribbled lists ------------------------------------------------------------------------
 * A list whose header and nodes had random words overwritten (a damaged or crafted image, a
 * stray write through a raw pointer): every operation returns an error or a sane result,
 * never reads or writes past an object or the caller's value buffer (ASan/UBSan builds),
 * and the heap itself stays consistent (vnv_check) whatever the list's state. */

#ifndef VNV_TEST_CROSS
#define SCRIBBLE_RUNS 400
static uint8_t sc_val[VNV_LIST_MAX_ELEM], sc_out[VNV_LIST_MAX_ELEM]; /* any elem_size fits */

static int sc_allowed(int err)
{
    return err == VNV_OK || err == VNV_ERR_INVAL || err == VNV_ERR_CORRUPT ||
           err == VNV_ERR_BUSY || err == VNV_ERR_NOMEM || err == VNV_ERR_BUDGET ||
           err == VNV_ERR_NOSPC;
}

static uint32_t sc_word(struct rng *r, const vnv_obj_t *objs, uint32_t n)
{
    static const uint32_t special[] = {0x314C4E56u, 0x6E4C4E56u, 0x4B4E494Cu, 0x4B4E4C55u,
                                       0x45455246u, 0x59545344u, 0u, 1u, 0xFFFFFFFFu, 96u};
    uint64_t id = objs[rng_below(r, n)].id;
    switch (rng_below(r, 5)) {
    case 0:
        return rng_next(r);
    case 1:
        return rng_below(r, 300);
    case 2:
        return (uint32_t)id;
    case 3:
        return (uint32_t)(id >> 32);
    default:
        return special[rng_below(r, sizeof special / sizeof special[0])];
    }
}

static void test_scribbled_lists(void)
{
    struct rng r;
    for (uint32_t run = 0; run < SCRIBBLE_RUNS; run++) {
        struct fixture f;
        REQUIRE(fx_format(&f, 64u * 1024u, 4096, 2048) == VNV_OK);
        rng_seed(&r, 0x5C81u + run);
        uint32_t es = 1u + rng_below(&r, 64), count = rng_below(&r, 12);
        vnv_obj_t l, objs[16];
        uint32_t n = 0;
        CHECK_EQ(vnv_list_create(&f.heap, es, &l), VNV_OK);
        objs[n++] = l;
        for (uint32_t i = 0; i < count; i++) {
            rng_fill(&r, sc_val, es);
            CHECK_EQ(rng_below(&r, 2) ? vnv_list_push_back(&f.heap, l, sc_val)
                                      : vnv_list_push_front(&f.heap, l, sc_val), VNV_OK);
        }
        vnv_obj_t cur = VNV_NULL;
        for (int err = vnv_list_first(&f.heap, l, &cur); !err && !vnv_is_null(cur) && n < 16;
             err = vnv_list_next(&f.heap, l, cur, &cur))
            objs[n++] = cur;
        /* the damage: 1-4 words of the header or of nodes */
        uint32_t hits = 1u + rng_below(&r, 4);
        for (uint32_t k = 0; k < hits; k++) {
            uint32_t t = rng_below(&r, n), words = t ? (VNV_LIST_NODE_OVERHEAD + es) / 4u
                                                      : VNV_LIST_HEADER_SIZE / 4u;
            uint32_t w = rng_below(&r, words), v = sc_word(&r, objs, n);
            CHECK_EQ(vnv_write(&f.heap, objs[t], w * 4u, &v, sizeof v), VNV_OK);
        }
        if (rng_below(&r, 2)) /* half of the runs: the damaged nodes are not resident */
            for (uint32_t i = 1; i < n; i++)
                (void)vnv_unload(&f.heap, objs[i]);
        /* everything the list offers, in random order */
        for (uint32_t op = 0; op < 40; op++) {
            int err = VNV_OK;
            uint32_t len = 0;
            vnv_obj_t node = objs[rng_below(&r, n)], got;
            const void *rv;
            void *wv;
            switch (rng_below(&r, 14)) {
            case 0:
                err = vnv_list_push_back(&f.heap, l, sc_val);
                break;
            case 1:
                err = vnv_list_push_front(&f.heap, l, sc_val);
                break;
            case 2:
                err = vnv_list_pop_front(&f.heap, l, sc_out);
                break;
            case 3:
                err = vnv_list_pop_back(&f.heap, l, sc_out);
                break;
            case 4:
                err = rng_below(&r, 2) ? vnv_list_peek_front(&f.heap, l, sc_out)
                                       : vnv_list_peek_back(&f.heap, l, sc_out);
                break;
            case 5: { /* a walk, bounded */
                err = vnv_list_first(&f.heap, l, &got);
                for (uint32_t s = 0; !err && !vnv_is_null(got) && s < 40; s++)
                    err = vnv_list_next(&f.heap, l, got, &got);
                break;
            }
            case 6:
                err = vnv_list_prev(&f.heap, l, node, &got);
                break;
            case 7:
                err = vnv_list_get(&f.heap, l, node, sc_out);
                break;
            case 8:
                err = vnv_list_ref(&f.heap, l, node, &rv);
                if (!err)
                    CHECK_EQ(vnv_list_release(&f.heap, node), VNV_OK);
                break;
            case 9:
                err = vnv_list_ref_mut(&f.heap, l, node, &wv);
                if (!err)
                    CHECK_EQ(vnv_list_release(&f.heap, node), VNV_OK);
                break;
            case 10:
                err = vnv_list_remove(&f.heap, l, node, sc_out);
                break;
            case 11:
                err = vnv_list_length(&f.heap, l, &len);
                if (!err)
                    err = vnv_list_elem_size(&f.heap, l, &len);
                break;
            case 12:
                err = rng_below(&r, 2) ? vnv_list_check(&f.heap, l) : vnv_list_attach(&f.heap, l);
                break;
            default:
                if (rng_below(&r, 4) == 0)
                    err = vnv_list_destroy(&f.heap, l);
                break;
            }
            if (!sc_allowed(err)) {
                CHECK(sc_allowed(err));
                break;
            }
            /* the heap under the list is intact, and nothing was left pinned */
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
            for (uint32_t i = 0; i < n; i++)
                CHECK(vnv_release(&f.heap, objs[i]) == VNV_ERR_INVAL);
        }
        CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        CHECK_EQ(fx_reboot(&f), VNV_OK); /* and it survives a restart */
        CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        fx_free(&f);
    }
}
#endif

/* A read or write error at the k-th storage call of one operation, for every k until the
 * operation needs no more, from a cold state (everything on storage: loads, allocator and
 * free traffic) and a warm one (dirty objects, tight budget: flushes while pinning): the
 * operation either succeeds (list = after) or returns the error (list = before, untouched),
 * vnv_check and vnv_list_check pass, and the list keeps working. */
static void test_injected_errors(void)
{
    injection_sweep(1);
    injection_sweep(0);
}

/* ---- power failure at every step ------------------------------------------------------------- */

/* Storage wrapper and list step hook that count "events" (storage calls and list steps) and
 * take a checkpoint at event number `target`: vnv_persist_all() as the power-failure
 * interrupt would (deferred by the heap if it is inside a critical section). The persist
 * callback wipes the RAM buffer and, if `cut`, switches the power off right after the
 * checkpoint: later writes are dropped, so storage stays exactly as the checkpoint left it. */
struct torn {
    struct vnv_storage inner, outer;
    struct fixture *f;
    uint32_t events, target;
    int armed, snapped, cut;
};
static struct torn T;

static void t_tick(void)
{
    if (!T.target || T.snapped || T.armed)
        return;
    if (++T.events == T.target) {
        T.armed = 1;
        (void)vnv_persist_all();
    }
}

static int t_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    struct torn *t = ctx;
    int err = t->inner.read(t->inner.ctx, off, dst, len);
    t_tick();
    return err;
}

static int t_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    struct torn *t = ctx;
    int err = t->inner.write(t->inner.ctx, off, src, len);
    t_tick();
    return err;
}

static int t_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    struct torn *t = ctx;
    int err = t->inner.writev(t->inner.ctx, off, iov, cnt);
    t_tick();
    return err;
}

static int t_sync(void *ctx)
{
    struct torn *t = ctx;
    int err = t->inner.sync(t->inner.ctx);
    t_tick();
    return err;
}

static void t_step(void *arg)
{
    (void)arg;
    t_tick();
}

static int t_on_persist(void *user, int status, void *buf, size_t len)
{
    struct torn *t = user;
    if (!t->armed)
        return 0; /* an ordinary checkpoint: RAM intact */
    t->armed = 0;
    t->snapped = 1;
    CHECK_EQ(status, VNV_OK);
    memset(buf, 0, len);
    if (t->cut)
        vnv_emu_cut_power_after(&t->f->emu, 0);
    return 1;
}

static void test_power_failure_at_every_step(void)
{
    struct fixture f;
    struct base b;
    fx_init(&f, 64u * 1024u, 2048, 512);
    memset(&T, 0, sizeof T);
    T.f = &f;
    T.inner = f.storage;
    T.outer = T.inner;
    T.outer.ctx = &T;
    T.outer.read = t_read;
    T.outer.write = t_write;
    T.outer.writev = T.inner.writev ? t_writev : NULL;
    T.outer.sync = T.inner.sync ? t_sync : NULL;
    f.cfg.storage = &T.outer;
    f.cfg.on_persist = t_on_persist;
    f.cfg.user = &T;
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    make_base(&f, &b, 2); /* mixed residency */
    vnv_list_set_step_hook(t_step, NULL);
    static struct model post;
    uint8_t out[2 * ESMAX];
    unsigned trials = 0, outcomes[2] = {0, 0}, leaked = 0, resumed = 0, nested = 0;
    for (int kind = 0; kind < OP_KINDS + 1; kind++) {
        enum op_kind k = kind == OP_KINDS ? OP_PUSH_BACK : (enum op_kind)kind;
        int which = k == OP_PUSH_EMPTY ? 1 : kind == OP_KINDS ? 2 : 0; /* 2: large elements */
        if (k == OP_POP_LAST)
            which = 2; /* pop twice: the second empties the list */
        /* reference run: the storage use of the base and after the operation */
        REQUIRE(restore_base(&f, &b) == VNV_OK);
        vnv_obj_t l = b.lists[which];
        struct model *m = b.m[which];
        static struct model mid_model;
        if (k == OP_POP_LAST) {
            CHECK_EQ(vnv_list_pop_front(&f.heap, l, out), VNV_OK);
            mid_model = *m;
            m_pop_front(&mid_model);
            m = &mid_model;
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
            memcpy(b.image, f.nv, b.nv_size); /* base for this kind only */
        }
        uint32_t nv_pre = stats(&f).nv_free;
        vnv_obj_t mid = k == OP_REMOVE_MID ? nth(&f, l, 2, m->n) : VNV_NULL;
        const int expect = k == OP_POP_PINNED ? VNV_ERR_BUSY : VNV_OK;
        CHECK_EQ(run_op(&f, k, l, mid, m, &post, out), expect);
        CHECK(list_equals(&f, l, expect ? m : &post) || k == OP_DESTROY);
        struct model *final = expect ? m : &post; /* after a call that ran to its end */
        uint32_t nv_post = stats(&f).nv_free;
        unsigned kind_outcomes[2] = {0, 0};
        for (int cut = 1; cut >= 0; cut--) {
            for (uint32_t at = 1; at < 2000; at++) {
                REQUIRE(restore_base(&f, &b) == VNV_OK);
                T.events = 0;
                T.snapped = T.armed = 0;
                T.cut = cut;
                T.target = at;
                int err = run_op(&f, k, l, mid, m, &post, out);
                T.target = 0;
                trials++;
                if (!T.snapped) {
                    CHECK_EQ(err, expect); /* fewer events than `at`: done */
                    break;
                }
                unsigned before = vtest_failed;
                if (!cut) {
                    /* checkpoint + wipe + resume in the middle: invisible */
                    resumed++;
                    CHECK_EQ(err, expect);
                    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
                    if (k == OP_DESTROY) {
                        CHECK_EQ(vnv_list_attach(&f.heap, l), VNV_ERR_INVAL);
                    } else {
                        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
                        CHECK(list_equals(&f, l, final));
                    }
                    CHECK_EQ(stats(&f).nv_free, nv_post);
                } else {
                    /* the power was lost after that checkpoint: restart from it */
                    int rerr = fx_reboot(&f);
                    CHECK_EQ(rerr, VNV_OK);
                    if (rerr)
                        continue;
                    /* a reader before attach finishes a committed operation itself */
                    int read_first = at % 3 == 1 && k != OP_DESTROY, seen_pre = 0;
                    if (read_first) {
                        seen_pre = list_equals(&f, l, m);
                        CHECK(seen_pre != list_equals(&f, l, &post)); /* exactly one */
                    }
                    int aerr;
                    if (at % 3 == 0) {
                        /* lose the power once more while attach finishes the operation */
                        T.events = 0;
                        T.snapped = T.armed = 0;
                        T.target = 1u + (at / 3u) % 8u;
                        aerr = vnv_list_attach(&f.heap, l);
                        T.target = 0;
                        if (T.snapped) {
                            nested++;
                            CHECK_EQ(fx_reboot(&f), VNV_OK);
                            aerr = vnv_list_attach(&f.heap, l);
                        }
                    } else {
                        aerr = vnv_list_attach(&f.heap, l);
                    }
                    int is_pre = 0;
                    if (k == OP_DESTROY) {
                        if (aerr == VNV_OK) {
                            is_pre = 1;
                            CHECK(list_equals(&f, l, m));
                        } else {
                            CHECK_EQ(aerr, VNV_ERR_INVAL);
                            int cerr = vnv_list_check(&f.heap, l);
                            CHECK(cerr == VNV_OK || cerr == VNV_ERR_INVAL); /* INVAL: freed */
                            int derr = vnv_list_destroy(&f.heap, l);
                            CHECK(derr == VNV_OK || derr == VNV_ERR_INVAL);
                            CHECK_EQ(stats(&f).nv_free, nv_post);
                        }
                    } else {
                        CHECK_EQ(aerr, VNV_OK);
                        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
                        is_pre = list_equals(&f, l, m);
                        int is_post = list_equals(&f, l, &post);
                        CHECK(is_pre != is_post); /* exactly one of them */
                        if (read_first)
                            CHECK_EQ(is_pre, seen_pre); /* what the readers saw */
                        if (is_post && k != OP_POP_PINNED)
                            CHECK_EQ(stats(&f).nv_free, nv_post);
                        /* before the commit point a push may have leaked its new node */
                        if (is_pre && stats(&f).nv_free != nv_pre) {
                            leaked++;
                            CHECK(k == OP_PUSH_BACK || k == OP_PUSH_FRONT || k == OP_PUSH_EMPTY);
                            CHECK_EQ(stats(&f).nv_free, nv_post); /* one node's block */
                        }
                        /* and the list keeps working */
                        uint8_t v[ESMAX] = {7};
                        CHECK_EQ(vnv_list_push_back(&f.heap, l, v), VNV_OK);
                        CHECK_EQ(vnv_list_pop_back(&f.heap, l, out), VNV_OK);
                        CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
                    }
                    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
                    outcomes[!is_pre]++;
                    kind_outcomes[!is_pre]++;
                }
                if (vtest_failed != before)
                    fprintf(stderr, "  ^ %s, %s at event %u\n", op_name[k],
                            cut ? "restart" : "resume", (unsigned)at);
                if (vtest_failed > 40) {
                    vnv_list_set_step_hook(NULL, NULL);
                    return;
                }
            }
        }
        /* both sides of the commit point were hit */
        CHECK(kind_outcomes[0] > 0 && kind_outcomes[1] > 0);
        fprintf(stderr, "  %-12s %3u restarts before, %3u after its commit point\n",
                kind == OP_KINDS ? "push(large)" : op_name[k], kind_outcomes[0],
                kind_outcomes[1]);
        if (k == OP_POP_LAST) {
            /* back to the common base */
            free(b.image);
            fx_free(&f);
            vnv_list_set_step_hook(NULL, NULL);
            fx_init(&f, 64u * 1024u, 2048, 512);
            T.inner = f.storage;
            f.cfg.storage = &T.outer;
            f.cfg.on_persist = t_on_persist;
            f.cfg.user = &T;
            REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
            make_base(&f, &b, 2);
            vnv_list_set_step_hook(t_step, NULL);
        }
    }
    vnv_list_set_step_hook(NULL, NULL);
    fprintf(stderr,
            "  %u trials: %u restarts saw the state before, %u after; %u leaked one node; "
            "%u resumed mid-operation; %u lost power again inside attach's redo\n",
            trials, outcomes[0], outcomes[1], leaked, resumed, nested);
    CHECK(nested >= 10); /* coverage: power lost again inside attach's redo, repeatedly */
    free(b.image);
    fx_free(&f);
}

/* A damaged element size in the header never sizes a copy: each single-bit flip of it
 * makes attach, push and pop refuse the list (CORRUPT), with nothing read past the
 * caller's value or written past its buffer, empty or not. (An outside test flipped 8 ->
 * 9: push read 9 bytes of a uint64_t.) */
static void test_damaged_element_size_is_refused(void)
{
    struct fixture f;
    REQUIRE(fx_format(&f, 64u * 1024u, 8192, 2048) == VNV_OK);
    vnv_obj_t l;
    CHECK_EQ(vnv_list_create(&f.heap, 8, &l), VNV_OK);
    for (int filled = 0; filled < 2; filled++) {
        if (filled) {
            uint64_t x = 42;
            CHECK_EQ(vnv_list_push_back(&f.heap, l, &x), VNV_OK);
        }
        uint32_t was;
        CHECK_EQ(vnv_read(&f.heap, l, 4, &was, 4), VNV_OK);
        CHECK_EQ(was, 8u);
        for (uint32_t bit = 0; bit < 32; bit++) {
            uint32_t bad = was ^ (1u << bit);
            CHECK_EQ(vnv_write(&f.heap, l, 4, &bad, 4), VNV_OK);
            struct {
                uint64_t v;
                uint32_t guard[2];
            } io = {7, {0xAAAAAAAAu, 0xAAAAAAAAu}};
            uint32_t n = 0;
            CHECK_EQ(vnv_list_attach(&f.heap, l), VNV_ERR_CORRUPT);
            CHECK_EQ(vnv_list_push_back(&f.heap, l, &io.v), VNV_ERR_CORRUPT);
            CHECK_EQ(vnv_list_pop_front(&f.heap, l, &io.v), VNV_ERR_CORRUPT);
            CHECK_EQ(vnv_list_length(&f.heap, l, &n), VNV_ERR_CORRUPT);
            CHECK_EQ(io.guard[0], 0xAAAAAAAAu);
            CHECK_EQ(io.v, 7u);
            CHECK_EQ(vnv_write(&f.heap, l, 4, &was, 4), VNV_OK);
        }
        CHECK_EQ(vnv_list_attach(&f.heap, l), VNV_OK);
    }
    uint64_t y = 0;
    CHECK_EQ(vnv_list_pop_front(&f.heap, l, &y), VNV_OK);
    CHECK_EQ(y, 42u);
    CHECK_EQ(vnv_list_check(&f.heap, l), VNV_OK);
    CHECK_EQ(vnv_check(&f.heap), VNV_OK);
    fx_free(&f);
}

int main(void)
{
    /* these tests prove "no storage leaked" by comparing stats.nv_free: return every freed
     * home to the allocator at once instead of parking it for reuse */
    fx_default_flags = VNV_CFG_NO_FREE_CACHE;
    RUN(test_basic);
    RUN(test_damaged_element_size_is_refused);
    RUN(test_objects_touched);
    RUN(test_streaming_queue_traffic);
    RUN(test_minimum_budget);
    RUN(test_random_small_elements);
    RUN(test_random_large_elements);
    RUN(test_bad_inputs);
    RUN(test_length_at_its_end);
    RUN(test_check_refuses_what_the_redo_refuses);
    RUN(test_cycle_in_a_list_being_destroyed);
    RUN(test_destroy_restarts_with_a_stale_tail_link);
    RUN(test_grouped_pop_when_the_budget_runs_out);
    RUN(test_grouped_push_when_the_budget_runs_out);
#ifndef VNV_TEST_CROSS
    RUN(test_scribbled_lists);
#endif
    RUN(test_injected_errors);
    RUN(test_power_failure_at_every_step);
    return vtest_summary();
}

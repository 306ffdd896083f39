/*
 * test_bad_input.c - the bad-input catalogue: every misuse gets its documented error code
 * and leaves the heap consistent (vnv_check) with every committed value intact; storage
 * read and write errors are injected at every storage call of every operation.
 */
#include <stdlib.h>

#include "fixture.h"
#include "rng.h"
#include "vtest.h"

#define NV (32u * 1024u)
#define RAM 2048u
#define DIRTY 600u
#define NOBJ 24

struct model {
    vnv_obj_t obj[NOBJ];
    uint8_t val[NOBJ][64];
    uint32_t size[NOBJ];
    int live[NOBJ];
};

static void verify_all(struct fixture *f, const struct model *m)
{
    for (int i = 0; i < NOBJ; i++) {
        if (!m->live[i])
            continue;
        const uint8_t *p;
        int err = vnv_get(&f->heap, m->obj[i], (const void **)&p);
        CHECK_EQ(err, VNV_OK);
        if (err)
            continue;
        CHECK(memcmp(p, m->val[i], m->size[i]) == 0);
        CHECK_EQ(vnv_release(&f->heap, m->obj[i]), VNV_OK);
    }
}

/* A heap with objects in every state: resident dirty, resident clean, on storage only. */
static void setup(struct fixture *f, struct model *m, uint32_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    REQUIRE(fx_format(f, NV, RAM, DIRTY) == VNV_OK);
    memset(m, 0, sizeof *m);
    for (int i = 0; i < NOBJ; i++) {
        m->size[i] = 8 + rng_below(&r, 56);
        rng_fill(&r, m->val[i], m->size[i]);
        CHECK_EQ(vnv_alloc(&f->heap, m->size[i], m->val[i], &m->obj[i]), VNV_OK);
        m->live[i] = 1;
    }
    for (int i = 0; i < NOBJ; i += 3)
        CHECK_EQ(vnv_unload(&f->heap, m->obj[i]), VNV_OK);
    for (int i = 1; i < NOBJ; i += 3)
        CHECK_EQ(vnv_flush(&f->heap, m->obj[i]), VNV_OK);
    CHECK_EQ(vnv_check(&f->heap), VNV_OK);
}

/* ---- misuse catalogue --------------------------------------------------------------------- */

static void test_catalogue(void)
{
    struct fixture f;
    struct model m;
    setup(&f, &m, 11);
    struct vnv_heap *h = &f.heap;
    const void *rp;
    void *wp;
    vnv_obj_t o = m.obj[2], forged = {m.obj[2].id + (5u << 10)}, x;

    CHECK_EQ(vnv_get(h, forged, &rp), VNV_ERR_INVAL); /* forged handle */
    CHECK_EQ(vnv_get(h, (vnv_obj_t){o.id ^ 0x80000000u}, &rp), VNV_ERR_INVAL); /* other tag */
    CHECK_EQ(vnv_get(h, (vnv_obj_t){0xFFFFFFFFu}, &rp), VNV_ERR_INVAL);
    CHECK_EQ(vnv_free(h, forged), VNV_ERR_INVAL);
    CHECK_EQ(vnv_release(h, o), VNV_ERR_INVAL);      /* release without get */
    CHECK_EQ(vnv_get(h, o, &rp), VNV_OK);
    CHECK_EQ(vnv_get_mut(h, o, &wp), VNV_ERR_BUSY);  /* get_mut while readers exist */
    CHECK_EQ(vnv_free(h, o), VNV_ERR_BUSY);          /* free of a pinned object */
    CHECK_EQ(vnv_release(h, o), VNV_OK);
    CHECK_EQ(vnv_release(h, o), VNV_ERR_INVAL);      /* double release */
    CHECK_EQ(vnv_get_mut(h, o, &wp), VNV_OK);
    CHECK_EQ(vnv_get(h, o, &rp), VNV_ERR_BUSY);      /* get while a writer exists */
    CHECK_EQ(vnv_unload(h, o), VNV_ERR_BUSY);
    CHECK_EQ(vnv_release(h, o), VNV_OK);
    CHECK_EQ(vnv_free(h, o), VNV_OK);
    m.live[2] = 0;
    CHECK_EQ(vnv_free(h, o), VNV_ERR_INVAL);         /* double free */
    CHECK_EQ(vnv_get(h, o, &rp), VNV_ERR_INVAL);     /* freed handle */
    CHECK_EQ(vnv_flush(h, o), VNV_ERR_INVAL);
    CHECK_EQ(vnv_unload(h, o), VNV_ERR_INVAL);
    CHECK_EQ(vnv_set_root(h, o), VNV_ERR_INVAL);
    size_t sz;
    CHECK_EQ(vnv_size(h, o, &sz), VNV_ERR_INVAL);

    CHECK_EQ(vnv_alloc(h, 0, NULL, &x), VNV_ERR_INVAL);            /* zero size */
    CHECK_EQ(vnv_alloc(h, SIZE_MAX, NULL, &x), VNV_ERR_INVAL);     /* overflowing sizes */
    CHECK_EQ(vnv_alloc(h, SIZE_MAX / 2 + 1, NULL, &x), VNV_ERR_INVAL);
    CHECK_EQ(vnv_alloc(h, RAM, NULL, &x), VNV_ERR_BUDGET);         /* above buffer and budget */
    CHECK_EQ(vnv_alloc_blocks(h, 4 * RAM, 32, NULL, &x), VNV_ERR_NOMEM); /* never fits RAM */
    CHECK_EQ(vnv_alloc_blocks(h, 64, 24, NULL, &x), VNV_ERR_INVAL); /* bad block size */
    uint8_t big[DIRTY];
    memset(big, 1, sizeof big);
    CHECK_EQ(vnv_alloc(h, DIRTY - VNV_CKPT_HEADER_SIZE - VNV_CKPT_RECORD_SIZE + 1, big, &x),
             VNV_ERR_BUDGET); /* one byte more than any checkpoint could hold */

    /* NULL pointers */
    CHECK_EQ(vnv_get(h, m.obj[0], NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get_mut(h, m.obj[0], NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_alloc(h, 8, NULL, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_size(h, m.obj[0], NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_root(h, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_stats(h, NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get(NULL, m.obj[0], &rp), VNV_ERR_INVAL);
    CHECK_EQ(vnv_check(NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_checkpoint(NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_close(NULL), VNV_ERR_INVAL);
    CHECK_EQ(vnv_format(NULL, &f.cfg), VNV_ERR_INVAL);
    CHECK_EQ(vnv_persist_bound(NULL), 0);

    /* zero-length writes: NULL allowed, the range still checked, nothing changed (a clean
     * object stays clean; UBSan saw memcpy(NULL, 0) on that path) */
    CHECK(!vnv_is_dirty(h, m.obj[1]));
    CHECK_EQ(vnv_write(h, m.obj[1], 3, NULL, 0), VNV_OK);
    CHECK_EQ(vnv_write(h, m.obj[1], m.size[1], NULL, 0), VNV_OK);
    CHECK_EQ(vnv_write(h, m.obj[1], m.size[1] + 1u, NULL, 0), VNV_ERR_INVAL);
    CHECK_EQ(vnv_write(h, m.obj[0], 1, NULL, 0), VNV_OK); /* not resident */
    CHECK(!vnv_is_dirty(h, m.obj[1]));
    CHECK(!vnv_is_resident(h, m.obj[0]));
    CHECK_EQ(vnv_atomic_begin(h), VNV_OK);
    CHECK_EQ(vnv_write(h, m.obj[0], 1, NULL, 0), VNV_OK); /* (a group loads on a write) */
    CHECK_EQ(vnv_write(h, m.obj[1], 0, NULL, 0), VNV_OK);
    CHECK_EQ(vnv_atomic_end(h), VNV_OK);
    CHECK(!vnv_is_dirty(h, m.obj[1]));

    /* partial-dirtiness misuse */
    vnv_obj_t arr;
    CHECK_EQ(vnv_alloc_blocks(h, 256, 32, NULL, &arr), VNV_OK);
    CHECK_EQ(vnv_get_mut_range(h, arr, 250, 7, &wp), VNV_ERR_INVAL);
    CHECK_EQ(vnv_get_mut_range(h, arr, SIZE_MAX, 2, &wp), VNV_ERR_INVAL);
    CHECK_EQ(vnv_mark_dirty(h, arr, 0, 4), VNV_ERR_INVAL); /* not writer-pinned */
    CHECK_EQ(vnv_get_mut_range(h, arr, 10, 0, &wp), VNV_OK);
    CHECK_EQ(vnv_mark_dirty(h, arr, 200, SIZE_MAX), VNV_ERR_INVAL);
    CHECK_EQ(vnv_release(h, arr), VNV_OK);

    CHECK_EQ(vnv_check(h), VNV_OK);
    verify_all(&f, &m);
    fx_free(&f);
}

/* A backend that answers a byte count, as pread(2) does, where the contract asks for 0:
 * out of contract, but an easy mistake. Callers read positive values as "resident" or "not
 * applicable"; vnv_write dereferenced NULL and vnv_read copied from outside the object.
 * Now a positive answer is IO, everywhere, and nothing changes. */
static struct {
    struct vnv_storage inner;
    int armed;
} pos;

static int pos_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    int r = pos.inner.read(ctx, off, dst, len);
    return pos.armed && !r ? (int)len : r;
}

static int pos_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    int r = pos.inner.write(ctx, off, src, len);
    return pos.armed && !r ? (int)len : r;
}

static void test_storage_answering_byte_counts(void)
{
    struct fixture f;
    struct model m;
    setup(&f, &m, 12);
    struct vnv_heap *h = &f.heap;
    pos.inner = h->storage; /* (white-box: the heap's copy of the callbacks) */
    h->storage.read = pos_read;
    h->storage.write = pos_write;
    h->storage.writev = NULL;
    pos.armed = 1;
    const void *rp;
    uint8_t out[64], in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vnv_obj_t x;
    CHECK_EQ(vnv_get(h, m.obj[0], &rp), VNV_ERR_IO);         /* not resident */
    CHECK_EQ(vnv_read(h, m.obj[3], 40, out, 8), VNV_ERR_IO);
    CHECK_EQ(vnv_write(h, m.obj[6], 0, in, sizeof in), VNV_ERR_IO);
    CHECK_EQ(vnv_flush(h, m.obj[2]), VNV_ERR_IO);            /* resident, dirty */
    (void)vnv_alloc(h, 3000, NULL, &x); /* written home: IO, or BUDGET/NOMEM first */
    pos.armed = 0;
    CHECK_EQ(vnv_check(h), VNV_OK);
    verify_all(&f, &m);
    h->storage = pos.inner;
    fx_free(&f);
}

static void test_bad_configs(void)
{
    struct fixture f;
    fx_init(&f, NV, RAM, DIRTY);
    struct vnv_config c = f.cfg;
    struct vnv_heap *h = &f.heap;
    c.buffer = NULL;
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    c = f.cfg;
    c.buffer_size = 40; /* too small for canary + index + one object */
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    c = f.cfg;
    c.max_dirty_bytes = VNV_CKPT_HEADER_SIZE + VNV_CKPT_RECORD_SIZE; /* no object fits */
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    c = f.cfg;
    c.max_dirty_bytes = NV; /* checkpoint region would not leave room for objects */
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    c = f.cfg;
    c.index_entries = 12; /* not a power of two */
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    c = f.cfg;
    struct vnv_storage tiny = *c.storage;
    tiny.size = 200; /* storage too small for the configuration */
    c.storage = &tiny;
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    c = f.cfg;
    c.storage = NULL;
    CHECK_EQ(vnv_format(h, &c), VNV_ERR_INVAL);
    /* a buffer that holds the control block itself: the heap would overwrite it */
    static _Alignas(8) uint8_t both[sizeof(struct vnv_heap) + RAM];
    struct vnv_heap *inside = (struct vnv_heap *)(void *)(both + RAM);
    struct fixture g;
    fx_init(&g, NV, RAM, DIRTY);
    g.cfg.buffer = both;
    g.cfg.buffer_size = sizeof both;
    CHECK_EQ(vnv_format(inside, &g.cfg), VNV_ERR_INVAL);
    CHECK_EQ(vnv_open((struct vnv_heap *)(void *)both, &g.cfg), VNV_ERR_INVAL);
    CHECK_EQ(g.emu.write_calls, 0u);
    g.cfg.buffer_size = RAM; /* beside it: fine */
    CHECK_EQ(vnv_format(inside, &g.cfg), VNV_OK);
    vnv_abandon(inside);
    fx_free(&g);
    CHECK_EQ(vnv_open(h, &f.cfg), VNV_ERR_NOHEAP); /* blank storage: not a heap */
    CHECK_EQ(vnv_format(h, &f.cfg), VNV_OK);
    CHECK_EQ(vnv_check(h), VNV_OK);
    fx_free(&f);
}

/* ---- storage errors at every call site ------------------------------------------------------ */

struct snapshot {
    uint8_t nv[NV];
    uint8_t ram[RAM];
    struct vnv_heap heap;
    struct vnv_emu emu;
};

static void snap(struct fixture *f, struct snapshot *s)
{
    memcpy(s->nv, f->nv, NV);
    memcpy(s->ram, f->ram, RAM);
    s->heap = f->heap;
    s->emu = f->emu;
}

static void unsnap(struct fixture *f, const struct snapshot *s)
{
    memcpy(f->nv, s->nv, NV);
    memcpy(f->ram, s->ram, RAM);
    f->heap = s->heap;
    f->emu = s->emu;
}

enum op { OP_ALLOC_RES, OP_ALLOC_HOME, OP_FREE_RES, OP_FREE_HOME, OP_GET_LOAD, OP_GET_MUT,
          OP_FLUSH, OP_UNLOAD, OP_CHECKPOINT, OP_CLOSE, OP_OPEN, OP_COUNT };
static const char *const op_name[OP_COUNT] = {"alloc-ram", "alloc-home", "free-resident",
    "free-stored", "get-load", "get_mut", "flush", "unload", "checkpoint", "close", "open"};

static vnv_obj_t new_obj; /* what the last alloc op created */

/* Run `op` once (storage traffic of the operation only); return its result. Updates the
 * model on success; post_check() verifies afterwards, with error injection disarmed. */
static int run_op(struct fixture *f, struct model *m, enum op op)
{
    struct vnv_heap *h = &f->heap;
    uint8_t buf[64];
    memset(buf, 0x77, sizeof buf);
    void *wp;
    const void *rp;
    int err;
    switch (op) {
    case OP_ALLOC_RES:
    case OP_ALLOC_HOME:
        new_obj = VNV_NULL;
        /* 400 B cannot stay resident-dirty: it is written home */
        return vnv_alloc(h, op == OP_ALLOC_RES ? 16 : 400, op == OP_ALLOC_RES ? buf : NULL,
                         &new_obj);
    case OP_FREE_RES:
    case OP_FREE_HOME: {
        int i = op == OP_FREE_RES ? 1 : 0; /* 1: resident, 0: on storage only */
        err = vnv_free(h, m->obj[i]);
        if (!err)
            m->live[i] = 0;
        return err;
    }
    case OP_GET_LOAD:
        err = vnv_get(h, m->obj[3], &rp);
        if (!err) {
            CHECK(memcmp(rp, m->val[3], m->size[3]) == 0);
            CHECK_EQ(vnv_release(h, m->obj[3]), VNV_OK);
        }
        return err;
    case OP_GET_MUT:
        err = vnv_get_mut(h, m->obj[6], &wp); /* not resident; budget full: flushes others */
        if (!err) {
            CHECK(memcmp(wp, m->val[6], m->size[6]) == 0);
            memset(wp, 0x5C, m->size[6]);
            memset(m->val[6], 0x5C, m->size[6]);
            CHECK_EQ(vnv_release(h, m->obj[6]), VNV_OK);
        }
        return err;
    case OP_FLUSH:
        return vnv_flush(h, m->obj[2]);
    case OP_UNLOAD:
        return vnv_unload(h, m->obj[5]);
    case OP_CHECKPOINT:
        f->wipe = 0; /* RAM survives: a failed checkpoint must leave the heap as it was */
        return vnv_checkpoint(h);
    case OP_CLOSE:
        return vnv_close(h);
    case OP_OPEN:
        vnv_abandon(h);
        return vnv_open(h, &f->cfg);
    default:
        return VNV_ERR_INVAL;
    }
}

/* After a failed operation the heap must be usable and consistent: a failed close leaves
 * the heap open, a failed open leaves it closed and storage unchanged. */
static void after_failure(struct fixture *f, struct model *m, enum op op, int err)
{
    if (op == OP_OPEN || op == OP_CLOSE) {
        if (op == OP_CLOSE && err == VNV_OK) {
            CHECK_EQ(fx_reboot(f), VNV_OK);
        } else if (op == OP_OPEN && err != VNV_OK) {
            CHECK_EQ(vnv_open(&f->heap, &f->cfg), VNV_OK); /* nothing was changed */
        }
    }
    if ((op == OP_ALLOC_RES || op == OP_ALLOC_HOME) && err == VNV_OK) {
        const uint8_t *p;
        CHECK_EQ(vnv_get(&f->heap, new_obj, (const void **)&p), VNV_OK);
        CHECK(p && p[0] == (op == OP_ALLOC_RES ? 0x77 : 0) && p[15] == p[0]);
        CHECK_EQ(vnv_release(&f->heap, new_obj), VNV_OK);
    }
    int cerr = vnv_check(&f->heap);
    CHECK_EQ(cerr, VNV_OK);
    if (cerr)
        fprintf(stderr, "  after %s failing with %s\n", op_name[op], vnv_strerror(err));
    verify_all(f, m);
}

/* After the operation (failed or not) the program goes on: it changes every live object
 * and writes each home, then the power goes. The reset must find exactly the last
 * checkpoint that completed (`ck`). A failure that left storage otherwise than reported -
 * a checkpoint said failed whose header was on the device anyway - shows here. */
static void then_reset(struct fixture *f, const struct model *m, const struct model *ck)
{
    uint8_t junk[64];
    memset(junk, 0xEE, sizeof junk);
    for (int i = 0; i < NOBJ; i++) {
        if (!m->live[i])
            continue;
        CHECK_EQ(vnv_write(&f->heap, m->obj[i], 0, junk, m->size[i]), VNV_OK);
        CHECK_EQ(vnv_flush(&f->heap, m->obj[i]), VNV_OK);
    }
    CHECK_EQ(fx_reboot(f), VNV_OK);
    verify_all(f, ck);
    for (int i = 0; i < NOBJ; i++) { /* what the checkpoint did not hold is not there */
        uint8_t b;
        if (m->live[i] && !ck->live[i])
            CHECK_EQ(vnv_read(&f->heap, m->obj[i], 0, &b, 1), VNV_ERR_INVAL);
    }
    CHECK_EQ(vnv_check(&f->heap), VNV_OK);
}

static void test_storage_errors_everywhere(void)
{
    static struct snapshot s0;
    struct fixture f;
    struct model m, m0;
    unsigned sites = 0, failed = 0, resets = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        setup(&f, &m, 100 + (uint32_t)op);
        if (op == OP_OPEN) { /* open needs a checkpoint to open from */
            f.wipe = 0;
            CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK);
        }
        m0 = m;
        snap(&f, &s0);
        /* count the storage calls the operation makes */
        uint64_t r0 = f.emu.read_calls, w0 = f.emu.write_calls, y0 = f.emu.sync_calls;
        CHECK_EQ(run_op(&f, &m, (enum op)op), VNV_OK);
        uint32_t nr = (uint32_t)(f.emu.read_calls - r0), nw = (uint32_t)(f.emu.write_calls - w0);
        uint32_t ny = (uint32_t)(f.emu.sync_calls - y0);
        for (int kind = 0; kind < 3; kind++) {
            uint32_t n = kind == 0 ? nr : kind == 1 ? nw : ny;
            for (uint32_t k = 1; k <= n; k++) {
                unsnap(&f, &s0);
                m = m0;
                if (kind == 0)
                    vnv_emu_fail_read_at(&f.emu, k);
                else if (kind == 1)
                    vnv_emu_fail_write_at(&f.emu, k);
                else
                    vnv_emu_fail_sync_at(&f.emu, k);
                int err = run_op(&f, &m, (enum op)op);
                vnv_emu_fail_read_at(&f.emu, 0);
                vnv_emu_fail_write_at(&f.emu, 0);
                vnv_emu_fail_sync_at(&f.emu, 0);
                sites++;
                if (err) {
                    failed++;
                    CHECK(err == VNV_ERR_IO);
                    m = m0; /* a failed operation commits nothing */
                }
                after_failure(&f, &m, (enum op)op, err);
                /* the last completed checkpoint: format's (no objects), the one taken for
                 * OP_OPEN, or the operation's own */
                static const struct model none;
                const struct model *ck = op == OP_OPEN ? &m0
                                         : (op == OP_CHECKPOINT || op == OP_CLOSE) && !err
                                             ? &m
                                             : &none;
                static struct model ckcopy;
                ckcopy = *ck;
                then_reset(&f, &m, &ckcopy);
                resets++;
            }
        }
        vnv_abandon(&f.heap);
        fx_free(&f);
    }
    printf("storage-error sites tried: %u, operations that failed cleanly: %u, then a reset "
           "found the last completed checkpoint %u times\n", sites, failed, resets);
    CHECK(sites > 30); /* format 3: allocations and frees do no storage I/O at all */
}

int main(void)
{
    RUN(test_catalogue);
    RUN(test_bad_configs);
    RUN(test_storage_answering_byte_counts);
    RUN(test_storage_errors_everywhere);
    return vtest_summary();
}

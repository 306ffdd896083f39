/*
 * test_powercut_sweep.c - cut the power at every byte the heap writes; the image must
 * always reopen to the last completed checkpoint.
 *
 * Each workload starts from a checkpoint S0 and runs with no checkpoint in between, then
 * ends with a checkpoint (or vnv_close) S1. For every byte c of everything it writes, the
 * emulated FRAM drops all writes after the first c bytes (an unannounced reset: watchdog,
 * brown-out, fault), the workload runs on, and the device restarts with vnv_open. Required
 * (crash consistency, README "Guarantees"): every restart opens (never VNV_ERR_CORRUPT) and
 * holds exactly S0, or exactly S1 once the final checkpoint's header landed; nothing else.
 *
 * Workloads: small objects (updates, flushes, evictions, allocations, frees, copy in/out,
 * root changes, trim), large objects (loads and evictions of objects bigger than half the
 * RAM, copy-on-write into non-resident objects), block objects and arrays, a list used as a
 * queue past RAM, and a read-only phase (gets and reads that evict dirty objects).
 * The counts are printed on every run.
 */
#include <stdlib.h>

#include "fixture.h"
#include "rng.h"
#include "vtest.h"
#if !VNV_MINIMAL /* (the minimal profile: no containers, block objects or groups) */
#include "vnvheap/array.h"
#include "vnvheap/list.h"
#endif

#define MAXOBJ 48
#ifdef VNV_TEST_CROSS
#define CUT_STRIDE 7u /* under QEMU: every 7th byte (and the host build: every byte) */
#else
#define CUT_STRIDE 1u
#endif

struct world {
    vnv_obj_t obj[MAXOBJ];
    int n;
    vnv_obj_t list, arr;
};

/* ---- a digest of everything a workload can reach --------------------------------------- */

static uint64_t mix(uint64_t hsh, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        hsh = (hsh ^ b[i]) * 1099511628211ull;
    return hsh;
}

static uint64_t digest(struct fixture *f, const struct world *w)
{
    uint64_t d = 1469598103934665603ull;
    struct vnv_heap *h = &f->heap;
    vnv_obj_t root;
    d = mix(d, &(int){vnv_root(h, &root)}, sizeof(int));
    d = mix(d, &root.id, sizeof root.id);
    static uint8_t buf[4096];
    for (int i = 0; i < w->n; i++) {
        size_t size = 0;
        int err = vnv_size(h, w->obj[i], &size);
        d = mix(d, &err, sizeof err);
        if (err || size > sizeof buf)
            continue;
        err = vnv_read(h, w->obj[i], 0, buf, size);
        d = mix(d, &err, sizeof err);
        d = mix(d, buf, size);
    }
#if !VNV_MINIMAL
    if (!vnv_is_null(w->list)) {
        uint32_t len = 0, es = 0;
        int err = vnv_list_attach(h, w->list);
        if (!err)
            err = vnv_list_length(h, w->list, &len);
        if (!err)
            err = vnv_list_elem_size(h, w->list, &es);
        d = mix(d, &err, sizeof err);
        d = mix(d, &len, sizeof len);
        vnv_obj_t node;
        err = err ? err : vnv_list_first(h, w->list, &node);
        for (uint32_t k = 0; !err && k < len && es <= sizeof buf; k++) {
            err = vnv_list_get(h, w->list, node, buf);
            d = mix(d, buf, es);
            if (!err && k + 1 < len)
                err = vnv_list_next(h, w->list, node, &node);
        }
        d = mix(d, &err, sizeof err);
    }
    if (!vnv_is_null(w->arr)) {
        uint32_t len = 0, es = 0;
        int err = vnv_array_attach(h, w->arr, &len, &es);
        if (!err && len * es <= sizeof buf)
            err = vnv_array_get_range(h, w->arr, 0, len, buf);
        d = mix(d, &err, sizeof err);
        d = mix(d, buf, err ? 0 : len * es);
    }
#endif
    return d;
}

/* ---- workloads: setup (before S0) and the phase between S0 and S1 ---------------------- */

struct workload {
    const char *name;
    uint32_t nv, ram, dirty;
    void (*setup)(struct fixture *f, struct world *w, struct rng *r);
    void (*run)(struct fixture *f, struct world *w, struct rng *r);
    int close_at_end; /* S1 written by vnv_close instead of vnv_checkpoint */
    int readonly;     /* S1 holds the same values as S0 */
};

static void put_random(struct fixture *f, vnv_obj_t o, struct rng *r)
{
    size_t size;
    uint8_t v[1600];
    if (vnv_size(&f->heap, o, &size) || size > sizeof v)
        return;
    rng_fill(r, v, (uint32_t)size);
    (void)vnv_write(&f->heap, o, 0, v, size);
}

static void small_setup(struct fixture *f, struct world *w, struct rng *r)
{
    for (int i = 0; i < 24; i++) {
        uint8_t v[64];
        uint32_t size = 4 + rng_below(r, 60);
        rng_fill(r, v, size);
        if (vnv_alloc(&f->heap, size, v, &w->obj[w->n]) == VNV_OK)
            w->n++;
    }
    (void)vnv_set_root(&f->heap, w->obj[0]);
    for (int i = 0; i < 6; i++) /* some dirty, some flushed, some evicted at S0 */
        (void)vnv_unload(&f->heap, w->obj[i]);
}

static void small_run(struct fixture *f, struct world *w, struct rng *r)
{
    for (int k = 0; k < 40; k++) {
        int i = (int)rng_below(r, (uint32_t)w->n);
        uint32_t op = rng_below(r, 10);
        uint8_t v[64], *p;
        const void *cp;
        switch (op) {
        case 0: case 1: case 2: /* update: budget flushes, RAM evicts */
            if (vnv_get_mut(&f->heap, w->obj[i], (void **)&p) == VNV_OK) {
                size_t size = 0;
                (void)vnv_size(&f->heap, w->obj[i], &size);
                rng_fill(r, p, (uint32_t)size);
                (void)vnv_release(&f->heap, w->obj[i]);
            }
            break;
        case 3: put_random(f, w->obj[i], r); break;
        case 4:
            if (vnv_get(&f->heap, w->obj[i], &cp) == VNV_OK)
                (void)vnv_release(&f->heap, w->obj[i]);
            break;
        case 5: (void)vnv_unload(&f->heap, w->obj[i]); break;
        case 6:
            if (w->n < MAXOBJ) {
                uint32_t size = 4 + rng_below(r, 60);
                rng_fill(r, v, size);
                if (vnv_alloc(&f->heap, size, v, &w->obj[w->n]) == VNV_OK)
                    w->n++;
            }
            break;
        case 7: (void)vnv_free(&f->heap, w->obj[i]); break; /* the handle stays in the world */
        case 8: (void)vnv_set_root(&f->heap, w->obj[i]); break;
        default: (void)vnv_flush(&f->heap, w->obj[i]); (void)vnv_trim(&f->heap); break;
        }
    }
}

static void large_setup(struct fixture *f, struct world *w, struct rng *r)
{
    for (int i = 0; i < 6; i++) {
        static uint8_t v[1500];
        uint32_t size = 700 + rng_below(r, 800);
        rng_fill(r, v, size);
        if (vnv_alloc(&f->heap, size, v, &w->obj[w->n]) == VNV_OK)
            w->n++;
    }
    (void)vnv_set_root(&f->heap, w->obj[1]);
}

static void large_run(struct fixture *f, struct world *w, struct rng *r)
{
    for (int k = 0; k < 8; k++) {
        int i = (int)rng_below(r, (uint32_t)w->n);
        uint8_t *p;
        switch (rng_below(r, 4)) {
        case 0: /* load (evicts another), modify */
            if (vnv_get_mut(&f->heap, w->obj[i], (void **)&p) == VNV_OK) {
                p[k] ^= 0x5A;
                (void)vnv_release(&f->heap, w->obj[i]);
            }
            break;
        case 1: { /* copy in to a non-resident object */
            uint8_t v[40];
            rng_fill(r, v, sizeof v);
            (void)vnv_write(&f->heap, w->obj[i], 100, v, sizeof v);
            break;
        }
        case 2: (void)vnv_unload(&f->heap, w->obj[i]); break;
        default: {
            uint8_t v[64];
            (void)vnv_read(&f->heap, w->obj[i], 10, v, sizeof v);
        }
        }
    }
    if (vnv_free(&f->heap, w->obj[2]) == VNV_OK && w->n < MAXOBJ) {
        static uint8_t v[900];
        rng_fill(r, v, sizeof v);
        if (vnv_alloc(&f->heap, sizeof v, v, &w->obj[w->n]) == VNV_OK)
            w->n++;
    }
}

#if !VNV_MINIMAL
static void blocks_setup(struct fixture *f, struct world *w, struct rng *r)
{
    uint8_t v[512];
    rng_fill(r, v, sizeof v);
    if (vnv_alloc_blocks(&f->heap, sizeof v, 32, v, &w->obj[w->n]) == VNV_OK)
        w->n++;
    if (vnv_array_create(&f->heap, 128, 4, 64, NULL, &w->arr) != VNV_OK)
        w->arr = VNV_NULL;
    for (uint32_t i = 0; i < 128; i += 3)
        (void)vnv_array_set(&f->heap, w->arr, i, &i);
    (void)vnv_set_root(&f->heap, w->arr);
}

static void blocks_run(struct fixture *f, struct world *w, struct rng *r)
{
    for (int k = 0; k < 20; k++) {
        uint32_t i = rng_below(r, 128), v = rng_below(r, 1000000);
        (void)vnv_array_set(&f->heap, w->arr, i, &v);
        uint8_t *p;
        uint32_t off = rng_below(r, 500);
        if (vnv_get_mut_range(&f->heap, w->obj[0], off, 8, (void **)&p) == VNV_OK) {
            rng_fill(r, p + off, 8);
            (void)vnv_release(&f->heap, w->obj[0]);
        }
        if (k % 7 == 3) {
            (void)vnv_unload(&f->heap, w->obj[0]);
            (void)vnv_unload(&f->heap, w->arr);
        }
    }
}

static void list_setup(struct fixture *f, struct world *w, struct rng *r)
{
    if (vnv_list_create(&f->heap, 48, &w->list) != VNV_OK)
        w->list = VNV_NULL;
    for (int i = 0; i < 10; i++) {
        uint8_t v[48];
        rng_fill(r, v, sizeof v);
        (void)vnv_list_push_back(&f->heap, w->list, v);
    }
    (void)vnv_set_root(&f->heap, w->list);
}

static void list_run(struct fixture *f, struct world *w, struct rng *r)
{
    for (int k = 0; k < 16; k++) {
        uint8_t v[48];
        rng_fill(r, v, sizeof v);
        if (rng_below(r, 3))
            (void)vnv_list_push_back(&f->heap, w->list, v);
        else
            (void)vnv_list_pop_front(&f->heap, w->list, v);
    }
}

/* Dirty objects at S0, then only gets and reads: loads evict, evictions flush. */
#endif /* !VNV_MINIMAL */

static void readonly_setup(struct fixture *f, struct world *w, struct rng *r)
{
    large_setup(f, w, r);
    uint8_t *p;
    for (int i = 0; i < 2; i++)
        if (vnv_get_mut(&f->heap, w->obj[i], (void **)&p) == VNV_OK) {
            p[3] ^= 0xFF;
            (void)vnv_release(&f->heap, w->obj[i]);
        }
}

static void readonly_run(struct fixture *f, struct world *w, struct rng *r)
{
    for (int k = 0; k < 12; k++) {
        int i = (int)rng_below(r, (uint32_t)w->n);
        const void *p;
        uint8_t v[32];
        if (rng_below(r, 2) && vnv_get(&f->heap, w->obj[i], &p) == VNV_OK)
            (void)vnv_release(&f->heap, w->obj[i]);
        else
            (void)vnv_read(&f->heap, w->obj[i], 0, v, sizeof v);
    }
}

#if !VNV_MINIMAL
/* Failure-atomic groups: small writes into non-resident objects (written through, their old
 * bytes in the undo log), pinned changes, allocations, frees and root moves, five groups
 * that end and a sixth still open at S1: S1 is a checkpoint taken inside a group, so the
 * restart that opens it rolls that group back (undo entries written back at open). */
static void group_run(struct fixture *f, struct world *w, struct rng *r)
{
    for (int i = 6; i < 12; i++) { /* homes written after S0: write-through candidates */
        put_random(f, w->obj[i], r);
        (void)vnv_unload(&f->heap, w->obj[i]);
    }
    for (int g = 0; g < 6; g++) {
        (void)vnv_atomic_begin(&f->heap);
        uint8_t t[4];
        rng_fill(r, t, sizeof t);
        (void)vnv_write(&f->heap, w->obj[6 + g], 0, t, sizeof t); /* through, if not loaded */
        for (int k = 0; k < 6; k++) {
            int i = (int)rng_below(r, (uint32_t)w->n);
            uint8_t v[32], *p;
            size_t size = 0;
            switch (rng_below(r, 6)) {
            case 0:
            case 1: /* a small write: through to a non-resident home, or logged in RAM */
                if (vnv_size(&f->heap, w->obj[i], &size) == VNV_OK && size > 0) {
                    uint32_t len = 1 + rng_below(r, size < 32 ? (uint32_t)size : 32u);
                    uint32_t off = rng_below(r, (uint32_t)size - len + 1u);
                    rng_fill(r, v, len);
                    (void)vnv_write(&f->heap, w->obj[i], off, v, len);
                }
                break;
            case 2:
                if (vnv_get_mut(&f->heap, w->obj[i], (void **)&p) == VNV_OK) {
                    p[0] ^= 0x5A;
                    (void)vnv_release(&f->heap, w->obj[i]);
                }
                break;
            case 3:
                if (w->n < MAXOBJ) {
                    rng_fill(r, v, sizeof v);
                    if (vnv_alloc(&f->heap, 8 + rng_below(r, 24), v, &w->obj[w->n]) ==
                        VNV_OK)
                        w->n++;
                }
                break;
            case 4:
                (void)vnv_free(&f->heap, w->obj[i]);
                break;
            default:
                (void)vnv_set_root(&f->heap, w->obj[i]);
            }
        }
        if (g < 5)
            (void)vnv_atomic_end(&f->heap);
    }
}
#endif /* !VNV_MINIMAL */

static const struct workload workloads[] = {
    {"small objects", 16384, 2048, 400, small_setup, small_run, 0, 0},
    {"small objects, close", 16384, 2048, 400, small_setup, small_run, 1, 0},
    {"large objects", 32768, 3072, 1800, large_setup, large_run, 0, 0},
#if !VNV_MINIMAL
    {"block objects and arrays", 16384, 2048, 400, blocks_setup, blocks_run, 0, 0},
    {"list past RAM", 32768, 1536, 500, list_setup, list_run, 0, 0},
#endif
    {"read-only phase", 32768, 3072, 1800, readonly_setup, readonly_run, 0, 1},
#if !VNV_MINIMAL
    {"groups, S1 inside a group", 16384, 2048, 800, small_setup, group_run, 0, 0},
#endif
};

/* ---- the sweep -------------------------------------------------------------------------- */

static void finish(struct fixture *f, const struct workload *wl)
{
    if (wl->close_at_end)
        (void)vnv_close(&f->heap);
    else
        (void)vnv_checkpoint(&f->heap);
}

static void sweep(const struct workload *wl, unsigned *total)
{
    struct fixture f;
    struct world w0, w1, w;
    struct rng r;
    fx_init(&f, wl->nv, wl->ram, wl->dirty);
    REQUIRE(vnv_format(&f.heap, &f.cfg) == VNV_OK);
    f.wipe = 0;
    memset(&w0, 0, sizeof w0);
    rng_seed(&r, 1234);
    wl->setup(&f, &w0, &r);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* S0 */
    uint64_t d0 = digest(&f, &w0);
    CHECK_EQ(vnv_checkpoint(&f.heap), VNV_OK); /* the digest's reads changed nothing */

    uint8_t *image = malloc(wl->nv), *ram = malloc(wl->ram);
    REQUIRE(image && ram);
    struct vnv_heap heap0 = f.heap;
    memcpy(image, f.nv, wl->nv);
    memcpy(ram, f.ram, wl->ram);

    /* the uninterrupted run */
    w1 = w0;
    struct rng r1 = r;
    vnv_emu_reset_counters(&f.emu);
    wl->run(&f, &w1, &r1);
    uint32_t between = (uint32_t)f.emu.write_bytes;
    finish(&f, wl);
    uint32_t all = (uint32_t)f.emu.write_bytes;
    uint8_t *image1 = malloc(wl->nv);
    REQUIRE(image1);
    memcpy(image1, f.nv, wl->nv);
    vnv_emu_reset_counters(&f.emu);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    uint32_t at_open = (uint32_t)f.emu.write_bytes; /* a rollback at open writes */
    uint64_t d1 = digest(&f, &w1);
    vnv_abandon(&f.heap);
    /* cuts inside the open that restores S1 (a group's undo entries written back): the
     * next open must still see S1 */
    unsigned open_cuts = 0;
    for (uint32_t c = 0; c < at_open; c += CUT_STRIDE, open_cuts++) {
        memcpy(f.nv, image1, wl->nv);
        vnv_emu_power_on(&f.emu);
        vnv_emu_cut_power_after(&f.emu, c);
        (void)fx_reboot(&f);
        vnv_abandon(&f.heap);
        vnv_emu_power_on(&f.emu);
        int err = fx_reboot(&f);
        CHECK_EQ(err, VNV_OK);
        if (err == VNV_OK) {
            CHECK(digest(&f, &w1) == d1);
            CHECK_EQ(vnv_check(&f.heap), VNV_OK);
        }
        vnv_abandon(&f.heap);
    }
    free(image1);
    CHECK(wl->readonly ? d1 == d0 : d1 != d0); /* the workload changed something, or not */
    CHECK(between > 0); /* ... and wrote while doing it */
    /* S0 seen through the handles the run made (they must all be invalid there) */
    memcpy(f.nv, image, wl->nv);
    CHECK_EQ(fx_reboot(&f), VNV_OK);
    uint64_t d0w1 = digest(&f, &w1);
    vnv_abandon(&f.heap);

    unsigned tried = 0, as_s0 = 0, as_s1 = 0, corrupt = 0, wrong = 0;
    for (uint32_t c = 0, last = 0; !last; c = c + CUT_STRIDE < all ? c + CUT_STRIDE : all) {
        last = c == all; /* the complete run is always among the cuts */
        memcpy(f.nv, image, wl->nv);
        memcpy(f.ram, ram, wl->ram);
        f.heap = heap0;
        f.emu.power_off = 0;
        vnv_emu_cut_power_after(&f.emu, c);
        w = w0;
        struct rng rc = r;
        wl->run(&f, &w, &rc);
        finish(&f, wl);
        tried++;
        int err = fx_reboot(&f);
        uint64_t d = err == VNV_OK ? digest(&f, &w1) : 0;
        if (err == VNV_OK && d == d0w1 && digest(&f, &w0) == d0 &&
            vnv_check(&f.heap) == VNV_OK) {
            as_s0++;
        } else if (err == VNV_OK && d == d1 && vnv_check(&f.heap) == VNV_OK) {
            as_s1++;
            CHECK(c >= between); /* S1 only once the final checkpoint ran */
        } else if (err == VNV_ERR_CORRUPT) {
            corrupt++;
        } else {
            wrong++;
            if (wrong < 5)
                fprintf(stderr, "  [%s] cut at byte %u of %u: open %s, neither S0 nor S1\n",
                        wl->name, (unsigned)c, (unsigned)all, vnv_strerror(err));
        }
        vnv_abandon(&f.heap);
    }
    printf("power-cut sweep [%s]: %u cuts (%u B between checkpoints + %u B final), "
           "%u reopened S0, %u reopened S1%s, %u CORRUPT, %u wrong; %u cuts inside the "
           "open of S1 (%u B written there), each reopened S1\n",
           wl->name, tried, (unsigned)between, (unsigned)(all - between), as_s0, as_s1,
           wl->readonly ? " (= S0)" : "", corrupt, wrong, open_cuts, (unsigned)at_open);
    CHECK_EQ(corrupt, 0);
    CHECK_EQ(wrong, 0);
    CHECK_EQ(as_s0 + as_s1, tried);
    CHECK(as_s0 >= between / CUT_STRIDE); /* every cut before the final checkpoint: S0 */
    CHECK(wl->readonly || as_s1 >= 1); /* and the complete run: S1 */
    *total += tried;
    free(image);
    free(ram);
    fx_free(&f);
}

static void test_sweep_all_workloads(void)
{
    unsigned total = 0;
    for (unsigned i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        sweep(&workloads[i], &total);
    printf("power-cut sweep: %u cuts in all, every one reopened to the last checkpoint\n",
           total);
}

int main(void)
{
    RUN(test_sweep_all_workloads);
    return vtest_summary();
}

/*
 * b_micro.c - implementation microbenchmarks (the original's get family, allocate and
 * deallocate best/worst cases, the resident-count scaling) and the storage benchmarks.
 *
 * Every scenario is built on the emulated FRAM; `prepare` restores the scenario's state
 * before each repetition (not measured), `run` is the measured call(s).
 */
#include <string.h>

#include "bench.h"

/* The original's object sizes: 8, 16..1008 step 16, 1024 (65 sizes). rv32 quick: 6. */
static const uint32_t rv32_sizes[] = {8, 32, 128, 256, 512, 1024};

static unsigned size_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)f;
    if (BENCH_RV32 && !c->full)
        return (unsigned)(sizeof rv32_sizes / sizeof rv32_sizes[0]);
    return 65;
}

static uint32_t size_at(struct bench_ctx *c, unsigned p)
{
    if (BENCH_RV32 && !c->full)
        return rv32_sizes[p];
    return p == 0 ? 8u : p == 64 ? 1024u : 16u * p;
}

struct micro {
    struct bench_ctx *c;
    struct vnv_config cfg;
    struct vnv_storage st;
    vnv_obj_t obj, blocker, keep, fresh;
    vnv_obj_t many[1100];
    uint32_t n, nmany, size, variant, storage_size;
    int have_fresh;
    /* --original: the get is timed alone; the pin is dropped before the next repetition */
    int pinned;
    int (*inner_prep)(void *arg, unsigned rep);
    char opts[BENCH_OPT_MAX];
};
static struct micro M;

static int heap_up(struct micro *m, uint32_t storage, size_t buf, uint32_t max_dirty,
                   uint32_t entries)
{
    bench_storage(m->c, storage, &m->st);
    bench_heap_config(m->c, &m->cfg, &m->st, bench_scratch, buf, max_dirty);
    m->cfg.index_entries = entries;
    m->storage_size = storage;
    return vnv_format(&bench_heap, &m->cfg);
}

static void opts_common(struct micro *m, struct jw *w, uint32_t size)
{
    jw_init(w, m->opts, sizeof m->opts);
    jw_obj_begin(w);
    jw_ku64(w, "object_size", size);
    jw_ku64(w, "buffer_size", (uint64_t)m->cfg.buffer_size);
    jw_ku64(w, "max_dirty", m->cfg.max_dirty_bytes);
    jw_ku64(w, "storage_size", m->storage_size);
    bench_modules_json(w, &m->cfg);
}

static void extra_bound(void *arg, struct jw *w)
{
    struct micro *m = arg;
    struct vnv_stats s;
    vnv_stats(&bench_heap, &s);
    jw_ku64(w, "persist_bound", vnv_persist_bound(&m->cfg));
    jw_ku64(w, "resident_objects", s.resident_objects);
}

/* ---- get family ------------------------------------------------------------------------------ */

enum { GET_MIN, GET_MIN_MAX, GET_MAX, GET_MAX_MIN };

/* The get family uses the typed path (VNV_GET / VNV_GET_MUT: the size is known), as the
 * original's typed benchmark does: a load is then one read when the data is in slot 0. */
static int run_get(void *arg, unsigned rep)
{
    struct micro *m = arg;
    const void *p;
    (void)rep;
    int err = vnv_get_sized(&bench_heap, m->obj, m->size, &p);
    if (!err)
        err = vnv_release(&bench_heap, m->obj);
    return err;
}

static int run_get_mut(void *arg, unsigned rep)
{
    struct micro *m = arg;
    void *p;
    (void)rep;
    int err = vnv_get_mut_sized(&bench_heap, m->obj, m->size, &p);
    if (!err)
        err = vnv_release(&bench_heap, m->obj);
    return err;
}

static int prep_unload(void *arg, unsigned rep)
{
    struct micro *m = arg;
    (void)rep;
    return vnv_unload(&bench_heap, m->obj);
}

/* --original: run = vnv_get (or vnv_get_mut) alone; the pin is released in prepare. */
static int run_get_only(void *arg, unsigned rep)
{
    struct micro *m = arg;
    const void *p;
    (void)rep;
    int err = vnv_get_sized(&bench_heap, m->obj, m->size, &p);
    m->pinned = !err;
    return err;
}

static int run_get_mut_only(void *arg, unsigned rep)
{
    struct micro *m = arg;
    void *p;
    (void)rep;
    int err = vnv_get_mut_sized(&bench_heap, m->obj, m->size, &p);
    m->pinned = !err;
    return err;
}

static int prep_release_first(void *arg, unsigned rep)
{
    struct micro *m = arg;
    int err = 0;
    if (m->pinned) {
        m->pinned = 0;
        err = vnv_release(&bench_heap, m->obj);
    }
    if (!err && m->inner_prep)
        err = m->inner_prep(arg, rep);
    return err;
}

/* Under --original, time the get alone (the original's get benchmarks drop the reference
 * after stopping the timer). */
static void get_only_if_original(struct bench_ctx *c, struct micro *m, struct bench_spec *s)
{
    if (!c->original)
        return;
    m->inner_prep = s->prepare;
    s->prepare = prep_release_first;
    s->run = s->run == run_get_mut ? run_get_mut_only : run_get_only;
}

/* get_max: the 1 KiB blocker is loaded, made dirty and released (evicting the object). */
static int prep_blocker(void *arg, unsigned rep)
{
    struct micro *m = arg;
    void *p;
    (void)rep;
    int err = vnv_get_mut(&bench_heap, m->blocker, &p);
    if (!err)
        err = vnv_release(&bench_heap, m->blocker);
    return err;
}

#define BLOCKER 1024u

static int get_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct micro *m = &M;
    memset(m, 0, sizeof *m);
    m->c = c;
    uint32_t n = size_at(c, point);
    m->size = n;
    struct bench_spec s = {.name = f->name, .options = m->opts, .reps = bench_reps(c, 15, 100),
                           .cold = 1, .ops = 1, .run = run_get, .extra = extra_bound};
    int err;
    switch (f->variant) {
    case GET_MIN:
    case GET_MIN_MAX:
        /* Enough RAM and budget for the object and a 1 KiB blocker ("dirty limit = buffer"). */
        err = heap_up(m, 64 * 1024, 4096, 4096, 0);
        if (!err)
            err = vnv_alloc(&bench_heap, n, NULL, &m->obj);
        if (!err && f->variant == GET_MIN_MAX)
            s.prepare = prep_unload;
        break;
    case GET_MAX: {
        /* Arena of exactly one 1 KiB block: the buffer's fixed part (canary, 8 index slots,
         * the NV map: measured with a trial format) + 1032. The dirty limit holds the
         * blocker (header + record + 1024), so loading the object flushes it (1 KiB write),
         * evicts it and loads the object (header + n read). */
        const uint32_t dirty = VNV_CKPT_HEADER_SIZE + VNV_CKPT_RECORD_SIZE + BLOCKER;
        struct vnv_stats st;
        err = heap_up(m, 64 * 1024, 4096, dirty, 8);
        if (!err)
            err = vnv_stats(&bench_heap, &st);
        if (!err) {
            uint32_t fixed = 4096u - st.arena_free;
            vnv_abandon(&bench_heap);
            err = heap_up(m, 64 * 1024, fixed + VNV_META_SIZE + BLOCKER, dirty, 8);
        }
        if (!err)
            err = vnv_alloc(&bench_heap, n, NULL, &m->obj);
        if (!err)
            err = vnv_alloc(&bench_heap, BLOCKER, NULL, &m->blocker);
        s.prepare = prep_blocker;
        s.run = run_get_mut;
        break;
    }
    default: { /* GET_MAX_MIN: resident among as many pinned word objects as fit */
        err = heap_up(m, 64 * 1024, 4096, 4096, 0);
        if (!err)
            err = vnv_alloc(&bench_heap, n, NULL, &m->obj);
        while (!err && m->nmany < sizeof m->many / sizeof m->many[0]) {
            vnv_obj_t o;
            const void *p;
            err = vnv_alloc(&bench_heap, 4, NULL, &o);
            if (err)
                break;
            if (!vnv_is_resident(&bench_heap, o)) { /* no room left: the list is full */
                err = vnv_free(&bench_heap, o);
                break;
            }
            err = vnv_get(&bench_heap, o, &p); /* pinned */
            m->many[m->nmany++] = o;
        }
        break;
    }
    }
    if (err)
        return bench_fail(c, "get setup", err);
    get_only_if_original(c, m, &s);
    struct jw w;
    opts_common(m, &w, n);
    if (f->variant == GET_MAX)
        jw_ku64(&w, "blocker_size", BLOCKER);
    if (f->variant == GET_MAX_MIN)
        jw_ku64(&w, "pinned_objects", m->nmany);
    jw_obj_end(&w);
    return bench_measure(c, &s, m);
}

/* ---- get_resident_scaling -------------------------------------------------------------------- */

static const uint32_t scaling_n[] = {1, 8, 64, 512, 1000};

static unsigned scaling_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)c;
    (void)f;
    return (unsigned)(sizeof scaling_n / sizeof scaling_n[0]);
}

static int prep_scaling(void *arg, unsigned rep)
{
    struct micro *m = arg;
    m->obj = m->many[(rep * 7919u) % m->nmany]; /* spread over every resident object */
    return 0;
}

static int scaling_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct micro *m = &M;
    memset(m, 0, sizeof *m);
    m->c = c;
    m->size = 8;
    uint32_t n = scaling_n[point];
    /* One configuration for every N: 2048 index slots (at most 1536 objects), a 32 KiB
     * buffer and a 24 KiB budget (1000 resident 8 B objects take 24 B of arena and of budget
     * each), and 64 KiB of homes after the two checkpoint slots (1024 units of 64 B: room
     * for 1000 one-unit objects). */
    int err = heap_up(m, bench_pow2_storage(24 * 1024) - 64u * 1024u, 32 * 1024, 24 * 1024,
                      2048);
    for (uint32_t i = 0; !err && i < n; i++) {
        err = vnv_alloc(&bench_heap, 8, NULL, &m->many[i]);
        if (!err && !vnv_is_resident(&bench_heap, m->many[i]))
            err = VNV_ERR_NOMEM;
    }
    if (err)
        return bench_fail(c, "scaling setup", err);
    m->nmany = n;
    struct jw w;
    opts_common(m, &w, 8);
    jw_ku64(&w, "resident_objects", n);
    jw_ku64(&w, "index_entries", 2048);
    jw_obj_end(&w);
    /* Every resident object once (at least 16 repetitions): the max is the worst probe. */
    struct bench_spec s = {.name = f->name, .options = m->opts, .reps = n < 16 ? 16 : n,
                           .cold = 2, .ops = 1, .prepare = prep_scaling, .run = run_get,
                           .extra = extra_bound};
    get_only_if_original(c, m, &s);
    return bench_measure(c, &s, m);
}

/* ---- get_min_split: vnv_get and vnv_release measured separately (one resident object) ---- */

static unsigned split_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)c;
    (void)f;
    return 3; /* get, release, the harness alone */
}

static int split_prep(void *arg, unsigned rep)
{
    struct micro *m = arg;
    const void *p;
    (void)rep;
    if (m->variant == 0) /* measuring get: drop the pin of the previous repetition */
        return m->have_fresh ? (m->have_fresh = 0, vnv_release(&bench_heap, m->obj)) : 0;
    if (m->variant == 2) /* measuring the harness alone */
        return 0;
    return vnv_get(&bench_heap, m->obj, &p); /* measuring release: pin first */
}

static int split_run(void *arg, unsigned rep)
{
    struct micro *m = arg;
    const void *p;
    (void)rep;
    if (m->variant == 0) {
        int err = vnv_get(&bench_heap, m->obj, &p);
        m->have_fresh = !err;
        return err;
    }
    if (m->variant == 2) /* the same call shape with no library call: the harness cost */
        return m->obj.id == 0;
    return vnv_release(&bench_heap, m->obj);
}

static int split_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct micro *m = &M;
    memset(m, 0, sizeof *m);
    m->c = c;
    m->variant = point;
    int err = heap_up(m, 64 * 1024, 4096, 4096, 0);
    if (!err)
        err = vnv_alloc(&bench_heap, 8, NULL, &m->obj);
    if (err)
        return bench_fail(c, "split setup", err);
    struct jw w;
    opts_common(m, &w, 8);
    jw_kstr(&w, "call", point == 0 ? "vnv_get" : point == 1 ? "vnv_release" : "none (harness)");
    jw_obj_end(&w);
    struct bench_spec s = {.name = f->name, .options = m->opts, .reps = bench_reps(c, 15, 100),
                           .cold = 1, .ops = 1, .prepare = split_prep, .run = split_run};
    return bench_measure(c, &s, m);
}

/* ---- allocate / deallocate ------------------------------------------------------------------- */

enum { ALLOC_MIN, ALLOC_MAX, DEALLOC_MIN, DEALLOC_MAX };
#define AD_STORAGE bench_pow2_storage(4096)

/* allocate_min: resident, the NV buddy has a free block of the right order (no split, no
 * checkpoint to void). The previous repetition's object is freed first (its buddy `keep`
 * stays allocated, so nothing merges). */
static int prep_alloc_min(void *arg, unsigned rep)
{
    struct micro *m = arg;
    (void)rep;
    if (m->have_fresh) {
        m->have_fresh = 0;
        return vnv_free(&bench_heap, m->fresh);
    }
    return 0;
}

static int run_alloc(void *arg, unsigned rep)
{
    struct micro *m = arg;
    (void)rep;
    int err = vnv_alloc(&bench_heap, m->size, NULL, &m->fresh);
    m->have_fresh = !err;
    return err;
}

/* allocate_max: the RAM arena is full (a pinned blocker), so the object is written home
 * zero-filled; the NV buddy splits from its largest block (everything merged back by the
 * free in prepare); a valid checkpoint exists, so the alloc voids it first. */
static int prep_alloc_max(void *arg, unsigned rep)
{
    struct micro *m = arg;
    int err = prep_alloc_min(arg, rep);
    if (!err)
        err = vnv_checkpoint(&bench_heap);
    (void)m;
    return err;
}

/* deallocate_min: free a resident object whose buddy is allocated (no merge). */
static int prep_dealloc_min(void *arg, unsigned rep)
{
    struct micro *m = arg;
    (void)rep;
    int err = vnv_alloc(&bench_heap, m->size, NULL, &m->fresh);
    if (!err && !vnv_is_resident(&bench_heap, m->fresh))
        err = VNV_ERR_NOMEM;
    return err;
}

/* deallocate_max: free a non-resident object (header read) whose buddies are all free
 * (merges up to the largest block) right after a checkpoint (voided first). */
static int prep_dealloc_max(void *arg, unsigned rep)
{
    struct micro *m = arg;
    (void)rep;
    int err = vnv_alloc(&bench_heap, m->size, NULL, &m->fresh);
    if (!err)
        err = vnv_unload(&bench_heap, m->fresh);
    if (!err)
        err = vnv_checkpoint(&bench_heap);
    return err;
}

static int run_free(void *arg, unsigned rep)
{
    struct micro *m = arg;
    (void)rep;
    return vnv_free(&bench_heap, m->fresh);
}

static int alloc_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct micro *m = &M;
    memset(m, 0, sizeof *m);
    m->c = c;
    m->size = size_at(c, point);
    struct bench_spec s = {.name = f->name, .options = m->opts, .reps = bench_reps(c, 15, 100),
                           .cold = 1, .ops = 1, .extra = extra_bound};
    int err = heap_up(m, AD_STORAGE, 4096, 4096, 0);
    const char *scenario = "";
    switch (f->variant) {
    case ALLOC_MIN:
    case DEALLOC_MIN:
        /* `keep` is the buddy of every later object of this size: never merged. */
        if (!err)
            err = vnv_alloc(&bench_heap, m->size, NULL, &m->keep);
        if (!err)
            err = vnv_flush(&bench_heap, m->keep);
        s.prepare = f->variant == ALLOC_MIN ? prep_alloc_min : prep_dealloc_min;
        s.run = f->variant == ALLOC_MIN ? run_alloc : run_free;
        scenario = f->variant == ALLOC_MIN
                       ? "resident; NV block of the exact order free (no split)"
                       : "resident, clean; buddy allocated (no merge)";
        break;
    case ALLOC_MAX: {
        /* Pin a blocker that takes the whole arena. */
        struct vnv_stats st;
        if (!err)
            err = vnv_stats(&bench_heap, &st);
        uint32_t bsz = err ? 8 : st.arena_free - VNV_META_SIZE;
        const void *p;
        if (!err)
            err = vnv_alloc(&bench_heap, bsz, NULL, &m->blocker);
        if (!err)
            err = vnv_flush(&bench_heap, m->blocker);
        if (!err)
            err = vnv_get(&bench_heap, m->blocker, &p);
        s.prepare = prep_alloc_max;
        s.run = run_alloc;
        scenario = "RAM full (written home, zero-filled); NV split from the largest block; "
                   "voids a valid checkpoint";
        break;
    }
    default:
        s.prepare = prep_dealloc_max;
        s.run = run_free;
        scenario = "not resident (header read); merges up to the largest block; voids a "
                   "valid checkpoint";
        break;
    }
    if (err)
        return bench_fail(c, "alloc setup", err);
    struct jw w;
    opts_common(m, &w, m->size);
    jw_kstr(&w, "scenario", scenario);
    jw_obj_end(&w);
    return bench_measure(c, &s, m);
}

/* ---- persistent storage ---------------------------------------------------------------------- */

static unsigned storage_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)f;
    if (BENCH_RV32 && !c->full)
        return 9; /* 0, 1 KiB .. 8 KiB */
    return c->full ? 2049 : 33; /* step 4 (the paper's) / step 256 */
}

static uint32_t storage_size_at(struct bench_ctx *c, unsigned p)
{
    if (BENCH_RV32 && !c->full)
        return 1024u * p;
    return c->full ? 4u * p : 256u * p;
}

struct stor {
    struct vnv_storage st;
    uint32_t size;
    int write;
    char opts[BENCH_OPT_MAX];
};
static struct stor S;

static int run_storage(void *arg, unsigned rep)
{
    struct stor *s = arg;
    (void)rep;
    if (s->write)
        return vnv_storage_write(&s->st, 0, bench_scratch, s->size);
    return vnv_storage_read(&s->st, 0, bench_scratch, s->size);
}

static int storage_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct stor *s = &S;
    s->size = storage_size_at(c, point);
    s->write = f->variant;
    bench_storage(c, 64 * 1024, &s->st);
    struct jw w;
    jw_init(&w, s->opts, sizeof s->opts);
    jw_obj_begin(&w);
    jw_ku64(&w, "object_size", s->size);
    jw_kstr(&w, "persistent_storage_module", "vnv_emu");
    jw_obj_end(&w);
    struct bench_spec sp = {.name = f->name, .options = s->opts, .reps = bench_reps(c, 3, 10),
                            .cold = 0, .ops = 1, .run = run_storage};
    return bench_measure(c, &sp, s);
}

const struct bench_family bench_micro_families[] = {
    {"get_min", "micro", "get+release of a resident object (best case)", GET_MIN, size_points,
     get_point},
    {"get_min_max", "micro", "get+release, object unloaded before each run (load: bad case)",
     GET_MIN_MAX, size_points, get_point},
    {"get_max", "micro",
     "get_mut+release evicting a dirty 1 KiB blocker, then loading (worst case)", GET_MAX,
     size_points, get_point},
    {"get_max_min", "micro", "get+release of a resident object among many pinned ones",
     GET_MAX_MIN, size_points, get_point},
    {"get_resident_scaling", "micro",
     "get+release of a resident 8 B object with 1..1000 resident objects", 0, scaling_points,
     scaling_point},
    {"get_min_split", "micro", "vnv_get and vnv_release of a resident object, separately", 0,
     split_points, split_point},
    {"allocate_min", "micro", "vnv_alloc best case", ALLOC_MIN, size_points, alloc_point},
    {"allocate_max", "micro", "vnv_alloc worst case", ALLOC_MAX, size_points, alloc_point},
    {"deallocate_min", "micro", "vnv_free best case", DEALLOC_MIN, size_points, alloc_point},
    {"deallocate_max", "micro", "vnv_free worst case", DEALLOC_MAX, size_points, alloc_point},
    {"persistent_storage_read", "storage", "one emulated FRAM read of N bytes", 0,
     storage_points, storage_point},
    {"persistent_storage_write", "storage", "one emulated FRAM write of N bytes", 1,
     storage_points, storage_point},
};
const unsigned bench_micro_count = sizeof bench_micro_families / sizeof bench_micro_families[0];

/*
 * b_persist.c - checkpoint latency (the original's persist benchmarks, notes §11.5) and the
 * deferral sections (`*_locked_wcet`, notes §11.6).
 *
 * Checkpoint latency: the heap is filled so that the next checkpoint writes as much as the
 * dirty limit allows ("max_objects": as many resident word objects as fit, mostly clean;
 * "max_dirty": mostly dirty data in one large object), then vnv_checkpoint() is measured:
 * storage transactions and bytes, modeled device time, CPU (instructions on rv32).
 *
 * Deferral ("locked WCET"): a power-failure interrupt that arrives while the heap is inside
 * a critical section is deferred to the section's end. We observe that window from the
 * outside: a shim between the heap and the emulated FRAM (and around the policy and the
 * RAM allocator, which the heap only calls inside sections) counts "events"; at event k it
 * calls vnv_persist_all() as the interrupt would, and records the counters then (s0) and
 * when the deferred checkpoint issues its first write to the checkpoint region (s1). The
 * benchmark repeats the operation once per event k (state rebuilt each time), so data[k]
 * is the deferral of an interrupt arriving exactly at event k; the maximum over k is the
 * operation's worst deferral. An interrupt arriving at the start of a storage transaction
 * waits for that whole transaction: the modeled time is the worst case of "the remainder
 * of the current transaction plus the rest of the section".
 */
#include <string.h>

#include "bench.h"

/* ---- the trigger shim ------------------------------------------------------------------------ */

enum { K_STORAGE = 1, K_PICK = 2, K_RAM = 4 };

static struct trig {
    struct bench_ctx *c;
    struct vnv_storage inner;
    const struct vnv_policy *pol;
    const struct vnv_ram_allocator *ram;
    uint32_t ck_lo;          /* checkpoint slots on storage: [ck_lo, bench_heap.nv_off) */
    int active;              /* counting events */
    unsigned kinds;          /* which hooks count and may fire */
    uint32_t events, fire_at;
    int waiting, got;
    struct bench_sample s0, s1;
} T;

static void t_fire(void)
{
    bench_snapshot(T.c, &T.s0);
    T.waiting = 1;
    T.got = 0;
    (void)vnv_persist_all();
}

static void t_event(unsigned kind)
{
    if (!T.active || !(T.kinds & kind))
        return;
    if (++T.events == T.fire_at)
        t_fire();
}

static void t_write_seen(uint32_t off, uint32_t len)
{
    /* the two checkpoint slots: [tag area end, first home) (docs/FORMAT.md) */
    if (!T.waiting || off < T.ck_lo || off >= bench_heap.nv_off)
        return;
    if (len == 16 && (off - T.ck_lo) % bench_heap.ckpt_cap == 0)
        return; /* voiding the older slot: a home write is about to happen, not a checkpoint */
    bench_snapshot(T.c, &T.s1);
    T.waiting = 0;
    T.got = 1;
}

static int t_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    (void)ctx;
    t_event(K_STORAGE);
    return T.inner.read(T.inner.ctx, off, dst, len);
}

static int t_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    (void)ctx;
    t_event(K_STORAGE);
    t_write_seen(off, len);
    return T.inner.write(T.inner.ctx, off, src, len);
}

static int t_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    (void)ctx;
    uint32_t len = 0;
    for (unsigned i = 0; i < cnt; i++)
        len += iov[i].len;
    t_event(K_STORAGE);
    t_write_seen(off, len);
    return T.inner.writev(T.inner.ctx, off, iov, cnt);
}

static void t_pol_reset(void *st, uint32_t slots) { T.pol->reset(st, slots); }
static int32_t t_pol_pick(void *st, struct vnv_heap *h, uint32_t slots, enum vnv_pick kind)
{
    t_event(K_PICK);
    return T.pol->pick(st, h, slots, kind);
}
static struct vnv_policy t_policy = {"trigger-shim", 0, t_pol_reset, t_pol_pick};

static int t_ram_init(void *st, void *base, uint32_t size) { return T.ram->init(st, base, size); }
static int t_ram_alloc(void *st, uint32_t size, uint32_t *off)
{
    t_event(K_RAM);
    return T.ram->alloc(st, size, off);
}
static int t_ram_alloc_at(void *st, uint32_t off, uint32_t size)
{
    t_event(K_RAM);
    return T.ram->alloc_at(st, off, size);
}
static int t_ram_free(void *st, uint32_t off, uint32_t size)
{
    t_event(K_RAM);
    return T.ram->free(st, off, size);
}
static int t_ram_fits(void *st, uint32_t size) { return T.ram->fits(st, size); }
static uint32_t t_ram_footprint(const void *st, uint32_t size)
{
    return T.ram->footprint(st, size);
}
static int t_ram_check(const void *st) { return T.ram->check ? T.ram->check(st) : 0; }
static uint32_t t_ram_free_bytes(const void *st) { return T.ram->free_bytes(st); }
static struct vnv_ram_allocator t_ram = {NULL, 0, t_ram_init, t_ram_alloc, t_ram_alloc_at,
                                         t_ram_free, t_ram_fits, t_ram_footprint, t_ram_check,
                                         t_ram_free_bytes};

/* ---- shared heap setup ----------------------------------------------------------------------- */

struct pers {
    struct bench_ctx *c;
    struct vnv_config cfg;
    struct vnv_storage st;
    vnv_obj_t obj, other;
    vnv_obj_t objs[1024];
    uint32_t nobj, size, buffer, dirty, rem_size, entries, variant;
    int have;
    struct bench_sample total; /* the operation without a trigger */
    uint64_t preamble_cpu;
    unsigned kinds;
    int (*prep)(struct pers *p);
    int (*op)(struct pers *p);
    char opts[BENCH_OPT_MAX];
};
static struct pers P;

static uint32_t ram_overhead(void)
{
    return (uint32_t)(sizeof(struct vnv_heap) + sizeof(vnv_obj_t));
}

static int heap_up(struct pers *p, uint32_t storage, uint32_t buffer, uint32_t dirty,
                   uint32_t entries, int shim)
{
    bench_storage(p->c, storage, &p->st);
    bench_heap_config(p->c, &p->cfg, &p->st, bench_scratch, buffer, dirty);
    p->cfg.index_entries = entries;
    /* worst cases: every allocation goes through the NV allocator (no parked home reused) */
    p->cfg.flags |= VNV_CFG_NO_FREE_CACHE;
    if (shim) {
        memset(&T, 0, sizeof T);
        T.c = p->c;
        T.inner = p->st;
        T.pol = p->cfg.policy ? p->cfg.policy : &vnv_policy_clock;
        T.ram = p->cfg.ram_allocator;
        /* docs/FORMAT.md: the slots follow the superblock and the tag area */
        T.ck_lo = VNV_SUPERBLOCK_SIZE + VNV_TAG_AREA_SIZE;
        t_policy.name = T.pol->name;
        t_policy.state_size = T.pol->state_size;
        t_ram.name = T.ram->name;
        t_ram.state_size = T.ram->state_size;
        p->st.read = t_read;
        p->st.write = t_write;
        p->st.writev = t_writev;
        p->cfg.policy = &t_policy;
        p->cfg.ram_allocator = &t_ram;
    }
    p->buffer = buffer;
    p->dirty = dirty;
    return vnv_format(&bench_heap, &p->cfg);
}

static void opts_begin(struct pers *p, struct jw *w)
{
    jw_init(w, p->opts, sizeof p->opts);
    jw_obj_begin(w);
}

static void modules(struct pers *p, struct jw *w)
{
    struct vnv_config shown = p->cfg;
    shown.policy = T.pol && p->cfg.policy == &t_policy ? T.pol : p->cfg.policy;
    shown.ram_allocator = T.ram && p->cfg.ram_allocator == &t_ram ? T.ram : p->cfg.ram_allocator;
    bench_modules_json(w, &shown);
}

/* ---- checkpoint latency ---------------------------------------------------------------------- */

enum { PV_OBJECTS_DIRTY, PV_DIRTY_DIRTY, PV_OBJECTS_BUFFER, PV_DIRTY_BUFFER };

/* The index size that lets the most 4-byte objects be resident in `buffer` bytes. */
static uint32_t best_entries(uint32_t buffer)
{
    uint32_t best = 8, best_n = 0;
    for (uint32_t e = 8; e <= 4096; e <<= 1) {
        uint32_t fixed = 8u + 2u * e;
        if (fixed + 64u > buffer)
            break;
        uint32_t by_ram = (buffer - fixed) / 16u, by_idx = e - e / 4u;
        uint32_t n = by_ram < by_idx ? by_ram : by_idx;
        if (n > best_n) {
            best_n = n;
            best = e;
        }
    }
    return best;
}

static int make_dirty(vnv_obj_t o)
{
    void *ptr;
    int err = vnv_get_mut(&bench_heap, o, &ptr);
    if (!err) {
        memset(ptr, 0x5A, 4);
        err = vnv_release(&bench_heap, o);
    }
    return err;
}

/* Fill the heap so that the next checkpoint writes as much as the dirty limit allows. */
static int fill(struct pers *p, int max_objects)
{
    struct vnv_stats s;
    int err = vnv_stats(&bench_heap, &s);
    uint32_t used = VNV_CKPT_HEADER_SIZE;
    if (!max_objects) {
        /* One large dirty remainder object: as much of the budget and arena as possible. */
        uint32_t by_budget = p->dirty - VNV_CKPT_HEADER_SIZE - VNV_CKPT_RECORD_SIZE;
        uint32_t by_ram = s.arena_free - VNV_META_SIZE;
        uint32_t n = (by_budget < by_ram ? by_budget : by_ram) & ~7u;
        if (!err && n >= 8) {
            err = vnv_alloc(&bench_heap, n, NULL, &p->obj); /* resident and dirty */
            if (!err && !vnv_is_dirty(&bench_heap, p->obj))
                err = make_dirty(p->obj);
            p->rem_size = n;
            used += VNV_CKPT_RECORD_SIZE + n;
        }
    }
    /* Word objects: first clean (8 B record each) while budget, RAM and index allow. */
    while (!err && p->nobj < sizeof p->objs / sizeof p->objs[0]) {
        if (used + VNV_CKPT_RECORD_SIZE + 4u > p->dirty)
            break; /* allocating it resident needs its record + 4 dirty bytes */
        vnv_obj_t o;
        err = vnv_alloc(&bench_heap, 4, NULL, &o);
        if (err)
            break;
        if (!vnv_is_resident(&bench_heap, o)) {
            err = vnv_free(&bench_heap, o);
            break;
        }
        err = vnv_flush(&bench_heap, o);
        p->objs[p->nobj++] = o;
        used += VNV_CKPT_RECORD_SIZE;
    }
    /* Then dirty (4 more bytes each) while the budget allows. */
    for (uint32_t i = 0; !err && i < p->nobj && used + 4u <= p->dirty; i++) {
        err = make_dirty(p->objs[i]);
        used += 4;
    }
    return err;
}

static int run_checkpoint(void *arg, unsigned rep)
{
    (void)arg;
    (void)rep;
    return vnv_checkpoint(&bench_heap);
}

/* CPU of ONE emulated-storage write transaction of `len` bytes (the minimum of 5; on rv32
 * exact instructions): the floor a checkpoint of the same bytes is compared with. Uses its
 * own emulator over a private array, so the heap's storage and counters are untouched. */
static _Alignas(8) uint8_t raw_mem[8192];
static uint64_t raw_write_cpu(struct bench_ctx *c, uint32_t len)
{
    struct vnv_emu e;
    struct vnv_storage rs;
    uint64_t best = UINT64_MAX;
    if (len > sizeof raw_mem || len > BENCH_SCRATCH_SIZE)
        return 0;
    vnv_emu_init(&e, raw_mem, sizeof raw_mem, c->profile);
    vnv_emu_storage(&e, &rs);
    for (int i = 0; i < 5; i++) {
        uint64_t a = bench_counter();
        (void)vnv_storage_write(&rs, 0, bench_scratch, len);
        uint64_t d = bench_counter() - a;
        d = d > c->cpu_overhead ? d - c->cpu_overhead : 0;
        if (d < best)
            best = d;
    }
    return best;
}

static void extra_ckpt(void *arg, struct jw *w)
{
    struct pers *p = arg;
    struct vnv_stats s;
    vnv_stats(&bench_heap, &s);
    const struct vnv_emu_cost *k = p->c->profile;
    uint32_t bytes = s.checkpoint_bytes;
    /* what a checkpoint writes: the budgeted bytes plus the NV map */
    uint32_t written = bytes + s.nv_map_bytes;
    uint64_t raw = (uint64_t)k->write_tx_ns + (uint64_t)k->write_byte_ns * written;
    jw_ku64(w, "checkpoint_bytes", bytes);
    jw_ku64(w, "nv_map_bytes", s.nv_map_bytes);
    jw_ku64(w, "raw_write_bytes", written);
    jw_ku64(w, "raw_write_cpu", raw_write_cpu(p->c, written));
    jw_ku64(w, "persist_bound", vnv_persist_bound(&p->cfg));
    jw_ku64(w, "peak_checkpoint_bytes", s.peak_checkpoint_bytes);
    jw_ku64(w, "resident_objects", s.resident_objects);
    jw_ku64(w, "dirty_bytes", s.dirty_bytes);
    jw_kfixed(w, "raw_write_ms", raw, 1000000u, 6);
}

static unsigned ckpt_points(struct bench_ctx *c, const struct bench_family *f)
{
    int dirty_sweep = f->variant == PV_OBJECTS_DIRTY || f->variant == PV_DIRTY_DIRTY;
    if (BENCH_RV32 && !c->full)
        return 6;
    if (dirty_sweep)
        return c->full ? 122 : 17; /* least, 76..3916 step 32 / step 256 */
    return c->full ? 113 : 15;     /* 332..3916 step 32 / step 256 */
}

static uint32_t ckpt_x(struct bench_ctx *c, const struct bench_family *f, unsigned i)
{
    int dirty_sweep = f->variant == PV_OBJECTS_DIRTY || f->variant == PV_DIRTY_DIRTY;
    /* the smallest dirty limit a heap accepts (the original's sweep started at its 56-byte
     * cutoff; ours is the checkpoint header + one record + 8 bytes) */
    const uint32_t least = VNV_CKPT_HEADER_SIZE + VNV_CKPT_RECORD_SIZE + 8u;
    if (BENCH_RV32 && !c->full) {
        static const uint32_t d[] = {0, 588, 1196, 1964, 2732, 3916};
        static const uint32_t b[] = {332, 972, 1612, 2252, 3148, 3916};
        return dirty_sweep ? (d[i] < least ? least : d[i]) : b[i];
    }
    uint32_t step = c->full ? 32 : 256;
    if (dirty_sweep) {
        if (i == 0)
            return least;
        uint32_t v = 76 + step * (i - 1);
        v = v < least ? least + 8u * i : v;
        return v > 3916 ? 3916 : v;
    }
    uint32_t v = 332 + step * i;
    return v > 3916 ? 3916 : v;
}

static int ckpt_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct pers *p = &P;
    memset(p, 0, sizeof *p);
    p->c = c;
    int max_objects = f->variant == PV_OBJECTS_DIRTY || f->variant == PV_OBJECTS_BUFFER;
    int dirty_sweep = f->variant == PV_OBJECTS_DIRTY || f->variant == PV_DIRTY_DIRTY;
    uint32_t x = ckpt_x(c, f, point);
    /* The original's sweeps: buffer 4 KiB - 180 B of its RAM overhead (3916) with the dirty
     * limit swept, or the buffer swept with the limit min(2048 - 180, buffer). We keep
     * those buffer sizes (so that the x axes match) and report our own ram_overhead. */
    uint32_t buffer = dirty_sweep ? 3916u : x;
    uint32_t dirty = dirty_sweep ? x : (x < 1868u ? x : 1868u);
    uint32_t entries = max_objects ? best_entries(buffer) : 0;
    int err = heap_up(p, 64 * 1024, buffer, dirty, entries, 0);
    if (!err)
        err = fill(p, max_objects);
    if (err)
        return bench_fail(c, "persist setup", err);
    struct vnv_stats s;
    vnv_stats(&bench_heap, &s);
    struct jw w;
    opts_begin(p, &w);
    jw_ku64(&w, "dirty_size", dirty);
    jw_ku64(&w, "buffer_size", buffer);
    jw_ku64(&w, "rem_object_size", p->rem_size);
    jw_ku64(&w, "object_cnt", p->nobj);
    jw_ku64(&w, "index_entries", entries ? entries : 0);
    jw_kbool(&w, "rem_object_dirty", p->rem_size != 0);
    jw_ku64(&w, "cutoff_size", VNV_CKPT_HEADER_SIZE + VNV_CKPT_RECORD_SIZE + 8u);
    jw_ku64(&w, "ram_overhead", ram_overhead());
    modules(p, &w);
    jw_obj_end(&w);
    struct bench_spec sp = {.name = f->name, .options = p->opts,
                            .reps = bench_reps(c, 5, 100), .cold = 1, .ops = 1,
                            .run = run_checkpoint, .extra = extra_ckpt};
    return bench_measure(c, &sp, p);
}

/* ---- deferral sections ("locked WCET") ------------------------------------------------------- */

enum { W_STORAGE, W_FLUSH, W_LOAD, W_ALLOC, W_FREE, W_EVICT, W_PICK, W_LOOKUP, W_TASK,
       W_GROUP };

static const uint32_t wcet_sizes[] = {16, 64, 256, 1024, 4096};

static unsigned wcet_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)c;
    switch (f->variant) {
    case W_FLUSH:
    case W_LOAD:
    case W_ALLOC:
    case W_FREE:
    case W_TASK:
    case W_GROUP:
        return (unsigned)(sizeof wcet_sizes / sizeof wcet_sizes[0]);
    default:
        return 1;
    }
}

/* Scenario preparation (restores the state before each triggered repetition). */
static int w_prep_flush(struct pers *p)
{
    int err = 0;
    if (p->variant == W_STORAGE) { /* void the last checkpoint by flushing another object */
        err = make_dirty(p->other);
        if (!err)
            err = vnv_flush(&bench_heap, p->other);
    }
    if (!err)
        err = make_dirty(p->obj);
    if (!err && p->variant == W_FLUSH)
        err = vnv_checkpoint(&bench_heap); /* a valid checkpoint: the flush voids it first */
    return err;
}
static int w_op_flush(struct pers *p) { return vnv_flush(&bench_heap, p->obj); }

/* A task: change a dirty object, allocate one, write into another, free the allocation's
 * predecessor; as a failure-atomic group (W_GROUP) or not (W_TASK). A request inside the
 * group must wait no longer than one of the library's own sections, like one outside. */
static int w_prep_task(struct pers *p)
{
    /* Both objects on storage only: the task's sections include storage transfers (two
     * loads in the group; a load and a write through without it). */
    int err = vnv_unload(&bench_heap, p->obj);
    if (!err)
        err = vnv_unload(&bench_heap, p->other);
    if (!err && p->have) {
        err = vnv_free(&bench_heap, p->objs[0]);
        p->have = 0;
    }
    return err ? err : vnv_checkpoint(&bench_heap);
}
static int w_op_task(struct pers *p)
{
    int grouped = p->variant == W_GROUP;
    int err = grouped ? vnv_atomic_begin(&bench_heap) : 0;
    void *ptr;
    uint32_t v = 7;
    if (!err)
        err = vnv_get_mut(&bench_heap, p->obj, &ptr);
    if (!err) {
        memset(ptr, 0x33, p->size);
        err = vnv_release(&bench_heap, p->obj);
    }
    if (!err) {
        err = vnv_alloc(&bench_heap, 16, NULL, &p->objs[0]);
        p->have = !err;
    }
    if (!err)
        err = vnv_write(&bench_heap, p->other, 0, &v, sizeof v);
    if (!err && grouped)
        err = vnv_atomic_end(&bench_heap);
    return err;
}

static int w_prep_load(struct pers *p) { return vnv_unload(&bench_heap, p->obj); }
static int w_op_get(struct pers *p)
{
    const void *ptr;
    int err = vnv_get(&bench_heap, p->obj, &ptr);
    if (!err)
        err = vnv_release(&bench_heap, p->obj);
    return err;
}

static int w_prep_alloc(struct pers *p)
{
    int err = 0;
    if (p->have) {
        err = vnv_free(&bench_heap, p->obj);
        p->have = 0;
    }
    return err ? err : vnv_checkpoint(&bench_heap);
}
static int w_op_alloc(struct pers *p)
{
    int err = vnv_alloc(&bench_heap, p->size, NULL, &p->obj);
    p->have = !err;
    return err;
}

static int w_prep_free(struct pers *p)
{
    int err = vnv_alloc(&bench_heap, p->size, NULL, &p->obj);
    if (!err)
        err = vnv_unload(&bench_heap, p->obj);
    return err ? err : vnv_checkpoint(&bench_heap);
}
static int w_op_free(struct pers *p) { return vnv_free(&bench_heap, p->obj); }

static int w_prep_evict(struct pers *p)
{
    const void *ptr;
    int err = vnv_get(&bench_heap, p->obj, &ptr); /* resident, clean */
    return err ? err : vnv_release(&bench_heap, p->obj);
}
static int w_op_evict(struct pers *p) { return vnv_unload(&bench_heap, p->obj); }

/* pick: every index slot the policy may use holds a clean resident object with its
 * accessed bit set; loading `other` needs an eviction (index full). */
static int w_prep_pick(struct pers *p)
{
    int err = vnv_unload(&bench_heap, p->other);
    if (err == VNV_ERR_INVAL)
        err = 0;
    for (uint32_t i = 0; !err && i < p->nobj; i++) {
        const void *ptr;
        err = vnv_get(&bench_heap, p->objs[i], &ptr);
        if (!err)
            err = vnv_release(&bench_heap, p->objs[i]);
    }
    return err;
}
static int w_op_pick(struct pers *p)
{
    const void *ptr;
    int err = vnv_get(&bench_heap, p->other, &ptr);
    if (!err)
        err = vnv_release(&bench_heap, p->other);
    return err;
}

static int w_prepare(void *arg, unsigned rep)
{
    struct pers *p = arg;
    T.active = 0;
    int err = p->prep ? p->prep(p) : 0;
    T.events = 0;
    T.fire_at = rep + 1u;
    T.waiting = T.got = 0;
    T.kinds = p->kinds;
    T.active = 1;
    return err;
}

static int w_run(void *arg, unsigned rep)
{
    struct pers *p = arg;
    (void)rep;
    int err = p->op(p);
    T.active = 0;
    return err;
}

static int w_sample(void *arg, unsigned rep, struct bench_sample *out)
{
    (void)arg;
    (void)rep;
    if (!T.got)
        return VNV_ERR_CORRUPT; /* the deferred checkpoint never started */
    bench_diff(&T.s0, &T.s1, out);
    return 0;
}

static void extra_wcet(void *arg, struct jw *w)
{
    struct pers *p = arg;
    jw_key(w, "operation_total");
    jw_obj_begin(w);
    jw_ku64(w, "cpu", p->total.cpu);
    jw_ku64(w, "read_tx", p->total.rd_tx);
    jw_ku64(w, "write_tx", p->total.wr_tx);
    jw_ku64(w, "read_bytes", p->total.rd_bytes);
    jw_ku64(w, "write_bytes", p->total.wr_bytes);
    jw_ku64(w, "modeled_ns", p->total.modeled_ns);
    jw_obj_end(w);
    jw_ku64(w, "ckpt_preamble_cpu", p->preamble_cpu);
}

/* lookup has no hook inside its section: measure the whole call (an upper bound). */
static int lookup_run(void *arg, unsigned rep)
{
    struct pers *p = arg;
    return vnv_is_resident(&bench_heap, p->objs[rep % p->nobj]) ? VNV_ERR_CORRUPT : 0;
}

static int wcet_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct pers *p = &P;
    memset(p, 0, sizeof *p);
    p->c = c;
    p->variant = (uint32_t)f->variant;
    p->size = wcet_sizes[point < 5 ? point : 0];
    const char *what = "";
    int err = 0;
    switch (f->variant) {
    case W_STORAGE:
    case W_FLUSH:
        if (f->variant == W_STORAGE)
            p->size = 4;
        err = heap_up(p, 64 * 1024, 12 * 1024, 12 * 1024, 0, 1);
        if (!err)
            err = vnv_alloc(&bench_heap, p->size, NULL, &p->obj);
        if (!err)
            err = vnv_alloc(&bench_heap, 4, NULL, &p->other);
        p->prep = w_prep_flush;
        p->op = w_op_flush;
        p->kinds = K_STORAGE;
        what = f->variant == W_STORAGE
                   ? "vnv_flush of a dirty 4-byte object: one 4-byte write transaction"
                   : "vnv_flush of a dirty object after a checkpoint: voids it (16 B) and "
                     "writes the object in one section";
        break;
    case W_TASK:
    case W_GROUP:
        err = heap_up(p, 64 * 1024, 12 * 1024, 12 * 1024, 0, 1);
        if (!err)
            err = vnv_alloc(&bench_heap, p->size, NULL, &p->obj);
        if (!err)
            err = vnv_alloc(&bench_heap, p->size, NULL, &p->other);
        p->prep = w_prep_task;
        p->op = w_op_task;
        p->kinds = K_STORAGE | K_RAM;
        what = f->variant == W_GROUP
                   ? "a task as a failure-atomic group (get_mut of an object on storage: "
                     "a load; alloc; a 4-byte vnv_write to another object of the same size "
                     "on storage: a second load; end): a request inside waits for one "
                     "section, not the group"
                   : "the same task without a group";
        break;
    case W_LOAD:
        err = heap_up(p, 64 * 1024, 12 * 1024, 12 * 1024, 0, 1);
        if (!err)
            err = vnv_alloc(&bench_heap, p->size, NULL, &p->obj);
        p->prep = w_prep_load;
        p->op = w_op_get;
        p->kinds = K_STORAGE | K_RAM;
        what = "vnv_get of a non-resident object (room available): the load section "
               "allocates RAM, indexes it and reads the object";
        break;
    case W_ALLOC: {
        err = heap_up(p, bench_pow2_storage(12 * 1024), 12 * 1024, 12 * 1024, 0, 1);
        struct vnv_stats s;
        const void *ptr;
        if (!err)
            err = vnv_stats(&bench_heap, &s);
        if (!err) /* pin a blocker that fills the arena: the object must be written home */
            err = vnv_alloc(&bench_heap, s.arena_free - VNV_META_SIZE, NULL, &p->other);
        if (!err)
            err = vnv_flush(&bench_heap, p->other);
        if (!err)
            err = vnv_get(&bench_heap, p->other, &ptr);
        p->prep = w_prep_alloc;
        p->op = w_op_alloc;
        p->kinds = K_STORAGE | K_RAM;
        what = "vnv_alloc, RAM full (written home, zero-filled), NV buddy split from the "
               "largest block, valid checkpoint voided: one section";
        break;
    }
    case W_FREE:
        err = heap_up(p, bench_pow2_storage(12 * 1024), 12 * 1024, 12 * 1024, 0, 1);
        p->prep = w_prep_free;
        p->op = w_op_free;
        p->kinds = K_STORAGE | K_RAM;
        what = "vnv_free of a non-resident object whose buddies are all free (merges to the "
               "largest block), valid checkpoint voided";
        break;
    case W_EVICT:
    case W_PICK:
    case W_LOOKUP: {
        /* A full index: 64 slots, 48 resident word objects (clean). */
        err = heap_up(p, 64 * 1024, 4096, 4096, 64, 1);
        for (uint32_t i = 0; !err && i < 48; i++) {
            err = vnv_alloc(&bench_heap, 4, NULL, &p->objs[i]);
            if (!err)
                err = vnv_flush(&bench_heap, p->objs[i]);
            p->nobj++;
        }
        if (!err)
            err = vnv_alloc(&bench_heap, 4, NULL, &p->other); /* not resident: index full */
        if (!err && vnv_is_resident(&bench_heap, p->other))
            err = VNV_ERR_NOMEM;
        p->obj = p->objs[47];
        if (f->variant == W_EVICT) {
            p->prep = w_prep_evict;
            p->op = w_op_evict;
            p->kinds = K_RAM;
            what = "vnv_unload of a clean object in a full index; the hook (RAM free) sits "
                   "after the index removal, so operation_total.cpu is the bound";
        } else if (f->variant == W_PICK) {
            p->prep = w_prep_pick;
            p->op = w_op_pick;
            p->kinds = K_PICK;
            what = "policy pick over a full index, every accessed bit set (clock: two "
                   "sweeps); the section is CPU only";
        } else {
            what = "unsuccessful index probe (vnv_is_resident of a non-resident object) in "
                   "a full index: whole call, an upper bound of the lookup section";
        }
        break;
    }
    }
    if (err)
        return bench_fail(c, "locked_wcet setup", err);
    struct jw w;
    opts_begin(p, &w);
    jw_ku64(&w, "object_size", p->size);
    jw_ku64(&w, "buffer_size", p->buffer);
    jw_ku64(&w, "max_dirty", p->dirty);
    jw_kstr(&w, "section", f->name);
    jw_kstr(&w, "measures", what);
    modules(p, &w);
    jw_obj_end(&w);

    if (f->variant == W_LOOKUP) {
        /* Re-use the evicted set: the 48 word objects, all absent once `other` is absent.
         * Unload 8 of them so that the probes are unsuccessful ones. */
        for (uint32_t i = 0; !err && i < 8; i++)
            err = vnv_unload(&bench_heap, p->objs[i]);
        p->nobj = 8;
        struct bench_spec sp = {.name = f->name, .options = p->opts,
                                .reps = bench_reps(c, 16, 64), .cold = 1, .ops = 1,
                                .run = lookup_run};
        return err ? bench_fail(c, "lookup setup", err) : bench_measure(c, &sp, p);
    }

    /* Warm-up, then a dry run: count the events and measure the whole operation. The
     * warm-up puts the heap in the state every repetition starts from (e.g. the object's
     * header already known: read_objhdr keeps the last one). */
    T.kinds = p->kinds;
    T.fire_at = 0;
    T.active = 0;
    err = p->prep(p);
    if (!err)
        err = p->op(p);
    if (err)
        return bench_fail(c, "locked_wcet warm-up", err);
    T.events = 0;
    err = p->prep(p);
    struct bench_sample a, b;
    T.active = 1;
    bench_snapshot(c, &a);
    if (!err)
        err = p->op(p);
    bench_snapshot(c, &b);
    T.active = 0;
    if (err)
        return bench_fail(c, "locked_wcet dry run", err);
    bench_diff(&a, &b, &p->total);
    p->total.cpu = p->total.cpu > c->cpu_overhead ? p->total.cpu - c->cpu_overhead : 0;
    uint32_t events = T.events;
    /* The checkpoint's own CPU work before its first write (in this state). */
    T.waiting = 1;
    T.got = 0;
    bench_snapshot(c, &T.s0);
    err = vnv_checkpoint(&bench_heap);
    if (err || !T.got)
        return bench_fail(c, "preamble", err ? err : VNV_ERR_CORRUPT);
    p->preamble_cpu = T.s1.cpu - T.s0.cpu;
    if (events == 0)
        return bench_fail(c, "no events", VNV_ERR_CORRUPT);
    if (events > BENCH_MAX_REPS)
        events = BENCH_MAX_REPS;
    struct bench_spec sp = {.name = f->name, .options = p->opts, .reps = events, .cold = 0,
                            .ops = 1, .prepare = w_prepare, .run = w_run,
                            .extra = extra_wcet, .sample = w_sample, .fixed = 1};
    return bench_measure(c, &sp, p);
}

const struct bench_family bench_persist_families[] = {
    {"max_objects_persist_latency_dirty_size", "persist",
     "vnv_checkpoint with the budget filled by resident word objects; dirty limit swept",
     PV_OBJECTS_DIRTY, ckpt_points, ckpt_point},
    {"max_dirty_persist_latency_dirty_size", "persist",
     "vnv_checkpoint with the budget filled by dirty data; dirty limit swept", PV_DIRTY_DIRTY,
     ckpt_points, ckpt_point},
    {"max_objects_persist_latency_buffer_size", "persist",
     "vnv_checkpoint, resident word objects; buffer swept (limit min(1868, buffer))",
     PV_OBJECTS_BUFFER, ckpt_points, ckpt_point},
    {"max_dirty_persist_latency_buffer_size", "persist",
     "vnv_checkpoint, dirty data; buffer swept (limit min(1868, buffer))", PV_DIRTY_BUFFER,
     ckpt_points, ckpt_point},
    {"storage_locked_wcet", "wcet", "deferral by one 4-byte storage write", W_STORAGE,
     wcet_points, wcet_point},
    {"flush_locked_wcet", "wcet", "deferral by the flush section (per object size)", W_FLUSH,
     wcet_points, wcet_point},
    {"load_locked_wcet", "wcet", "deferral by the load section (per object size)", W_LOAD,
     wcet_points, wcet_point},
    {"alloc_locked_wcet", "wcet", "deferral by the alloc section (per object size)", W_ALLOC,
     wcet_points, wcet_point},
    {"free_locked_wcet", "wcet", "deferral by the free section (per object size)", W_FREE,
     wcet_points, wcet_point},
    {"evict_locked_wcet", "wcet", "deferral by the evict section", W_EVICT, wcet_points,
     wcet_point},
    {"pick_locked_wcet", "wcet", "deferral by the policy pick section", W_PICK, wcet_points,
     wcet_point},
    {"lookup_locked_wcet", "wcet", "index probe section (whole call, upper bound)", W_LOOKUP,
     wcet_points, wcet_point},
    {"task_locked_wcet", "wcet", "deferral at any instant of a task outside a group",
     W_TASK, wcet_points, wcet_point},
    {"group_locked_wcet", "wcet", "deferral at any instant of the same task as a "
     "failure-atomic group", W_GROUP, wcet_points, wcet_point},
};
const unsigned bench_persist_count =
    sizeof bench_persist_families / sizeof bench_persist_families[0];

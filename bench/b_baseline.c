/*
 * b_baseline.c - the original's "module-based" baseline (notes §11.3): single-page swapping.
 *
 * One RAM page frame of 1024 bytes + the in-page allocator's state (8 bytes), two pages on
 * the same emulated FRAM the heap uses. Every page starts with its own first-fit allocator
 * (an address-ordered hole list kept inside the page, 8-byte granules). An object handle is
 * (page, offset). Making a page resident fails if a reference is open; it writes the
 * resident page home if dirty (one 1032-byte write) and reads the requested one (one
 * 1032-byte read). allocate, deallocate and get_mut mark the page dirty.
 */
#include <string.h>

#include "bench.h"

#define PG_DATA 1024u
#define PG_HDR 8u /* in-page allocator: first hole, free bytes */
#define PG_BYTES (PG_HDR + PG_DATA)
#define PG_NIL 0xFFFFFFFFu

struct pager {
    struct vnv_storage st;
    _Alignas(8) uint8_t frame[PG_BYTES];
    int resident; /* page number, -1 = none */
    int dirty;
    int refs;
};

struct pobj {
    uint32_t page, off;
};

static uint32_t ld(const uint8_t *b, uint32_t o)
{
    uint32_t v;
    memcpy(&v, b + o, 4);
    return v;
}
static void st(uint8_t *b, uint32_t o, uint32_t v) { memcpy(b + o, &v, 4); }

static int pg_require(struct pager *p, uint32_t page)
{
    if (p->resident == (int)page)
        return 0;
    if (p->refs)
        return VNV_ERR_BUSY;
    int err = 0;
    if (p->resident >= 0 && p->dirty)
        err = vnv_storage_write(&p->st, (uint32_t)p->resident * PG_BYTES, p->frame, PG_BYTES);
    if (!err)
        err = vnv_storage_read(&p->st, page * PG_BYTES, p->frame, PG_BYTES);
    if (!err) {
        p->resident = (int)page;
        p->dirty = 0;
    }
    return err;
}

/* In-page first fit; holes are {size, next} at their start, offsets relative to data. */
static uint8_t *pdata(struct pager *p) { return p->frame + PG_HDR; }

static void pg_format(uint8_t *page)
{
    st(page, 0, 0);       /* first hole at 0 */
    st(page, 4, PG_DATA); /* free bytes */
    st(page + PG_HDR, 0, PG_DATA);
    st(page + PG_HDR, 4, PG_NIL);
}

static uint32_t r8(uint32_t n) { return n < 8u ? 8u : (n + 7u) & ~7u; }

static int pg_alloc(struct pager *p, uint32_t page, uint32_t size, struct pobj *out)
{
    int err = pg_require(p, page);
    if (err)
        return err;
    p->dirty = 1;
    uint8_t *d = pdata(p);
    uint32_t need = r8(size), prev = PG_NIL, h = ld(p->frame, 0);
    for (uint32_t n = 0; h != PG_NIL && n <= PG_DATA / 8u; n++) {
        uint32_t hs = ld(d, h), next = ld(d, h + 4);
        if (hs >= need) {
            uint32_t rest = hs - need, repl = next;
            if (rest) { /* the tail of the hole stays free */
                repl = h + need;
                st(d, repl, rest);
                st(d, repl + 4, next);
            }
            if (prev == PG_NIL)
                st(p->frame, 0, repl);
            else
                st(d, prev + 4, repl);
            st(p->frame, 4, ld(p->frame, 4) - need);
            out->page = page;
            out->off = h;
            return 0;
        }
        prev = h;
        h = next;
    }
    return VNV_ERR_NOMEM;
}

static int pg_free(struct pager *p, struct pobj o, uint32_t size)
{
    int err = pg_require(p, o.page);
    if (err)
        return err;
    p->dirty = 1;
    uint8_t *d = pdata(p);
    uint32_t need = r8(size), prev = PG_NIL, h = ld(p->frame, 0);
    for (uint32_t n = 0; h != PG_NIL && h < o.off && n <= PG_DATA / 8u; n++) {
        prev = h;
        h = ld(d, h + 4);
    }
    /* insert [o.off, o.off + need) between prev and h, merging with both */
    uint32_t start = o.off, len = need, next = h;
    if (h != PG_NIL && o.off + need == h) {
        len += ld(d, h);
        next = ld(d, h + 4);
    }
    if (prev != PG_NIL && prev + ld(d, prev) == o.off) {
        st(d, prev, ld(d, prev) + len);
        st(d, prev + 4, next);
    } else {
        st(d, start, len);
        st(d, start + 4, next);
        if (prev == PG_NIL)
            st(p->frame, 0, start);
        else
            st(d, prev + 4, start);
    }
    st(p->frame, 4, ld(p->frame, 4) + need);
    return 0;
}

static int pg_get(struct pager *p, struct pobj o, int mut, void **ptr)
{
    int err = pg_require(p, o.page);
    if (err)
        return err;
    if (mut)
        p->dirty = 1;
    p->refs++;
    *ptr = pdata(p) + o.off;
    return 0;
}

static void pg_release(struct pager *p) { p->refs--; }

/* ---- the benchmarks -------------------------------------------------------------------------- */

enum { V_MIN, V_MAX_MIN, V_MIN_MAX, V_MAX }; /* the original's four cases */
enum { OP_GET, OP_ALLOC, OP_DEALLOC };

struct base {
    struct bench_ctx *c;
    struct pager pg;
    struct pobj obj, other, blockers[64];
    uint32_t size, nblock;
    int variant, op, have;
    char opts[BENCH_OPT_MAX];
};
static struct base B;

static const uint32_t rv32_sizes[] = {8, 32, 128, 256, 512, 1024};

static unsigned base_points(struct bench_ctx *c, const struct bench_family *f)
{
    (void)f;
    return BENCH_RV32 && !c->full ? (unsigned)(sizeof rv32_sizes / sizeof rv32_sizes[0]) : 65u;
}

static uint32_t base_size(struct bench_ctx *c, unsigned p)
{
    if (BENCH_RV32 && !c->full)
        return rv32_sizes[p];
    return p == 0 ? 8u : p == 64 ? 1024u : 16u * p;
}

/* The other page resident: clean (V_MIN_MAX) or dirty (V_MAX); page 0 for the rest. */
static int set_residency(struct base *b)
{
    void *ptr;
    int err;
    switch (b->variant) {
    case V_MIN_MAX:
    case V_MAX:
        err = pg_get(&b->pg, b->other, b->variant == V_MAX, &ptr);
        if (!err)
            pg_release(&b->pg);
        return err;
    default:
        err = pg_require(&b->pg, 0);
        if (!err && b->variant == V_MAX_MIN && b->op == OP_GET)
            b->pg.dirty = 1; /* the "second variant": resident and dirty */
        return err;
    }
}

static int prep_base(void *arg, unsigned rep)
{
    struct base *b = arg;
    (void)rep;
    int err = 0;
    if (b->op == OP_ALLOC && b->have) { /* undo the previous repetition's allocation */
        err = pg_free(&b->pg, b->obj, b->size);
        b->have = 0;
    }
    if (!err && b->op == OP_DEALLOC && !b->have) {
        err = pg_alloc(&b->pg, 0, b->size, &b->obj);
        b->have = !err;
    }
    return err ? err : set_residency(b);
}

static int run_base(void *arg, unsigned rep)
{
    struct base *b = arg;
    void *ptr;
    (void)rep;
    switch (b->op) {
    case OP_GET: {
        int err = pg_get(&b->pg, b->obj, b->variant == V_MAX, &ptr);
        if (!err)
            pg_release(&b->pg);
        return err;
    }
    case OP_ALLOC: {
        int err = pg_alloc(&b->pg, 0, b->size, &b->obj);
        b->have = !err;
        return err;
    }
    default: {
        int err = pg_free(&b->pg, b->obj, b->size);
        b->have = 0;
        return err;
    }
    }
}

static int base_point(struct bench_ctx *c, const struct bench_family *f, unsigned point)
{
    struct base *b = &B;
    memset(b, 0, sizeof *b);
    b->c = c;
    b->size = base_size(c, point);
    b->variant = f->variant & 3;
    b->op = f->variant >> 2;
    bench_storage(c, 4 * PG_BYTES, &b->pg.st);
    b->pg.resident = -1;
    /* Format both pages on storage. */
    uint8_t page[PG_BYTES];
    pg_format(page);
    int err = vnv_storage_write(&b->pg.st, 0, page, PG_BYTES);
    if (!err)
        err = vnv_storage_write(&b->pg.st, PG_BYTES, page, PG_BYTES);
    /* Page 1 holds one word object (`other`) to touch when page 1 must be resident. */
    if (!err)
        err = pg_alloc(&b->pg, 1, 8, &b->other);
    /* Fragmented variants (allocate/deallocate _max_min and _max): alternate 8-byte blockers
     * and 8-byte holes in front of the object, so that the hole list is as long as the page
     * allows (the original: alternating 2-word blockers). */
    int fragment = b->op != OP_GET && (b->variant == V_MAX_MIN || b->variant == V_MAX);
    uint32_t pairs = fragment ? (PG_DATA - r8(b->size)) / 16u : 0;
    if (pairs > sizeof b->blockers / sizeof b->blockers[0])
        pairs = sizeof b->blockers / sizeof b->blockers[0];
    struct pobj tmp[64];
    for (uint32_t i = 0; !err && i < pairs; i++) {
        err = pg_alloc(&b->pg, 0, 8, &tmp[i]);
        if (!err)
            err = pg_alloc(&b->pg, 0, 8, &b->blockers[i]);
    }
    for (uint32_t i = 0; !err && i < pairs; i++)
        err = pg_free(&b->pg, tmp[i], 8);
    b->nblock = pairs;
    if (!err && b->op == OP_GET) {
        err = pg_alloc(&b->pg, b->variant == V_MIN || b->variant == V_MAX_MIN ? 0 : 0, b->size,
                       &b->obj);
        /* get_min_max / get_max read the object's page (0) while page 1 is resident */
    }
    if (err)
        return bench_fail(c, "baseline setup", err);
    struct jw w;
    jw_init(&w, b->opts, sizeof b->opts);
    jw_obj_begin(&w);
    jw_ku64(&w, "object_size", b->size);
    jw_ku64(&w, "bucket_size", PG_DATA);
    jw_ku64(&w, "page_bytes", PG_BYTES);
    jw_ku64(&w, "holes", pairs);
    jw_key(&w, "modules");
    jw_obj_begin(&w);
    jw_kstr(&w, "allocator", "in-page first fit");
    jw_obj_end(&w);
    jw_obj_end(&w);
    struct bench_spec s = {.name = f->name, .options = b->opts, .reps = bench_reps(c, 15, 100),
                           .cold = 1, .ops = 1, .prepare = prep_base, .run = run_base};
    return bench_measure(c, &s, b);
}

#define FAM(name, desc, op, v) {name, "baseline", desc, (op) << 2 | (v), base_points, base_point}
const struct bench_family bench_baseline_families[] = {
    FAM("baseline_get_min", "page resident", OP_GET, V_MIN),
    FAM("baseline_get_max_min", "page resident and dirty", OP_GET, V_MAX_MIN),
    FAM("baseline_get_min_max", "other page resident, clean: read the page", OP_GET, V_MIN_MAX),
    FAM("baseline_get_max", "other page resident, dirty: write + read (get_mut)", OP_GET, V_MAX),
    FAM("baseline_allocate_min", "page resident, unfragmented", OP_ALLOC, V_MIN),
    FAM("baseline_allocate_max_min", "page resident, longest hole list", OP_ALLOC, V_MAX_MIN),
    FAM("baseline_allocate_min_max", "other clean page resident", OP_ALLOC, V_MIN_MAX),
    FAM("baseline_allocate_max", "longest hole list, other dirty page resident", OP_ALLOC, V_MAX),
    FAM("baseline_deallocate_min", "page resident, unfragmented", OP_DEALLOC, V_MIN),
    FAM("baseline_deallocate_max_min", "page resident, longest hole list", OP_DEALLOC,
        V_MAX_MIN),
    FAM("baseline_deallocate_min_max", "other clean page resident", OP_DEALLOC, V_MIN_MAX),
    FAM("baseline_deallocate_max", "longest hole list, other dirty page resident", OP_DEALLOC,
        V_MAX),
};
const unsigned bench_baseline_count =
    sizeof bench_baseline_families / sizeof bench_baseline_families[0];

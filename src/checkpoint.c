/*
 * checkpoint.c - writing a checkpoint (the power-failure path), restoring the RAM buffer
 * from one (resume and open), and the registry vnv_persist_all() walks.
 *
 * Two checkpoint slots, A and B (docs/FORMAT.md section 2). A checkpoint goes to the slot
 * that does not hold the last one:
 *   header (48 B): magic, seq, len, checksum, nrec, flags, root, alloc_count, group root
 *   NV map: MAP_SAVED bitmaps
 *   per resident object: record (16 B: id, word, arena unit, pre-image's arena unit)
 *                        [bitmap bytes, partial objects] [dirty bytes] [pre-image]
 * The body is written first (gather writes of VNV_PERSIST_BATCH objects), made durable
 * (sync), and the header last: a checkpoint cut anywhere leaves the slot's header invalid,
 * and open falls back to the other slot, which the heap never touched meanwhile. The
 * checksum (cksum.c: damage, not tearing) covers the header, the map, the records, bitmaps
 * and undo log, not the data (ordered writes make the data complete whenever the header
 * is). Writing never modifies the objects in RAM;
 * when it completes, the NV map's protection moves to the new state (nvmap_commit).
 */
#include "internal.h"

#define IOV_MAX (2u * VNV_PERSIST_BATCH + 4u)

#if defined(VNV_PERSIST_DEBUG_PRINTS) && defined(__unix__)
#include <unistd.h>
/* async-signal-safe: write(2) only */
static void dbg(const char *s)
{
    size_t n = strlen(s);
    ssize_t r = write(2, s, n);
    (void)r;
}
#elif defined(VNV_PERSIST_DEBUG_UNSAFE_PRINTS)
#include <stdio.h>
/* NOT async-signal-safe: stdio from an interrupt may deadlock or corrupt its buffers. */
static void dbg(const char *s) { fputs(s, stderr); }
#else
#define dbg(s) ((void)0)
#endif

/* ---- registry ------------------------------------------------------------------------------- */

static struct vnv_heap *volatile registry[VNV_MAX_HEAPS];

int registry_has_room(const struct vnv_heap *h)
{
    for (int i = 0; i < VNV_MAX_HEAPS; i++)
        if (!registry[i] || registry[i] == h)
            return 1;
    return 0;
}

int registry_has(const struct vnv_heap *h)
{
    for (int i = 0; i < VNV_MAX_HEAPS; i++)
        if (registry[i] == h)
            return 1;
    return 0;
}

void registry_add(struct vnv_heap *h)
{
    if (registry_has(h))
        return;
    for (int i = 0; i < VNV_MAX_HEAPS; i++)
        if (!registry[i]) {
            registry[i] = h; /* one store: the interrupt sees the heap or not */
            return;
        }
}

void registry_remove(struct vnv_heap *h)
{
    for (int i = 0; i < VNV_MAX_HEAPS; i++)
        if (registry[i] == h)
            registry[i] = NULL;
}

/* The heap whose persist round is running (its callback may try lifecycle calls). */
static struct vnv_heap *volatile in_round;

/* ---- writing ---------------------------------------------------------------------------------- */

struct writer {
    struct vnv_heap *h;
    uint32_t base, pos, batch_pos;
    struct cksum sum;
    unsigned niov, nrec;
    int err;
    struct vnv_iovec iov[IOV_MAX];
#if !VNV_META_IS_RECORD
    _Alignas(4) uint8_t rec[VNV_PERSIST_BATCH][VNV_CKPT_RECORD_SIZE]; /* (cksum: word loads) */
#endif
};

static void w_flush(struct writer *w)
{
    if (w->niov && !w->err)
        w->err = heap_writev_total(w->h, w->base + w->batch_pos, w->iov, w->niov,
                                   w->pos - w->batch_pos);
    w->batch_pos = w->pos;
    w->niov = 0;
    w->nrec = 0;
}

/* A 16-byte record into the checksum, in word steps (cksum_add's loop, unrolled): `sum`
 * holds no partial word, `q` is 4-aligned. */
static inline void sum_record(struct cksum *sum, const uint32_t *q)
{
    uint32_t a = sum->a, b = sum->b;
    a += q[0];
    b += a;
    a += q[1];
    b += a;
    a += q[2];
    b += a;
    a += q[3];
    b += a;
    sum->a = a;
    sum->b = b;
}

/* Queue `len` bytes, of which the first `cover` are metadata the checksum covers (the
 * rest is object data). Inline: once per record on the power-failure path. */
static inline void w_add(struct writer *w, const void *p, uint32_t len, uint32_t cover)
{
    if (!len)
        return;
    if (w->niov == IOV_MAX)
        w_flush(w);
    if (len > w->h->ckpt_cap - w->pos) {
        w->err = VNV_ERR_CORRUPT; /* budget invariant broken: never write past the slot */
        return;
    }
    w->iov[w->niov].base = p;
    w->iov[w->niov++].len = len;
    if (cover == VNV_CKPT_RECORD_SIZE && !w->sum.n && !((uintptr_t)p & 3u)) {
        sum_record(&w->sum, p);
    } else if (cover) {
        cksum_add(&w->sum, p, cover);
    }
    w->pos += len;
}

/* Queue the record of resident object `m` and what follows it (FORMAT.md 2.3). */
static void w_record(struct writer *w, struct meta *m)
{
    uint32_t st = m->word & ST_MASK, size = meta_size(m), bm = bitmap_bytes(size, st);
    /* the record, then the bitmap of a partial object or a dirty plain object's data: all
     * contiguous in RAM (meta, bitmap, data), so one piece where the record is the meta */
    uint32_t rec = VNV_CKPT_RECORD_SIZE + bm;
    uint32_t len = rec + (!(st & ST_PARTIAL) && (st & ST_DIRTY) ? size : 0u);
#if VNV_META_IS_RECORD
    if (w->niov + 2u > IOV_MAX)
        w_flush(w);
    w_add(w, m, len, rec);
#else
    if (w->nrec == VNV_PERSIST_BATCH || w->niov + 3u > IOV_MAX)
        w_flush(w);
    uint8_t *r = w->rec[w->nrec++];
    put_le64(r, m->id);
    put_le32(r + 8, m->word);
    put_le16(r + 12, m->self);
    put_le16(r + 14, m->pre);
    w_add(w, r, VNV_CKPT_RECORD_SIZE, VNV_CKPT_RECORD_SIZE);
    w_add(w, meta_bitmap(m), len - VNV_CKPT_RECORD_SIZE, bm);
#endif
    if (st & ST_PARTIAL) {
        uint32_t b = 0, run[1][2];
        for (uint32_t guard = 0; guard <= size && dirty_runs(m, &b, run, 1); guard++)
            w_add(w, meta_data(m) + run[0][0], run[0][1], 0);
    }
    /* a group member's value from before the group (data), or the handle of one freed in
     * the group (metadata: covered by the checksum) */
    if (pre_block(m))
        w_add(w, pre_data(w->h, m), pre_size(m->word), (st & ST_GFREE) ? pre_size(m->word) : 0u);
}

static uint32_t slot_base(const struct vnv_heap *h, uint32_t slot)
{
    return h->ckpt_off + slot * h->ckpt_cap;
}

/* Void the older checkpoint in the slot the next one goes to: from now on it may no longer
 * match storage (its homes are about to change), and a torn next checkpoint must not leave
 * it readable either. */
int ckpt_invalidate_other(struct vnv_heap *h)
{
    static const uint8_t zero[16];
    struct vnv_iovec iov = {zero, sizeof zero};
    int err = heap_writev(h, slot_base(h, 1u - h->slot), &iov, 1);
    if (!err)
        h->other_live = 0;
    return err;
}

int ckpt_write(struct vnv_heap *h, uint32_t flags)
{
    struct writer w;
    /* The target slot may still hold the checkpoint before the last one, intact (no home
     * was written since the last one, or mutate_begin would have voided it). Overwriting it
     * needs no invalidation first: the map and records come first in the body and the
     * checksum covers them, so a cut anywhere leaves it unreadable, while the last
     * checkpoint, in the other slot, stands. */
    uint32_t target = 1u - h->slot;
    nvmap_spare_drop(h); /* (the map it writes has no home kept for reuse) */
    w.h = h;
    w.base = slot_base(h, target);
    w.pos = w.batch_pos = VNV_CKPT_HEADER_SIZE;
    cksum_init(&w.sum);
    w.niov = w.nrec = 0;
    w.err = 0;
    w_add(&w, h->map, MAP_SAVED * h->map_words * 4u, 0);
    w.sum.a += h->map_sa; /* the map's words summed, as map_put keeps them (no pass here) */
    w.sum.b += MAP_SAVED * h->map_words + h->map_sb;
    /* Walk the slots starting just after an empty one (at most 3/4 are used): restoring the
     * records in this order re-inserts every probe cluster from its start, which puts every
     * entry back into exactly the slot it had. */
    uint32_t start = 0, nrec = 0, slots = h->index_mask + 1u;
    while (start < slots && h->index[start])
        start++;
    /* two runs of slots, (start, end) then [0, start]: a free slot costs a load and a branch */
    const uint16_t *ix = h->index;
    uint32_t used = h->index_used;
#if VNV_META_IS_RECORD
    /* A plain object's record (and its dirty data behind it) is one piece: queued here
     * as w_record would queue it, with the writer's hot fields in locals (the writer itself
     * lives in memory: w_flush takes its address); anything else goes through w_record. */
    unsigned niov = w.niov;
    uint32_t pos = w.pos, cap = h->ckpt_cap;
    struct cksum sum = w.sum;
#define W_SYNC() (w.niov = niov, w.pos = pos, w.sum = sum)
#define W_LOAD() (niov = w.niov, pos = w.pos, sum = w.sum)
#else
#define W_SYNC() ((void)0)
#define W_LOAD() ((void)0)
#endif
    for (uint32_t half = 0; half < 2u; half++) {
        const uint16_t *slot = half ? ix : ix + start + 1u;
        const uint16_t *end = half ? ix + (start < slots ? start + 1u : slots) : ix + slots;
        for (; slot < end && nrec < used && !w.err; slot++) {
            if (!*slot)
                continue;
            struct meta *m = unit_meta(h, *slot);
            nrec++;
#if VNV_META_IS_RECORD
            uint32_t st = m->word, len = VNV_CKPT_RECORD_SIZE;
            if (!(st & ST_PARTIAL) && !pre_block(m) && !sum.n) {
                if (st & ST_DIRTY)
                    len += meta_size(m);
                if (len <= cap - pos) {
                    w.iov[niov].base = m;
                    w.iov[niov].len = len;
                    sum_record(&sum, (const uint32_t *)(const void *)m);
                    pos += len;
                    if (++niov == IOV_MAX) {
                        W_SYNC();
                        w_flush(&w);
                        W_LOAD();
                    }
                    continue;
                }
            }
#endif
            W_SYNC();
            w_record(&w, m);
            if (w.niov == IOV_MAX) /* the fast path above stores before it checks */
                w_flush(&w);
            W_LOAD();
        }
    }
    W_SYNC();
#undef W_SYNC
#undef W_LOAD
    uint32_t nundo = IN_GROUP(h) ? h->undo_count : 0u; /* the group's undo log, newest first */
    for (uint32_t i = 0, e = h->undo; i < nundo && !w.err; i++) {
        const uint8_t *p = undo_entry(h, e);
        if (w.niov + 1u > IOV_MAX)
            w_flush(&w);
        w_add(&w, p + 4, UNDO_CKPT_HDR + get_le16(p + 12), UNDO_CKPT_HDR + get_le16(p + 12));
        e = get_le16(p);
    }
    w_flush(&w);
    int err = w.err ? w.err : vnv_storage_sync(&h->storage); /* body durable before header */
    if (err)
        return err;
    uint64_t groot = IN_GROUP(h) ? h->group_root : h->root;
    uint32_t hw[VNV_CKPT_HEADER_SIZE / 4u] = { /* FORMAT.md 2.1; the checksum is 0 */
        CKPT_MAGIC, h->seq + 1u, w.pos, 0, nrec,
        flags | (IN_GROUP(h) ? CKPT_FLAG_GROUP : 0u) | nundo << 16,
        (uint32_t)h->root, (uint32_t)(h->root >> 32),
        (uint32_t)h->alloc_count, (uint32_t)(h->alloc_count >> 32),
        (uint32_t)groot, (uint32_t)(groot >> 32)};
    uint8_t *hdr = (uint8_t *)hw;
#if !VNV_META_IS_RECORD /* (little-endian machines hold the words in the format's order) */
    for (uint32_t i = 0; i < VNV_CKPT_HEADER_SIZE / 4u; i++)
        put_le32(hdr + 4u * i, hw[i]); /* each word to its little-endian bytes, in place */
#endif
    cksum_add(&w.sum, hdr, VNV_CKPT_HEADER_SIZE);
    put_le32(hdr + 12, cksum_end(&w.sum));
    struct vnv_iovec iov = {hdr, VNV_CKPT_HEADER_SIZE};
    err = heap_writev(h, w.base, &iov, 1);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (err) {
        /* Whether the header reached the device is unknown (a failed sync; a write that
         * failed part way): void it, so that the last checkpoint stays the one a reset
         * finds and the protection of its homes stays right. If even that fails, the
         * heap cannot tell which of the two a reset finds (both are complete states),
         * nor protect both: it closes itself. */
        memset(hdr, 0, VNV_CKPT_HEADER_SIZE);
        if (heap_writev(h, w.base, &iov, 1) || vnv_storage_sync(&h->storage))
            heap_die(h, 0);
        return err;
    }
    h->seq++;
    h->slot = (uint8_t)target;
    h->other_live = 1;
    nvmap_commit(h);
    h->st.persists++;
    return VNV_OK;
}

/* ---- restoring ----------------------------------------------------------------------------------- */

/* Sequential reader over a checkpoint slot through the arena (which a restore rebuilds
 * anyway): large reads, whatever the record sizes. */
struct reader {
    struct vnv_heap *h;
    uint32_t base, pos, len;   /* slot offset; next byte; end */
    uint32_t have, at;         /* bytes buffered in the arena; their slot position */
    struct cksum sum;
    int err;
};

static const uint8_t *rd_get(struct reader *r, uint32_t *n)
{
    if (r->pos < r->at || r->pos >= r->at + r->have) {
        uint32_t want = r->len - r->pos < r->h->arena_size ? r->len - r->pos : r->h->arena_size;
        r->err = heap_read(r->h, r->base + r->pos, r->h->arena, want);
        r->at = r->pos;
        r->have = r->err ? 0 : want;
        if (r->err)
            return NULL;
    }
    uint32_t off = r->pos - r->at, left = r->have - off;
    if (*n > left)
        *n = left;
    return r->h->arena + off;
}

/* Consume n bytes: into dst (may be NULL) and/or the checksum. */
static int rd_take(struct reader *r, void *dst, uint32_t n, int meta)
{
    if (n > r->len - r->pos)
        return VNV_ERR_CORRUPT;
    for (uint32_t guard = 0; n && guard <= r->len; guard++) {
        uint32_t k = n;
        const uint8_t *p = rd_get(r, &k);
        if (!p)
            return r->err;
        if (meta)
            cksum_add(&r->sum, p, k);
        if (dst) {
            memcpy(dst, p, k);
            dst = (uint8_t *)dst + k;
        }
        r->pos += k;
        n -= k;
    }
    return VNV_OK;
}

/* Dirty bytes of a partial object from its bitmap (bits past the last block ignored
 * here: vnv_check and the restore reject them). */
static uint32_t runs_bytes(const uint8_t *bm, uint32_t size, uint32_t st)
{
    uint32_t bs = part_block(st), nb = part_nblocks(size, st), total = 0;
    for (uint32_t b = 0; b < nb; b++)
        if (bm[b >> 3] & (1u << (b & 7u)))
            total += (b + 1u) * bs <= size ? bs : size - b * bs;
    return total;
}

/* The words of a checkpoint header (FORMAT.md 2.1), decoded once. */
#define HDR_WORDS (VNV_CKPT_HEADER_SIZE / 4u)

/* Verify the checkpoint in `slot`: header, then a streaming pass over map, records and
 * bitmaps (checksum) that skips the data. hw receives the header's words. */
static int ckpt_verify(struct vnv_heap *h, uint32_t slot, uint32_t *hw)
{
    uint8_t hdr[VNV_CKPT_HEADER_SIZE];
    int err = heap_read(h, slot_base(h, slot), hdr, VNV_CKPT_HEADER_SIZE);
    if (err)
        return err;
    le32_words(hw, hdr, HDR_WORDS);
    uint32_t len = hw[2], nrec = hw[4];
    uint32_t mapb = MAP_SAVED * h->map_words * 4u;
    if (hw[0] != CKPT_MAGIC || len < VNV_CKPT_HEADER_SIZE + mapb || len > h->ckpt_cap ||
        nrec > (len - VNV_CKPT_HEADER_SIZE - mapb) / VNV_CKPT_RECORD_SIZE)
        return VNV_ERR_CORRUPT;
    struct reader r = {h, slot_base(h, slot), VNV_CKPT_HEADER_SIZE, len, 0, 0, {0, 0, 0, 0}, 0};
    cksum_init(&r.sum);
    err = rd_take(&r, NULL, mapb, 1);
    uint8_t rec[VNV_CKPT_RECORD_SIZE], bm[64];
    /* The parse follows the format's bits (ST_F_*), which the minimal profile parses too:
     * it refuses a checkpoint that uses what it leaves out only once the checkpoint is
     * known to be intact, so a torn one still gives way to the older slot. */
    int left_out = VNV_MINIMAL && (hw[5] & (CKPT_FLAG_GROUP | 0xFFFF0000u));
    for (uint32_t i = 0; i < nrec && !err; i++) {
        err = rd_take(&r, rec, sizeof rec, 1);
        uint32_t word = get_le32(rec + 8), st = word & ST_MASK, size = word >> ST_BITS;
        if (err || size == 0)
            return err ? err : VNV_ERR_CORRUPT;
        left_out |= (st & ST_LEFT_OUT) || (VNV_MINIMAL && get_le16(rec + 14));
        uint32_t data = (st & ST_DIRTY) ? size : 0;
        if (st & ST_F_PARTIAL) { /* bitmap in pieces of 64 bytes: 512 blocks each */
            uint32_t nbm = (part_nblocks(size, st) + 7u) / 8u;
            data = 0;
            for (uint32_t done = 0; done < nbm && !err; done += sizeof bm) {
                uint32_t n = nbm - done < sizeof bm ? nbm - done : (uint32_t)sizeof bm;
                err = rd_take(&r, bm, n, 1);
                uint32_t part = size - done * 8u * part_block(st);
                if (part > n * 8u * part_block(st))
                    part = n * 8u * part_block(st);
                if (!err)
                    data += runs_bytes(bm, part, st);
            }
        }
        if (!err)
            err = rd_take(&r, NULL, data, 0);
        if (!err && get_le16(rec + 14) && get_le16(rec + 14) != PRE_LOG) /* a pre block */
            err = rd_take(&r, NULL, (st & ST_F_GFREE) ? 8u : size, (st & ST_F_GFREE) != 0);
    }
    uint32_t nundo = hw[5] >> 16;
    if (nundo && !(hw[5] & CKPT_FLAG_GROUP))
        return VNV_ERR_CORRUPT; /* an undo log outside a group */
    for (uint32_t i = 0; i < nundo && !err; i++) {
        err = rd_take(&r, rec, UNDO_CKPT_HDR, 1);
        if (!err && get_le16(rec + 8) > UNDO_MAX_BYTES)
            return VNV_ERR_CORRUPT;
        if (!err)
            err = rd_take(&r, NULL, get_le16(rec + 8), 1);
    }
    if (err)
        return err;
    put_le32(hdr + 12, 0); /* the header as summed: checksum 0 (hw[3] keeps it) */
    cksum_add(&r.sum, hdr, sizeof hdr);
    if (r.pos != len || cksum_end(&r.sum) != hw[3])
        return VNV_ERR_CORRUPT;
    return left_out ? VNV_ERR_VERSION : VNV_OK;
}

/* Read [*pos, *pos + len) of the slot into dst, staying inside `limit`. */
static int ck_read(struct vnv_heap *h, uint32_t base, uint32_t *pos, uint32_t limit, void *dst,
                   uint32_t len)
{
    if (len > limit - *pos)
        return VNV_ERR_CORRUPT;
    int err = heap_read(h, base + *pos, dst, len);
    *pos += len;
    return err;
}

/* 1 if a block of `size` bytes at arena offset `off` lies inside this buffer's arena. A
 * checkpoint written by a run with a larger buffer (vnv_open accepts one) can place blocks
 * beyond it: NOMEM, like an index too small, not damage. */
static int fits_arena(const struct vnv_heap *h, uint32_t off, uint32_t size)
{
    return off < h->arena_size && h->ram->footprint(RAM_ST(h), size) <= h->arena_size - off;
}

/* At open, a homed record against the header of its home. Both carry a checksum, so a
 * disagreement (another handle at the unit, another size or block layout) is no torn or
 * decayed write but a forged or broken image: CORRUPT, before anything trusts the record's
 * size for an offset in the home. 1: the header itself is damaged; the object is left to
 * its record (restore_one). */
static int home_agrees(struct vnv_heap *h, uint64_t id, uint32_t size, uint32_t st)
{
    struct objhdr oh;
    int err = read_objhdr(h, id, &oh);
    if (err)
        return err == VNV_ERR_CORRUPT ? 1 : err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
    return oh.size == size && oh.status == (st & (ST_PARTIAL | ST_PSHIFT_MASK))
               ? VNV_OK
               : VNV_ERR_CORRUPT;
}

/* Re-create one resident object from its record. */
static int restore_one(struct vnv_heap *h, uint32_t base, uint32_t *pos, uint32_t len,
                       int keep_pins, int grouped, uint32_t *skipped)
{
    uint8_t r[VNV_CKPT_RECORD_SIZE];
    int err = ck_read(h, base, pos, len, r, sizeof r);
    if (err)
        return err;
    uint64_t id = get_le64(r);
    uint32_t word = get_le32(r + 8), unit = get_le16(r + 12);
    uint32_t pre = VNV_MINIMAL ? 0u : get_le16(r + 14); /* (ckpt_verify refused any there) */
    uint32_t st = word & ST_MASK, size = word >> ST_BITS, u = id_unit(h, id);
    if (unit == 0 || (pre == PRE_LOG && (!(st & ST_GROUP) || (st & (ST_GNEW | ST_GFREE)))) ||
        (pre && pre != PRE_LOG &&
         (!(st & ST_GROUP) || !(st & ST_DIRTY) || (st & ST_GNEW) ||
          ((st & ST_PARTIAL) && !(st & ST_GFREE)))) ||
        (id_tag(h, id) == 0) != ((st & ST_GFREE) != 0) || id_tag(h, id) > h->alloc_count ||
        u >= h->units ||
        !bit_get(nvmap(h, MAP_START), u) || ((st & ST_GMASK) && !(st & ST_GROUP)) ||
        ((st & ST_GMASK) && !grouped) || /* a member outside a group (a pre needs ST_GROUP) */
        idx_find(h, u) >= 0 || size == 0 ||
        ((st & ST_PSHIFT_MASK) && !(st & ST_PARTIAL)) ||
        nvmap_need(h, size) > nvmap_extent(h, u) * h->unit)
        return VNV_ERR_CORRUPT;
    if (h->index_used >= h->index_cap)
        return VNV_ERR_NOMEM; /* index smaller than when the checkpoint was taken */
    /* (a resume rebuilds from the checkpoint this run wrote: no header read there) */
    int hdr = !keep_pins && (st & ST_HOMED) && !(st & ST_GFREE) ? home_agrees(h, id, size, st)
                                                                 : VNV_OK;
    if (hdr < 0)
        return hdr;
    uint32_t off = (unit - 1u) * 8u, need = block_need(size, st);
    if (!fits_arena(h, off, need) ||
        (pre && pre != PRE_LOG && !fits_arena(h, (pre - 1u) * 8u, pre_size(st | size << ST_BITS))))
        return VNV_ERR_NOMEM; /* placed by a run with a larger buffer (checksummed: not damage) */
    err = h->ram->alloc_at(RAM_ST(h), off, need);
    if (err)
        return err == VNV_ERR_NOMEM ? VNV_ERR_NOMEM : VNV_ERR_CORRUPT;
    struct meta *m = unit_meta(h, unit);
    m->id = id;
    m->self = (uint16_t)unit;
    m->pre = 0;
    m->word = size << ST_BITS | (keep_pins ? st : st & ~ST_PINS);
    idx_insert(h, u, unit);
    uint32_t cur = (uint32_t)bit_get(nvmap(h, MAP_CUR), u);
    uint32_t bm = bitmap_bytes(size, st), charged = VNV_CKPT_RECORD_SIZE + bm, pre_bytes = 0;
    if (!(st & ST_HOMED) && !(st & ST_DIRTY))
        err = VNV_ERR_CORRUPT; /* never written home, so all of it must be in here */
    if (err) {
    } else if (ghost(st) || (st & ST_PARTIAL)) { /* both: the bitmap first */
        memset(meta_bitmap(m), 0, pad8(bm));
        err = ck_read(h, base, pos, len, meta_bitmap(m), bm);
    }
    if (err) {
    } else if (ghost(st)) { /* freed in the group, its value at home: no data in RAM */
        for (uint32_t k = 0; !err && k < bm; k++)
            err = meta_bitmap(m)[k] ? VNV_ERR_CORRUPT : VNV_OK; /* a clean ghost's blocks */
    } else if (st & ST_PARTIAL) {
        if (st & ST_HOMED)
            err = slot_load(h, u, size, cur, meta_data(m));
        uint32_t b = 0, run[1][2];
        for (uint32_t guard = 0; !err && guard <= size && dirty_runs(m, &b, run, 1); guard++) {
            err = ck_read(h, base, pos, len, meta_data(m) + run[0][0], run[0][1]);
            charged += run[0][1];
        }
        if (!err && !(st & ST_HOMED) && charged != VNV_CKPT_RECORD_SIZE + bm + size)
            err = VNV_ERR_CORRUPT; /* not homed: every block must be in the checkpoint */
        if (!err && (charged > VNV_CKPT_RECORD_SIZE + bm) != ((st & ST_DIRTY) != 0))
            err = VNV_ERR_CORRUPT; /* the flag and the bitmap disagree (its block's size) */
    } else if (st & ST_DIRTY) {
        err = ck_read(h, base, pos, len, meta_data(m), size);
        charged += size;
    } else {
        err = hdr ? VNV_ERR_CORRUPT : slot_load(h, u, size, cur, meta_data(m));
        if (err == VNV_ERR_CORRUPT && !keep_pins) {
            /* a damaged header, or VNV_DATA_CRC found rot in a clean object: leave it on
             * storage, where every access reports it, rather than refuse the whole heap */
            idx_remove(h, u);
            (void)h->ram->free(RAM_ST(h), off, need);
            *skipped += charged;
            return VNV_OK;
        }
    }
    if (!err && pre == PRE_LOG)
        m->pre = PRE_LOG; /* its value from before: the undo log's entries put back */
    if (!err && pre && pre != PRE_LOG) { /* the member's pre block, at its arena place */
        pre_bytes = pre_size(st | size << ST_BITS);
        err = h->ram->alloc_at(RAM_ST(h), (pre - 1u) * 8u, pre_bytes);
        if (err)
            err = err == VNV_ERR_NOMEM ? VNV_ERR_NOMEM : VNV_ERR_CORRUPT;
        else
            m->pre = pre;
        if (!err)
            err = ck_read(h, base, pos, len, pre_data(h, m), pre_bytes);
        charged += pre_bytes; /* charged, but not dirty data */
    }
    charge(h, charged);
    h->dirty_data += charged - VNV_CKPT_RECORD_SIZE - bm - pre_bytes;
    return err;
}

/* Re-create one entry of the group's undo log at its arena place, appended after `*tail`
 * (the checkpoint lists them newest first, the order they are linked in). */
static int restore_undo(struct vnv_heap *h, uint32_t base, uint32_t *pos, uint32_t len,
                        uint32_t *tail)
{
    uint8_t r[UNDO_CKPT_HDR];
    int err = ck_read(h, base, pos, len, r, sizeof r);
    if (err)
        return err;
    uint32_t n = get_le16(r + 8), self = get_le16(r + 10);
    if (n > UNDO_MAX_BYTES || self == 0)
        return VNV_ERR_CORRUPT;
    if (!fits_arena(h, (self - 1u) * 8u, UNDO_HDR + n))
        return VNV_ERR_NOMEM; /* placed by a run with a larger buffer */
    err = h->ram->alloc_at(RAM_ST(h), (self - 1u) * 8u, UNDO_HDR + n);
    if (err)
        return err == VNV_ERR_NOMEM ? VNV_ERR_NOMEM : VNV_ERR_CORRUPT;
    uint8_t *e = undo_entry(h, self);
    memset(e, 0, 4);
    memcpy(e + 4, r, sizeof r);
    err = ck_read(h, base, pos, len, e + UNDO_HDR, n);
    if (*tail)
        put_le16(undo_entry(h, *tail), self);
    else
        h->undo = (uint16_t)self;
    *tail = self;
    h->undo_count++;
    charge(h, UNDO_CKPT_HDR + n);
    return err;
}

/* The root must name a live object exactly: its unit a start, and the resident record or
 * the header there carrying the same handle. */
static int root_valid(struct vnv_heap *h, uint64_t root)
{
    uint32_t u = id_unit(h, root);
    if (u >= h->units || id_tag(h, root) == 0 || !bit_get(nvmap(h, MAP_START), u))
        return VNV_ERR_CORRUPT;
    const struct meta *m = idx_lookup(h, u);
    if (m)
        return m->id == root ? VNV_OK : VNV_ERR_CORRUPT;
    struct objhdr oh;
    int err = read_objhdr(h, root, &oh);
    return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
}

/* Rebuild the RAM buffer (index, NV map, arena) from the checkpoint whose header (words hw)
 * verified in h->slot. */
static int ckpt_apply(struct vnv_heap *h, const uint32_t *hw, int keep_pins)
{
    uint32_t base = slot_base(h, h->slot), mapb = MAP_SAVED * h->map_words * 4u;
    canary_write(h);
    memset(h->index, 0, (h->index_mask + 1u) * 2u);
    h->index_used = 0;
    h->used = VNV_CKPT_HEADER_SIZE;
    h->dirty_data = 0; /* policy state lives in the heap struct: kept (open resets it) */
    nvmap_clear(h);
    h->alloc_count = words64(hw, 8); /* no tag in the checkpoint may be newer */
    int err = h->ram->init(RAM_ST(h), h->arena, h->arena_size);
    if (!err)
        err = heap_read(h, base + VNV_CKPT_HEADER_SIZE, h->map, mapb);
    if (!err)
        err = nvmap_validate(h);
    nvmap_sums(h, &h->map_sa, &h->map_sb);
    uint32_t len = hw[2], nrec = hw[4], flags = hw[5];
    uint32_t pos = VNV_CKPT_HEADER_SIZE + mapb;
    uint32_t skipped = 0;
    int grouped = (flags & CKPT_FLAG_GROUP) != 0; /* members only in there */
    for (uint32_t i = 0; i < nrec && !err; i++)
        err = restore_one(h, base, &pos, len, keep_pins, grouped, &skipped);
    h->undo = h->undo_count = 0;
    uint32_t nundo = VNV_MINIMAL ? 0u : flags >> 16, tail = 0;
    for (uint32_t i = 0; i < nundo && !err; i++) /* the group's undo log, same order */
        err = restore_undo(h, base, &pos, len, &tail);
    if (!err && (pos != len || h->used + skipped + mapb != len || h->used > h->max_dirty))
        err = VNV_ERR_CORRUPT;
    if (!err && h->ram->check && h->ram->check(RAM_ST(h)))
        err = VNV_ERR_CORRUPT;
    int rollback = !keep_pins && grouped;
    /* This checkpoint is the state to protect, as it is on storage: the homes a rollback
     * frees below stay unusable until the next checkpoint, for until then a reset reopens
     * this one, whose rollback reads them again (undo entries, headers) */
    nvmap_commit(h);
    if (!err && rollback)
        err = group_rollback(h); /* a restart sees the state before the open group */
    uint64_t root = words64(hw, rollback ? 10u : 6u);
    if (!err && root)
        err = root_valid(h, root);
    if (!err && rollback)
        err = undo_write(h); /* storage changes last: a refused open has changed nothing */
    if (err)
        return err;
    h->root = root;
    h->seq = hw[1];
    return VNV_OK;
}

int ckpt_restore(struct vnv_heap *h, int keep_pins)
{
    uint32_t hw[HDR_WORDS];
    int err = ckpt_verify(h, h->slot, hw);
    return err ? err : ckpt_apply(h, hw, keep_pins);
}

/* At open: the newer of the two slots; the older one only if the newer does not verify
 * (a checkpoint cut while it was written). A newer checkpoint that verifies but does not
 * apply is damage: CORRUPT, never a silent fall-back to an older state. */
int ckpt_open(struct vnv_heap *h)
{
    uint32_t hw[HDR_WORDS], magic[2], seq[2];
    for (uint32_t s = 0; s < 2u; s++) { /* each slot's magic and sequence number */
        uint8_t hd[VNV_CKPT_HEADER_SIZE];
        int err = heap_read(h, slot_base(h, s), hd, VNV_CKPT_HEADER_SIZE);
        if (err)
            return err;
        magic[s] = get_le32(hd) == CKPT_MAGIC;
        seq[s] = get_le32(hd + 4);
    }
    uint32_t first = (magic[1] && (!magic[0] || (int32_t)(seq[1] - seq[0]) > 0)) ? 1u : 0u;
    h->other_live = 1; /* whatever the other slot holds is voided before homes change */
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t slot = k ? 1u - first : first;
        int err = ckpt_verify(h, slot, hw);
        if (err == VNV_ERR_CORRUPT)
            continue;
        if (err)
            return err;
        h->slot = (uint8_t)slot;
        return ckpt_apply(h, hw, 0);
    }
    return VNV_ERR_CORRUPT;
}

/* ---- the power-failure path ------------------------------------------------------------------------ */

/* One checkpoint round: write (unless storage already holds exactly this state), callback,
 * restore if RAM was lost. */
static int persist_round(struct vnv_heap *h, int write)
{
    dbg("persist was triggered\n");
    h->pending = 0; /* requests until now are answered by this round's callback */
    int err = write ? ckpt_write(h, 0) : VNV_OK;
    h->pending = 0; /* the state did not change while writing: same answer */
    if (!write)
        h->st.rounds_unwritten++;
    else if (err)
        h->st.persist_errors++;
    /* (a failed write may have closed it: heap_die) */
    int lost = 0, was_open = is_open(h) || heap_is_dead(h);
    const struct vnv_heap *self = h->self;
    if (h->on_persist) {
        h->st.callbacks++;
        /* The callback may interrupt any heap call: the heap is not open to it (its calls
         * see INVAL), though vnv_persist_all still finds it (IN_CALLBACK), and vnv_is_open
         * answers true there. */
        if (was_open)
            h->self = IN_CALLBACK(h);
        lost = h->on_persist(h->user, err, h->buf, h->buf_size);
        if (was_open && h->self == IN_CALLBACK(h)) /* (not abandoned meanwhile) */
            h->self = self;
    }
    if (lost || !canary_ok(h)) {
        /* After a failed write storage holds an older state only: resuming from it would
         * silently undo what the program still believes done. */
        int rerr = err ? err : ckpt_restore(h, 1);
        if (rerr) {
            /* RAM is gone and cannot be rebuilt: refuse further use, and leave the
             * registry, so that its storage can be opened again (in another control
             * block too) and no later request takes this heap */
            heap_die(h, 1);
            if (!err)
                err = rerr;
        } else {
            h->st.restores++;
        }
        dbg("restore finished\n");
    }
    return err;
}

/*
 * A request that arrives once the callback has started (power failed again while the
 * firmware waited, or during the restore) needs a callback of its own: another round. No
 * application code ran in between, so storage already holds exactly this state and the
 * round only calls the callback (and restores). The check is repeated after `busy`
 * drops, so no request is left pending in the window before the decrement. At most
 * VNV_PERSIST_ROUNDS rounds: a request still left (interrupts arriving faster than a
 * restore completes, i.e. the supply never recovers) runs at the next section's end.
 */

int persist_now(struct vnv_heap *h)
{
    int err = VNV_OK, written = 0;
    for (int round = 0; round < VNV_PERSIST_ROUNDS && is_open(h); round++) {
        h->busy++; /* a nested interrupt now defers instead of re-entering */
        struct vnv_heap *outer = in_round; /* another heap's round, when nested */
        in_round = h;
        int e = persist_round(h, !written);
        in_round = outer;
        written = !e;
        if (e && !err)
            err = e;
        h->busy--;
        if (h->busy || !h->pending)
            break;
    }
    if (heap_is_dead(h) && !h->busy && h->pending) {
        h->pending = 0; /* a request during that round's callback or restore: its own */
        persist_answer_closed(h, err ? err : VNV_ERR_IO); /* callback, with the failure */
    }
    return is_open(h) || err ? err : VNV_ERR_INVAL;
}

int persist_deferred(struct vnv_heap *h)
{
    dbg("persist was queued! persist now...\n");
    return persist_now(h);
}

int vnv_persist_all(void)
{
    int ret = VNV_OK, deferred = 0;
    for (int i = 0; i < VNV_MAX_HEAPS; i++) {
        struct vnv_heap *h = registry[i];
        if (!is_live(h))
            continue;
        if (h->busy) {
            h->pending = 1;
            h->st.deferred++;
            deferred = 1;
            dbg("cannot acquire lock. persist queued...\n");
            continue;
        }
        int err = persist_now(h);
        if (err && !ret)
            ret = err;
    }
    return ret ? ret : (deferred ? VNV_PERSIST_DEFERRED : VNV_OK);
}

/* 1 if another registered heap uses storage `s` (same ctx and read function) or a byte of
 * [buf, buf + len): two heaps there would overwrite each other. */
int registry_taken(const struct vnv_heap *h, const struct vnv_storage *s, const void *buf,
                   size_t len)
{
    for (int i = 0; i < VNV_MAX_HEAPS; i++) {
        const struct vnv_heap *o = registry[i];
        if (!o || o == h)
            continue;
        if (o->storage.ctx == s->ctx && o->storage.read == s->read)
            return 1;
        if (ranges_overlap((uintptr_t)buf, len, (uintptr_t)o->buf, o->buf_size))
            return 1; /* a byte of its RAM buffer */
    }
    return 0;
}

int persist_running(const struct vnv_heap *h) { return h && h == in_round; }

/* The callback for a power-fail request deferred into a section at whose end the heap
 * closed (vnv_close, or an abort that failed part way), with what storage now holds:
 * `status`. Run as a round's callback runs, so the same calls are refused there (format,
 * open, close: BUSY; the rest: INVAL) and vnv_is_open answers true. */
void persist_answer_closed(struct vnv_heap *h, int status)
{
    if (!h->on_persist)
        return;
    struct vnv_heap *outer = in_round;
    const struct vnv_heap *was = h->self; /* NULL (closed) or the dead mark */
    in_round = h;
    h->self = IN_CALLBACK(h);
    h->st.callbacks++;
    (void)h->on_persist(h->user, status, h->buf, h->buf_size);
    h->self = was;
    in_round = outer;
}

/* What `self` points to once the heap closed itself in the middle of a call (heap_die):
 * an address no control block has (a byte, not a whole struct, in flash). */
static _Alignas(_Alignof(struct vnv_heap)) const uint8_t heap_dead_mark[1];
#define HEAP_DEAD ((const struct vnv_heap *)(const void *)heap_dead_mark)

int heap_is_dead(const struct vnv_heap *h) { return h->self == HEAP_DEAD; }

/* The heap can no longer go on (its RAM was lost and cannot be rebuilt; a checkpoint header
 * it cannot void; a rollback that failed part way), possibly while the program is inside
 * one of its calls, which goes on after the interrupt or section that found it. It leaves
 * the registry and is no longer open, and from here the storage calls of that call fail
 * (heap_read, heap_writev: INVAL): storage keeps the last checkpoint, whatever the call
 * goes on to do. With its RAM lost, that RAM is made an empty heap with no room: the
 * call's pointers then meet zeroed metadata and an empty index, not the lost buffer's
 * content, and it gets no new block. */
void heap_die(struct vnv_heap *h, int ram_lost)
{
    registry_remove(h);
    h->self = HEAP_DEAD;
    if (!ram_lost)
        return;
    memset(h->index, 0, (h->index_mask + 1u) * 2u);
    h->index_used = 0;
    memset(h->arena, 0, h->arena_size);
    /* an allocator with no room: the running call gets no block that overlaps one it
     * still points into, and its frees are refused */
    (void)h->ram->init(RAM_ST(h), h->arena, 0);
    h->undo = 0;
    h->undo_count = 0;
}

int vnv_checkpoint(struct vnv_heap *h)
{
    if (!is_open(h) || h->busy)
        return VNV_ERR_INVAL;
    return persist_now(h);
}

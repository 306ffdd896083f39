/*
 * checkpoint.c - writing a checkpoint (the power-failure path), restoring the RAM buffer
 * from one (resume and open), and the registry vnv_persist_all() walks.
 *
 * Checkpoint region at h->ckpt_off (docs/FORMAT.md):
 *   header (32 B): magic, seq, len, crc, nrec, root, next_tag, flags
 *   per resident object: record (8 B: id, arena unit, status)
 *                        [bitmap bytes, partial objects] [dirty bytes]
 * The body is written first, in batches of VNV_PERSIST_BATCH objects (one gather write
 * each), then the header; the CRC covers body and header, so a checkpoint torn anywhere
 * is detected. Writing never modifies the RAM buffer: the program continues untouched
 * when power does not actually fail.
 */
#include "internal.h"

#define CKPT_MAGIC 0x43564E56u /* "VNVC" */
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

void registry_add(struct vnv_heap *h)
{
    for (int i = 0; i < VNV_MAX_HEAPS; i++)
        if (registry[i] == h)
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
    uint32_t pos, batch_pos, crc;
    unsigned niov, nrec;
    int err;
    struct vnv_iovec iov[IOV_MAX];
    uint8_t rec[VNV_PERSIST_BATCH][VNV_CKPT_RECORD_SIZE];
};

static void w_flush(struct writer *w)
{
    if (w->niov && !w->err)
        w->err = heap_writev(w->h, w->h->ckpt_off + w->batch_pos, w->iov, w->niov);
    w->batch_pos = w->pos;
    w->niov = 0;
    w->nrec = 0;
}

static void w_add(struct writer *w, const void *p, uint32_t len)
{
    if (w->niov == IOV_MAX)
        w_flush(w);
    if (len > w->h->ckpt_cap - w->pos) {
        w->err = VNV_ERR_CORRUPT; /* budget invariant broken: never write past the region */
        return;
    }
    w->iov[w->niov].base = p;
    w->iov[w->niov++].len = len;
    w->crc = vnv_crc32(w->crc, p, len);
    w->pos += len;
}

int ckpt_write(struct vnv_heap *h, uint32_t flags)
{
    struct writer w;
    w.h = h;
    w.pos = w.batch_pos = VNV_CKPT_HEADER_SIZE;
    w.crc = 0;
    w.niov = w.nrec = 0;
    w.err = 0;
    /* From here on storage may hold a valid checkpoint (this one, or the old one if this
     * fails early): the next home write must void it first, whatever happens now. */
    h->ckpt_live = 1;
    /* Walk the slots starting just after an empty one (at most 3/4 are used): restoring the
     * records in this order re-inserts every probe cluster from its start, which puts every
     * entry back into exactly the slot it had. */
    uint32_t start = 0, nrec = 0;
    while (start <= h->index_mask && h->index[start])
        start++;
    for (uint32_t k = 1; k <= h->index_mask + 1u && !w.err; k++) {
        struct meta *m = idx_meta(h, (start + k) & h->index_mask);
        if (!m)
            continue;
        if (w.nrec == VNV_PERSIST_BATCH || w.niov + 2u > IOV_MAX)
            w_flush(&w);
        uint8_t *r = w.rec[w.nrec++];
        uint32_t st = m->word & ST_MASK, size = meta_size(m);
        put_le32(r, m->id);
        put_le16(r + 4, (uint32_t)((uint8_t *)m - h->arena) / 8u + 1u);
        put_le16(r + 6, st);
        w_add(&w, r, VNV_CKPT_RECORD_SIZE);
        nrec++;
        if (st & ST_PARTIAL) {
            w_add(&w, meta_bitmap(m), bitmap_bytes(size, st));
            uint32_t b = 0, run[1][2];
            for (uint32_t guard = 0; guard <= size && dirty_runs(m, &b, run, 1); guard++)
                w_add(&w, meta_data(m) + run[0][0], run[0][1]);
        } else if (st & ST_DIRTY) {
            w_add(&w, meta_data(m), size);
        }
    }
    w_flush(&w);
    if (w.err)
        return w.err;
    uint8_t hdr[VNV_CKPT_HEADER_SIZE];
    put_le32(hdr, CKPT_MAGIC);
    put_le32(hdr + 4, h->seq + 1u);
    put_le32(hdr + 8, w.pos);
    put_le32(hdr + 12, 0);
    put_le32(hdr + 16, nrec);
    put_le32(hdr + 20, h->root);
    put_le32(hdr + 24, h->next_tag);
    put_le32(hdr + 28, flags);
    for (uint32_t i = 0; i < VNV_FREE_CACHE; i++) { /* parked homes (docs/FORMAT.md 2.1) */
        put_le32(hdr + 32 + 8 * i, h->cache_home[i]);
        put_le32(hdr + 36 + 8 * i, h->cache_size[i]);
    }
    put_le32(hdr + 12, vnv_crc32(w.crc, hdr, sizeof hdr));
    struct vnv_iovec iov = {hdr, sizeof hdr};
    int err = heap_writev(h, h->ckpt_off, &iov, 1);
    if (!err)
        err = vnv_storage_sync(&h->storage);
    if (err)
        return err;
    h->seq++;
    h->ckpt_live = 1;
    h->st.persists++;
    return VNV_OK;
}

/* Zero magic, seq, len and crc: a later torn header write then always leaves a zero length
 * or a zero CRC behind, so an older checkpoint can never come back to life. */
int ckpt_invalidate(struct vnv_heap *h)
{
    static const uint8_t zero[16];
    struct vnv_iovec iov = {zero, sizeof zero};
    int err = heap_writev(h, h->ckpt_off, &iov, 1);
    if (!err)
        h->ckpt_live = 0;
    return err;
}

/* ---- restoring ----------------------------------------------------------------------------------- */

/* Read [off, off+len) of the checkpoint region into dst, staying inside `limit`. */
static int ck_read(struct vnv_heap *h, uint32_t *pos, uint32_t limit, void *dst, uint32_t len)
{
    if (len > limit - *pos)
        return VNV_ERR_CORRUPT;
    int err = heap_read(h, h->ckpt_off + *pos, dst, len);
    *pos += len;
    return err;
}

static int ckpt_verify(struct vnv_heap *h, uint8_t *hdr)
{
    int err = heap_read(h, h->ckpt_off, hdr, VNV_CKPT_HEADER_SIZE);
    if (err)
        return err;
    uint32_t len = get_le32(hdr + 8);
    if (get_le32(hdr) != CKPT_MAGIC || len < VNV_CKPT_HEADER_SIZE || len > h->ckpt_cap)
        return VNV_ERR_CORRUPT;
    /* The arena is rebuilt right after this, so it serves as the read buffer: a checkpoint
     * is verified in ceil(len / arena_size) reads, not one per 64 bytes. */
    uint32_t crc = 0;
    for (uint32_t pos = VNV_CKPT_HEADER_SIZE; pos < len;) {
        uint32_t n = len - pos < h->arena_size ? len - pos : h->arena_size;
        err = heap_read(h, h->ckpt_off + pos, h->arena, n);
        if (err)
            return err;
        crc = vnv_crc32(crc, h->arena, n);
        pos += n;
    }
    uint8_t tmp[VNV_CKPT_HEADER_SIZE];
    memcpy(tmp, hdr, sizeof tmp);
    put_le32(tmp + 12, 0);
    if (vnv_crc32(crc, tmp, sizeof tmp) != get_le32(hdr + 12))
        return VNV_ERR_CORRUPT;
    uint32_t tag = get_le32(hdr + 24);
    if (tag == 0 || tag > ID_TAG_MASK || get_le32(hdr + 16) > (len - VNV_CKPT_HEADER_SIZE) / 8u)
        return VNV_ERR_CORRUPT;
    return VNV_OK;
}

/* Re-create one resident object from its record. */
static int restore_one(struct vnv_heap *h, uint32_t *pos, uint32_t len, int keep_pins)
{
    uint8_t r[VNV_CKPT_RECORD_SIZE];
    int err = ck_read(h, pos, len, r, sizeof r);
    if (err)
        return err;
    uint32_t id = get_le32(r), unit = get_le16(r + 4), st = get_le16(r + 6);
    if (unit == 0 || (unit - 1u) * 8u >= h->arena_size || (st & ~ST_MASK) ||
        idx_find(h, id_key(id)) >= 0)
        return VNV_ERR_CORRUPT;
    if (h->index_used >= h->index_cap)
        return VNV_ERR_NOMEM; /* index smaller than when the checkpoint was taken */
    struct objhdr oh;
    err = read_objhdr(h, id, &oh);
    if (err)
        return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
    if ((st & (ST_PARTIAL | ST_PSHIFT_MASK)) != oh.status)
        return VNV_ERR_CORRUPT;
    uint32_t off = (unit - 1u) * 8u, need = data_offset(oh.size, st) + oh.size;
    err = h->ram->alloc_at(RAM_ST(h), off, need);
    if (err)
        return err == VNV_ERR_NOMEM ? VNV_ERR_NOMEM : VNV_ERR_CORRUPT;
    struct meta *m = unit_meta(h, unit);
    m->id = id;
    m->word = oh.size << ST_BITS | (keep_pins ? st : st & ~ST_PINS);
    idx_insert(h, id_key(id), unit);
    uint32_t home_data = id_home(id) + VNV_OBJ_HEADER_SIZE;
    uint32_t bm = bitmap_bytes(oh.size, st), charged = VNV_CKPT_RECORD_SIZE + bm;
    if (st & ST_PARTIAL) {
        memset(meta_bitmap(m), 0, pad8(bm));
        err = ck_read(h, pos, len, meta_bitmap(m), bm);
        if (!err)
            err = heap_read(h, home_data, meta_data(m), oh.size);
        uint32_t b = 0, run[1][2];
        for (uint32_t guard = 0; !err && guard <= oh.size && dirty_runs(m, &b, run, 1); guard++) {
            err = ck_read(h, pos, len, meta_data(m) + run[0][0], run[0][1]);
            charged += run[0][1];
        }
        if (charged > VNV_CKPT_RECORD_SIZE + bm)
            m->word |= ST_DIRTY;
        else
            m->word &= ~ST_DIRTY;
    } else if (st & ST_DIRTY) {
        err = ck_read(h, pos, len, meta_data(m), oh.size);
        charged += oh.size;
    } else {
        err = heap_read(h, home_data, meta_data(m), oh.size);
    }
    charge(h, charged);
    h->dirty_data += charged - VNV_CKPT_RECORD_SIZE - bm;
    return err;
}

int ckpt_restore(struct vnv_heap *h, int keep_pins)
{
    uint8_t hdr[VNV_CKPT_HEADER_SIZE];
    int err = ckpt_verify(h, hdr);
    if (err)
        return err;
    canary_write(h);
    memset(h->index, 0, (h->index_mask + 1u) * 2u);
    h->index_used = 0;
    h->used = VNV_CKPT_HEADER_SIZE;
    h->dirty_data = 0; /* policy state lives in the heap struct: kept (open resets it) */
    err = h->ram->init(RAM_ST(h), h->arena, h->arena_size);
    uint32_t len = get_le32(hdr + 8), nrec = get_le32(hdr + 16), pos = VNV_CKPT_HEADER_SIZE;
    for (uint32_t i = 0; i < nrec && !err; i++)
        err = restore_one(h, &pos, len, keep_pins);
    if (!err && (pos != len || h->used != len || h->used > h->max_dirty))
        err = VNV_ERR_CORRUPT;
    if (err)
        return err;
    h->root = get_le32(hdr + 20);
    h->next_tag = get_le32(hdr + 24);
    h->seq = get_le32(hdr + 4);
    for (uint32_t i = 0; i < VNV_FREE_CACHE; i++) {
        uint32_t home = get_le32(hdr + 32 + 8 * i), size = get_le32(hdr + 36 + 8 * i);
        if (size && (home < h->nv_off || (home & 3u) || size > h->nv_size))
            return VNV_ERR_CORRUPT;
        h->cache_home[i] = home;
        h->cache_size[i] = size;
    }
    h->ckpt_live = 1;
    return VNV_OK;
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
    int lost = 0;
    if (h->on_persist) {
        h->st.callbacks++;
        lost = h->on_persist(h->user, err, h->buf, h->buf_size);
    }
    if (lost || !canary_ok(h)) {
        int rerr = ckpt_restore(h, 1);
        if (rerr) {
            h->state = HS_BROKEN; /* RAM is gone and cannot be rebuilt: refuse further use */
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
    for (int round = 0; round < VNV_PERSIST_ROUNDS && h->state == HS_OPEN; round++) {
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
    return h->state == HS_OPEN || err ? err : VNV_ERR_INVAL;
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
        if (!h || h->state != HS_OPEN)
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

int registry_storage_taken(const struct vnv_heap *h, const struct vnv_storage *s)
{
    for (int i = 0; i < VNV_MAX_HEAPS; i++) {
        const struct vnv_heap *o = registry[i];
        if (o && o != h && o->storage.ctx == s->ctx && o->storage.read == s->read)
            return 1;
    }
    return 0;
}

int persist_running(const struct vnv_heap *h) { return h && h == in_round; }

int vnv_checkpoint(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN || h->busy)
        return VNV_ERR_INVAL;
    return persist_now(h);
}

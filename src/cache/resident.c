/*
 * resident.c - what the cache knows of one resident object: its dirty runs and bytes, what
 * it costs the checkpoint budget, and dropping or reloading its RAM copy. Used by the object
 * operations (access.c) and by the checkpoint (checkpoint.c).
 */
#include "../internal.h"

uint32_t dirty_runs(struct meta *m, uint32_t *block, uint32_t (*runs)[2], uint32_t max)
{
    uint32_t size = meta_size(m), st = m->word & ST_MASK;
    uint32_t bs = part_block(st), nb = part_nblocks(size, st), n = 0;
    const uint8_t *bm = meta_bitmap(m);
    uint32_t b = *block;
    while (b < nb && n < max) {
        uint32_t start = b;
        while (b < nb && (bm[b >> 3] & (1u << (b & 7u))))
            b++;
        if (b == start) { /* block b is clean */
            b++;
            continue;
        }
        uint32_t off = start * bs, end = b * bs < size ? b * bs : size;
        runs[n][0] = off;
        runs[n][1] = end - off;
        n++;
    }
    *block = b;
    return n;
}

uint32_t dirty_bytes_of(struct meta *m)
{
    uint32_t st = m->word & ST_MASK;
    if (!(st & ST_DIRTY))
        return 0;
    if (!(st & ST_PARTIAL))
        return meta_size(m);
    uint32_t total = 0, b = 0, run[1][2];
    while (dirty_runs(m, &b, run, 1))
        total += run[0][1];
    return total;
}

/* What the object adds to the next checkpoint: record, bitmap, dirty bytes and a group
 * member's pre-image. */
uint32_t charge_of(struct meta *m)
{
    return VNV_CKPT_RECORD_SIZE + bitmap_bytes(meta_size(m), m->word & ST_MASK) +
           dirty_bytes_of(m) + (pre_block(m) ? pre_size(m->word) : 0u);
}

/* Forget a group member's pre-image (the group ended, or it was restored or written home).
 * Call inside a critical section. */
void pre_drop(struct vnv_heap *h, struct meta *m)
{
    if (pre_block(m)) {
        uint32_t n = pre_size(m->word);
        (void)h->ram->free(RAM_ST(h), (m->pre - 1u) * 8u, n);
        h->used -= n;
    }
    m->pre = 0;
}

/* Drop the RAM copy of a resident object without writing anything (evict after its flush,
 * free, a group's rollback). Call inside a critical section. */
void drop_resident(struct vnv_heap *h, struct meta *m)
{
    uint32_t off = (uint32_t)((uint8_t *)m - h->arena), d = dirty_bytes_of(m);
    pre_drop(h, m); /* (its pre-image's charge; charge_of's share of it is 0 from here) */
    h->used -= VNV_CKPT_RECORD_SIZE + bitmap_bytes(meta_size(m), m->word & ST_MASK) + d;
    h->dirty_data -= d;
    idx_remove(h, id_key(h, m->id));
    (void)h->ram->free(RAM_ST(h), off, block_need(meta_size(m), m->word & ST_MASK));
}

/* Replace a resident homed object's RAM copy by its home's current slot: it is clean again
 * (a group member rolled back to the value before the group). */
int reload_home(struct vnv_heap *h, struct meta *m)
{
    uint32_t u = id_unit(h, m->id), size = meta_size(m), st = m->word & ST_MASK;
    int err = slot_load(h, u, size, (uint32_t)bit_get(nvmap(h, MAP_CUR), u), meta_data(m));
    if (err)
        return err;
    sec_enter(h);
    uint32_t d = dirty_bytes_of(m);
    if (st & ST_PARTIAL)
        memset(meta_bitmap(m), 0, bitmap_bytes(size, st));
    m->word &= ~ST_DIRTY;
    h->used -= d;
    h->dirty_data -= d;
    sec_leave(h);
    return VNV_OK;
}


/*
 * check.c - vnv_check (every invariant, O(heap)) and vnv_stats.
 */
#include "internal.h"

#define FAIL() return VNV_ERR_CORRUPT

/* Clean bytes in RAM must equal the home: compares [off, off+len) of the data. */
static int equal_home(struct vnv_heap *h, struct meta *m, uint32_t off, uint32_t len)
{
    uint8_t chunk[64];
    uint32_t home = id_home(m->id) + VNV_OBJ_HEADER_SIZE + off;
    const uint8_t *ram = meta_data(m) + off;
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < sizeof chunk ? len - done : (uint32_t)sizeof chunk;
        int err = heap_read(h, home + done, chunk, n);
        if (err)
            return err;
        if (memcmp(chunk, ram + done, n) != 0)
            FAIL();
        done += n;
    }
    return VNV_OK;
}

static int check_clean_equal(struct vnv_heap *h, struct meta *m)
{
    uint32_t st = m->word & ST_MASK, size = meta_size(m);
    if (!(st & ST_PARTIAL))
        return (st & ST_DIRTY) ? VNV_OK : equal_home(h, m, 0, size);
    const uint8_t *bm = meta_bitmap(m);
    uint32_t bs = part_block(st), nb = part_nblocks(size, st);
    for (uint32_t b = 0; b < nb; b++) {
        if (bm[b >> 3] & (1u << (b & 7u)))
            continue;
        uint32_t len = (b + 1u) * bs <= size ? bs : size - b * bs;
        int err = equal_home(h, m, b * bs, len);
        if (err)
            return err;
    }
    /* bits past the last block must be clear: they would be charged for nothing */
    for (uint32_t b = nb; b < bitmap_bytes(size, st) * 8u; b++)
        if (bm[b >> 3] & (1u << (b & 7u)))
            FAIL();
    return VNV_OK;
}

static int check_locked(struct vnv_heap *h);

/* The whole check is one critical section: a checkpoint requested meanwhile runs after it. */
int vnv_check(struct vnv_heap *h)
{
    if (!h || h->state != HS_OPEN)
        return VNV_ERR_INVAL;
    sec_enter(h);
    int err = check_locked(h);
    sec_leave(h);
    return err;
}

static int check_locked(struct vnv_heap *h)
{
    if (!canary_ok(h))
        FAIL();
    uint32_t used = VNV_CKPT_HEADER_SIZE, dirty = 0, count = 0, blocks = 0;
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        uint32_t e = h->index[s];
        if (!e)
            continue;
        if ((e - 1u) * 8u >= h->arena_size)
            FAIL();
        struct meta *m = unit_meta(h, e);
        uint32_t st = m->word & ST_MASK, size = meta_size(m);
        if ((m->id & ID_TAG_MASK) == 0 || size == 0 || idx_find(h, id_key(m->id)) != (int32_t)s)
            FAIL(); /* unreachable by lookup, or a duplicate home */
        uint32_t need = data_offset(size, st) + size;
        if ((e - 1u) * 8u + h->ram->footprint(RAM_ST(h), need) > h->arena_size)
            FAIL();
        if ((st & ST_WRITER) && (st & ST_READERS))
            FAIL(); /* many readers or one writer, never both */
        uint32_t d = dirty_bytes_of(m);
        if ((st & ST_PARTIAL) && ((d != 0) != ((st & ST_DIRTY) != 0)))
            FAIL();
        struct objhdr oh;
        int err = read_objhdr(h, m->id, &oh);
        if (err)
            return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
        if (oh.size != size || oh.status != (st & (ST_PARTIAL | ST_PSHIFT_MASK)))
            FAIL();
        err = check_clean_equal(h, m);
        if (err)
            return err;
        used += charge_of(m);
        dirty += d;
        blocks += h->ram->footprint(RAM_ST(h), need);
        count++;
    }
    if (count != h->index_used || count > h->index_cap || used != h->used ||
        dirty != h->dirty_data || h->used > h->max_dirty)
        FAIL(); /* budget invariant: what a checkpoint writes <= max_dirty_bytes */
    if (h->ram->check && h->ram->check(RAM_ST(h)))
        FAIL();
    for (uint32_t i = 0; i < VNV_FREE_CACHE; i++) { /* parked homes: freed, distinct */
        if (!h->cache_size[i])
            continue;
        for (uint32_t j = i + 1u; j < VNV_FREE_CACHE; j++)
            if (h->cache_size[j] && h->cache_home[j] == h->cache_home[i])
                FAIL();
        int err = objhdr_check_freed(h, h->cache_home[i]);
        if (err)
            return err;
    }
    if (blocks + h->ram->free_bytes(RAM_ST(h)) != h->arena_size)
        FAIL(); /* every allocated block belongs to exactly one resident object */
    int err = h->nv->check(NV_ST(h), &h->storage);
    return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
}

int vnv_stats(const struct vnv_heap *h, struct vnv_stats *out)
{
    if (!h || !out || h->state != HS_OPEN)
        return VNV_ERR_INVAL;
    *out = h->st;
    out->resident_objects = h->index_used;
    out->arena_free = h->ram->free_bytes(RAM_ST(h));
    out->resident_bytes = h->arena_size - out->arena_free;
    out->dirty_bytes = h->dirty_data;
    out->checkpoint_bytes = h->used;
    out->nv_free = h->nv->free_bytes(NV_ST(h));
    out->nv_parked = 0;
    for (uint32_t i = 0; i < VNV_FREE_CACHE; i++)
        out->nv_parked += h->cache_size[i] != 0;
    return VNV_OK;
}

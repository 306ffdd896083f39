/*
 * check.c - vnv_check: every invariant, O(heap).
 */
#include "internal.h"
#if !VNV_MINIMAL /* vnv_check: not in the minimal profile */

#define FAIL() return VNV_ERR_CORRUPT

/* Clean bytes in RAM must equal the home: compares [off, off+len) of the data. */
static int equal_home(struct vnv_heap *h, struct meta *m, uint32_t off, uint32_t len)
{
    uint8_t chunk[64];
    uint32_t u = id_unit(h, m->id);
    uint32_t home = slot_off(unit_off(h, u), meta_size(m), (uint32_t)bit_get(nvmap(h, MAP_CUR), u)) + off;
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
static int check_homes(struct vnv_heap *h);

/* The whole check is one critical section: a checkpoint requested meanwhile runs after it. */
int vnv_check(struct vnv_heap *h)
{
    if (!is_open(h))
        return VNV_ERR_INVAL;
    sec_enter(h);
    int err = check_locked(h);
    sec_leave(h);
    return err;
}

/* read_objhdr's kept header (first: the checks below read headers and replace it) must be
 * that of a live home, as it is on storage. */
static int check_kept_header(struct vnv_heap *h)
{
    uint64_t id = h->hdr_id;
    uint32_t u = id_unit(h, id);
    if (!id)
        return VNV_OK;
    if (u >= h->units || !bit_get(nvmap(h, MAP_START), u))
        FAIL(); /* a kept header of a home that was freed */
    uint8_t b[VNV_OBJ_HEADER_SIZE];
    struct objhdr oh;
    int err = heap_read(h, unit_off(h, u), b, sizeof b);
    if (err)
        return err;
    if (objhdr_decode(h, b, id, &oh) != VNV_OK || oh.size != h->hdr_size ||
        oh.status != h->hdr_status)
        FAIL();
    return VNV_OK;
}

/* Is `unit` among the group's noted members (or do end and abort walk)? */
static int noted(const struct vnv_heap *h, uint32_t unit)
{
    if (h->group_noted > GROUP_NOTES)
        return 1;
    for (uint32_t i = 0; i < h->group_noted; i++)
        if (h->group_units[i] == unit)
            return 1;
    return 0;
}

/* Count the arena footprint of a block of `n` bytes at arena unit `unit` into *blocks; 1 if
 * it reaches past the arena. */
static int block_out(struct vnv_heap *h, uint32_t unit, uint32_t n, uint32_t *blocks)
{
    uint32_t fp = h->ram->footprint(RAM_ST(h), n);
    *blocks += fp;
    return (unit - 1u) * 8u + fp > h->arena_size;
}

static int check_locked(struct vnv_heap *h)
{
    if (!canary_ok(h))
        FAIL();
    nvmap_spare_drop(h); /* (a home kept for reuse is free: the checks see it so) */
    int kept = check_kept_header(h);
    if (kept)
        return kept;
    uint32_t used = VNV_CKPT_HEADER_SIZE, dirty = 0, count = 0, blocks = 0, writers = 0;
    for (uint32_t s = 0; s <= h->index_mask; s++) {
        uint32_t e = h->index[s];
        if (!e)
            continue;
        if ((e - 1u) * 8u >= h->arena_size)
            FAIL();
        struct meta *m = unit_meta(h, e);
        uint32_t st = m->word & ST_MASK, size = meta_size(m);
        if (m->self != e)
            FAIL(); /* (its checkpoint record would name another arena place) */
        uint32_t u = id_unit(h, m->id);
        if ((id_tag(h, m->id) == 0) != ((st & ST_GFREE) != 0) || size == 0 ||
            id_tag(h, m->id) > h->alloc_count ||
            idx_find(h, u) != (int32_t)s || u >= h->units || (!h->group && (st & ST_GMASK)) ||
            ((st & ST_GMASK) && !(st & ST_GROUP)) ||
            !bit_get(nvmap(h, MAP_START), u) ||
            nvmap_need(h, size) > nvmap_extent(h, u) * h->unit)
            FAIL(); /* unreachable by lookup, a duplicate home, or not a home that fits */
        uint32_t need = block_need(size, st);
        if (block_out(h, e, need, &blocks))
            FAIL();
        if ((st & ST_WRITER) && (st & ST_READERS))
            FAIL(); /* many readers or one writer, never both */
        writers += (st & ST_WRITER) != 0;
        if ((st & ST_GMASK) && !noted(h, u))
            FAIL(); /* a member end and abort would not visit */
        uint32_t d = dirty_bytes_of(m);
        if ((st & ST_PARTIAL) && ((d != 0) != ((st & ST_DIRTY) != 0)))
            FAIL();
        int err;
        if (st & ST_HOMED) {
            struct objhdr oh; /* (freed in a group: tag 0 here, check_homes reads it) */
            err = (st & ST_GFREE) ? VNV_OK : read_objhdr(h, m->id, &oh);
            if (err)
                return err == VNV_ERR_INVAL ? VNV_ERR_CORRUPT : err;
            if (!(st & ST_GFREE) &&
                (oh.size != size || oh.status != (st & (ST_PARTIAL | ST_PSHIFT_MASK))))
                FAIL();
            err = ghost(st) ? VNV_OK : check_clean_equal(h, m); /* (a ghost: no data) */
            if (err)
                return err;
        } else if (d != size) {
            FAIL(); /* never written home: all of it must be dirty (the checkpoint's copy) */
        }
        if (m->pre == PRE_LOG && (!(st & ST_GROUP) || (st & (ST_GNEW | ST_GFREE))))
            FAIL();
        if (pre_block(m)) { /* a dirty member's value from before the group, or a freed one's handle */
            uint32_t ps = pre_size(m->word);
            if (!(st & ST_GROUP) || !(st & ST_DIRTY) || (st & ST_GNEW) ||
                ((st & ST_PARTIAL) && !(st & ST_GFREE)) || block_out(h, m->pre, ps, &blocks))
                FAIL();
            if ((st & ST_GFREE) && get_le64(pre_data(h, m)) >> h->unit_bits == 0)
                FAIL();
        }
        used += charge_of(m);
        dirty += d;
        count++;
    }
    if (writers != h->writer_pins)
        FAIL(); /* the count vnv_atomic_begin asks */
    /* the group's undo log: only inside a group, every entry a whole arena block */
    if (!h->group && (h->undo || h->undo_count))
        FAIL();
    for (uint32_t i = 0, e = h->undo; i < h->undo_count; i++) {
        if (!e || (e - 1u) * 8u >= h->arena_size)
            FAIL();
        const uint8_t *p = undo_entry(h, e);
        uint32_t n = get_le16(p + 12);
        if (n > UNDO_MAX_BYTES || get_le16(p + 14) != e || get_le32(p + 4) >= h->units ||
            !bit_get(nvmap(h, MAP_START), get_le32(p + 4)) ||
            block_out(h, e, UNDO_HDR + n, &blocks))
            FAIL();
        used += UNDO_CKPT_HDR + n;
        e = get_le16(p);
        if (i + 1u == h->undo_count && e)
            FAIL(); /* longer than its count */
    }
    if (count != h->index_used || count > h->index_cap || used != h->used ||
        dirty != h->dirty_data || h->used > h->max_dirty)
        FAIL(); /* budget invariant: what a checkpoint writes <= max_dirty_bytes */
    if (h->ram->check && h->ram->check(RAM_ST(h)))
        FAIL();
    if (blocks + h->ram->free_bytes(RAM_ST(h)) != h->arena_size)
        FAIL(); /* every allocated block belongs to exactly one resident object */
    return check_homes(h);
}

/* Every home on storage: a valid header at each start unit (unless the object was never
 * written home: then it is resident), whose two slots fit the home; homes never overlap
 * (the bitmaps make that structural: nvmap_validate). O(objects) header reads. */
static int check_homes(struct vnv_heap *h)
{
    uint32_t sa = 0, sb = 0;
    nvmap_sums(h, &sa, &sb);
    if (nvmap_validate(h) || sa != h->map_sa || sb != h->map_sb)
        FAIL(); /* (the checkpoint checksum would not match the map it writes) */
    for (uint32_t u = 0; u < h->units; u++) {
        if (bit_get(nvmap(h, MAP_FRESH), u) && !bit_get(nvmap(h, MAP_START), u))
            FAIL();
        if (!bit_get(nvmap(h, MAP_START), u))
            continue;
        struct meta *m = idx_lookup(h, u);
        if (m && !(m->word & ST_HOMED))
            continue;
        uint64_t id = 0;
        struct objhdr oh;
        int err = unit_header(h, u, &id, &oh); /* (as a rollback reads it) */
        if (err == VNV_ERR_CORRUPT)
            FAIL();
        if (err)
            return err;
        if (m && m->id != id && !(m->word & ST_GFREE)) /* freed in a group: tag 0 in RAM */
            FAIL();
        if (id_tag(h, id) > h->alloc_count)
            FAIL(); /* a tag that was never issued */
        err = slot_verify(h, u, oh.size, (uint32_t)bit_get(nvmap(h, MAP_CUR), u));
        if (err)
            return err; /* VNV_DATA_CRC: bit rot in the current data */
    }
    return VNV_OK;
}

#endif /* !VNV_MINIMAL */

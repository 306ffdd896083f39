/*
 * index.c - resident-object index: home -> RAM block, O(1) expected.
 *
 * Open addressing with linear probing over a power-of-two table of 16-bit entries carved
 * from the front of the RAM buffer. Nothing is stored for non-resident objects. The load
 * is capped at 3/4 (vnv_heap.index_cap), so an unsuccessful probe visits ~8.5 slots on
 * average and never more than the table size. Deletion shifts the following cluster back
 * (no tombstones), so probe lengths do not degrade over time.
 */
#include "../internal.h"

/* The table is 8-aligned (heap.c): the compiler is told, so that a 4-byte memcpy from it
 * is one load, not a call. */
#if defined(__GNUC__)
#define ALIGNED8(p) __builtin_assume_aligned((p), 8)
#else
#define ALIGNED8(p) (p)
#endif

/* Four empty slots at a time (the table has a multiple of four slots): a group's begin and
 * end walk the whole table, which is mostly empty. */
uint32_t idx_next_used(const struct vnv_heap *h, uint32_t slot)
{
    uint32_t n = h->index_mask + 1u;
    for (uint32_t s = slot; s < n; s++) {
        const uint16_t *four = ALIGNED8(&h->index[s & ~3u]);
        uint32_t lo, hi;
        memcpy(&lo, four, sizeof lo);
        memcpy(&hi, four + 2, sizeof hi);
        if (!(lo | hi)) {
            s |= 3u; /* (the loop's s++ then goes on at the next four) */
            continue;
        }
        if (h->index[s])
            return s;
    }
    return n;
}

void idx_insert(struct vnv_heap *h, uint32_t key, uint32_t unit)
{
    uint32_t s = home_slot(h, key);
    for (uint32_t n = 0; n <= h->index_mask; n++) {
        if (!h->index[s]) {
            h->index[s] = (uint16_t)unit;
            h->index_used++;
            return;
        }
        s = (s + 1u) & h->index_mask;
    }
    /* unreachable: callers keep index_used < index_cap < entries */
}

void idx_remove(struct vnv_heap *h, uint32_t key)
{
    int32_t slot = idx_find(h, key);
    if (slot < 0)
        return; /* not there: only a heap that closed itself mid-call asks (heap_die) */
    uint32_t hole = (uint32_t)slot;
    h->index[hole] = 0;
    h->index_used--;
    /* Move back every later entry of the cluster whose home slot lies cyclically at or
     * before the hole, so that lookups never stop early at the hole. */
    uint32_t s = (hole + 1u) & h->index_mask;
    for (uint32_t n = 0; n < h->index_mask; n++, s = (s + 1u) & h->index_mask) {
        uint32_t e = h->index[s];
        if (!e)
            return;
        uint32_t want = home_slot(h, id_key(h, unit_meta(h, e)->id));
        /* distance from home to s vs. from home to hole, both cyclic */
        if (((s - want) & h->index_mask) >= ((s - hole) & h->index_mask)) {
            h->index[hole] = (uint16_t)e;
            h->index[s] = 0;
            hole = s;
        }
    }
}

/* ---- the view policies get ---------------------------------------------------------------- */

uint32_t vnv_slot_flags(const struct vnv_heap *h, uint32_t slot)
{
    const struct meta *m = idx_meta(h, slot & h->index_mask);
    if (!m)
        return 0;
    uint32_t st = m->word & ST_MASK, f = VNV_SLOT_USED;
    if (st & ST_DIRTY)
        f |= VNV_SLOT_DIRTY;
    if ((st & ST_DIRTY) && !(st & (ST_WRITER | ST_GMASK)))
        f |= VNV_SLOT_FLUSHABLE;
    if (!(st & (ST_PINS | ST_GMASK)))
        f |= VNV_SLOT_EVICTABLE; /* a group member keeps its place until the group ends */
    if (st & ST_ACCESSED)
        f |= VNV_SLOT_ACCESSED;
    return f;
}

void vnv_slot_clear_accessed(struct vnv_heap *h, uint32_t slot)
{
    struct meta *m = idx_meta(h, slot & h->index_mask);
    if (m)
        m->word &= ~ST_ACCESSED;
}

uint32_t vnv_slot_ram_offset(const struct vnv_heap *h, uint32_t slot)
{
    uint32_t e = h->index[slot & h->index_mask];
    return e ? (e - 1u) * 8u : UINT32_MAX;
}

uint32_t vnv_slot_size(const struct vnv_heap *h, uint32_t slot)
{
    const struct meta *m = idx_meta(h, slot & h->index_mask);
    return m ? meta_size(m) : 0;
}

/*
 * stats.c - vnv_stats: the counters, and the figures derived from the heap's state.
 */
#include "internal.h"

int vnv_stats(const struct vnv_heap *h, struct vnv_stats *out)
{
    if (!is_open(h) || !out)
        return VNV_ERR_INVAL;
    *out = h->st;
    out->resident_objects = h->index_used;
    out->arena_free = h->ram->free_bytes(RAM_ST(h));
    out->resident_bytes = h->arena_size - out->arena_free;
    out->dirty_bytes = h->dirty_data;
    out->nv_map_bytes = MAP_SAVED * h->map_words * 4u;
    out->checkpoint_bytes = h->used;
    uint32_t q = nvmap_quarantined(h);
    uint32_t spare = h->spare ? h->spare_units : 0u; /* (marked, but free: nvmap.c) */
    out->nv_free = (h->units - nvmap_count(h, MAP_ALLOC) - q + spare) * h->unit;
    out->nv_quarantined = q * h->unit;
    return VNV_OK;
}

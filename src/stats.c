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
    uint32_t q = nvmap_quarantined(h), used = nvmap_count(h, MAP_ALLOC);
    /* the spare is marked but free (nvmap.c); read after the map, so that a checkpoint
     * releasing it in between makes nv_free too low for this call, never too high */
    uint32_t spare = *(const volatile uint32_t *)&h->spare ? h->spare_units : 0u;
    out->nv_free = (h->units - used - q + spare) * h->unit;
    out->nv_quarantined = q * h->unit;
    return VNV_OK;
}

/* alloc_damage.c - see alloc_damage.h. */
#include "alloc_damage.h"

#include <string.h>

int alloc_damage(const struct vnv_ram_allocator *a, const void *st, void *at, uint32_t bad)
{
    uint32_t keep;
    memcpy(&keep, at, sizeof keep);
    memcpy(at, &bad, sizeof bad);
    int found = a->check(st) == VNV_ERR_CORRUPT;
    memcpy(at, &keep, sizeof keep);
    if (!found)
        return 1;
    return a->check(st) == VNV_OK ? 0 : 2;
}

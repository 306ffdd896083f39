/*
 * addrorder.c - the original vNV-Heap's default: the eligible object at the lowest RAM
 * address goes first. Stateless; one sweep over the slots per pick (O(slots)).
 * Kept for comparison with the original; it thrashes on loops larger than RAM.
 */
#include "vnvheap/policy.h"

static void addr_reset(void *st, uint32_t slots)
{
    (void)st;
    (void)slots;
}

static int32_t addr_pick(void *st, struct vnv_heap *h, uint32_t slots, enum vnv_pick kind)
{
    (void)st;
    uint32_t want = kind == VNV_PICK_FLUSH ? VNV_SLOT_FLUSHABLE : VNV_SLOT_EVICTABLE;
    int32_t best = -1;
    uint32_t best_off = UINT32_MAX;
    for (uint32_t s = 0; s < slots; s++) {
        if (!(vnv_slot_flags(h, s) & want))
            continue;
        uint32_t off = vnv_slot_ram_offset(h, s);
        if (off < best_off) {
            best_off = off;
            best = (int32_t)s;
        }
    }
    return best;
}

const struct vnv_policy vnv_policy_addrorder = {"addrorder", 0, addr_reset, addr_pick};

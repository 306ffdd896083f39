/*
 * clock.c - second-chance (clock) replacement, the default policy.
 *
 * One hand sweeps the index slots. An eligible object whose accessed bit is set loses the
 * bit and is passed over once; the first eligible object without the bit is the victim.
 * Bounded: at most two sweeps (2 x slots steps), after which every eligible object has
 * lost its bit, so a victim exists iff any eligible object exists.
 */
#include "vnvheap/policy.h"

struct clock_state {
    uint32_t hand;
};

static void clock_reset(void *st, uint32_t slots)
{
    (void)slots;
    ((struct clock_state *)st)->hand = 0;
}

static int32_t clock_pick(void *st, struct vnv_heap *h, uint32_t slots, enum vnv_pick kind)
{
    struct clock_state *c = st;
    uint32_t want = kind == VNV_PICK_FLUSH ? VNV_SLOT_FLUSHABLE : VNV_SLOT_EVICTABLE;
    for (uint32_t n = 0; n < 2u * slots; n++) {
        uint32_t s = c->hand;
        c->hand = (c->hand + 1u) % slots;
        uint32_t f = vnv_slot_flags(h, s);
        if (!(f & want))
            continue;
        if (f & VNV_SLOT_ACCESSED) {
            vnv_slot_clear_accessed(h, s);
            continue;
        }
        return (int32_t)s;
    }
    return -1;
}

const struct vnv_policy vnv_policy_clock = {"clock", sizeof(struct clock_state), clock_reset,
                                            clock_pick};

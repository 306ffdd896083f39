/*
 * vnvheap/policy.h - the replacement-policy interface.
 *
 * A policy decides WHICH resident object to flush (write its dirty bytes home) when the dirty
 * budget is short, and which to evict (drop from RAM) when the buffer or its index is full.
 * It sees the resident objects as the slots of the heap's index table (a fixed number,
 * sized from the RAM buffer) through the read-only view functions below, and keeps its own
 * state in `state_size` bytes (<= VNV_POLICY_STATE_MAX) that the heap reserves.
 *
 * A policy never changes the heap itself: the heap flushes/evicts what `pick` returns.
 * `pick` must be bounded: at most a fixed number of passes over the slots.
 */
#ifndef VNVHEAP_POLICY_H
#define VNVHEAP_POLICY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VNV_POLICY_STATE_MAX
#define VNV_POLICY_STATE_MAX 32u
#endif

struct vnv_heap;

/* What the heap asks for. */
enum vnv_pick {
    VNV_PICK_FLUSH = 1, /* a dirty object that no writer holds (readers are fine) */
    VNV_PICK_EVICT = 2  /* an object nobody holds */
};

/* Slot flags returned by vnv_slot_flags(). */
#define VNV_SLOT_USED 0x01u     /* the slot holds a resident object */
#define VNV_SLOT_FLUSHABLE 0x02u /* eligible for VNV_PICK_FLUSH */
#define VNV_SLOT_EVICTABLE 0x04u /* eligible for VNV_PICK_EVICT */
#define VNV_SLOT_ACCESSED 0x08u /* referenced since the bit was last cleared */
#define VNV_SLOT_DIRTY 0x10u

struct vnv_policy {
    const char *name;
    uint32_t state_size;
    /* Called at format/open and after a restore. */
    void (*reset)(void *st, uint32_t slots);
    /* Return the slot of a victim eligible for `kind`, or -1 if there is none. */
    int32_t (*pick)(void *st, struct vnv_heap *h, uint32_t slots, enum vnv_pick kind);
};

/* View functions for policies, O(1) each. `slot` < the `slots` count given to pick. */
uint32_t vnv_slot_flags(const struct vnv_heap *h, uint32_t slot);
void vnv_slot_clear_accessed(struct vnv_heap *h, uint32_t slot);
/* Offset of the object's block in the RAM arena (for address-ordered policies). */
uint32_t vnv_slot_ram_offset(const struct vnv_heap *h, uint32_t slot);
/* Bytes of object data (for size-aware policies). */
uint32_t vnv_slot_size(const struct vnv_heap *h, uint32_t slot);

extern const struct vnv_policy vnv_policy_clock;     /* second chance (default) */
extern const struct vnv_policy vnv_policy_addrorder; /* lowest RAM address first (the original's) */

#ifdef __cplusplus
}
#endif
#endif /* VNVHEAP_POLICY_H */

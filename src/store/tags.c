/*
 * tags.c - the tag reservation on storage: a handle is never issued twice, resets included.
 *
 * A reset loses the objects allocated after the last checkpoint, but their handles may live
 * on outside the heap (another heap, a log, a message), so vnv_open must not go on from the
 * checkpoint's counter. The counter is reserved ahead instead, in an area of its own right
 * after the superblock that no checkpoint writes (docs/FORMAT.md section 1.1): two 16-byte
 * records, written in turn, each a counter value up to which tags may have been issued. A
 * record is written and synced before the first tag past the previous one is issued, and
 * vnv_open goes on from the larger intact record: a torn record fails its CRC and the other
 * one, never overwritten by the same reservation, still covers every tag issued.
 *
 * A reset costs the rest of the reservation. The first one after vnv_open covers
 * TAGS_STEP_FIRST counter values and each next one twice the last, up to TAGS_STEP_MAX: a
 * run wastes at most about as many tags as it issued, and a long run writes 16 bytes once
 * per TAGS_STEP_MAX allocations.
 */
#include "../internal.h"

#define TAGS_MAGIC 0x52564E56u /* "VNVR" */
#define TAGS_RECORD 16u
#define TAGS_STEP_FIRST 256u
#define TAGS_STEP_MAX (1u << 20)

_Static_assert(2u * TAGS_RECORD == TAGS_AREA_SIZE, "two records fill the area");

/* The value of an intact record, or 0 (none: blank, torn or foreign). A value past the tag
 * space counts as none: no device counts that far (2^53 allocations), so it was forged, and
 * believing it would leave the counter where tags wrap and no reservation can be made. */
static uint64_t record_value(const struct vnv_heap *h, const uint8_t *r)
{
    uint32_t x[4];
    le32_words(x, r, 4);
    uint64_t v = words64(x, 1);
    return x[0] == TAGS_MAGIC && x[3] == vnv_crc32(0, r, 12) &&
                   v < (UINT64_MAX >> h->unit_bits) - 1u
               ? v
               : 0u;
}

/* Write the record of `upto` at TAGS_AREA_OFF + `off`: `len` = TAGS_RECORD bytes, or the
 * whole area (vnv_format), the second record then void (zeros). No sync. */
static int record_write(struct vnv_heap *h, uint32_t off, uint64_t upto, uint32_t len)
{
    uint8_t r[TAGS_AREA_SIZE] = {0};
    put_le32(r, TAGS_MAGIC);
    put_le64(r + 4, upto);
    put_le32(r + 12, vnv_crc32(0, r, 12));
    struct vnv_iovec iov = {r, len};
    return heap_writev(h, TAGS_AREA_OFF + off, &iov, 1);
}

int tags_load(struct vnv_heap *h, uint64_t *upto)
{
    uint8_t r[TAGS_AREA_SIZE];
    int err = heap_read(h, TAGS_AREA_OFF, r, sizeof r);
    if (err)
        return err;
    uint64_t a = record_value(h, r), b = record_value(h, r + TAGS_RECORD);
    h->tag_next = a > b ? 1u : 0u; /* the next reservation overwrites the smaller one */
    *upto = a > b ? a : b;
    return VNV_OK;
}

void tags_resume(struct vnv_heap *h, uint64_t upto)
{
    if (upto > h->alloc_count)
        h->alloc_count = upto; /* past every tag the run before may have issued */
    h->tag_reserved = h->alloc_count; /* nothing reserved: the first allocation reserves */
    h->tag_step = TAGS_STEP_FIRST;
}

int tags_format(struct vnv_heap *h)
{
    /* (a reset before the first checkpoint after format costs this one reservation) */
    uint64_t upto = h->alloc_count + TAGS_STEP_MAX;
    int err = record_write(h, 0, upto, TAGS_AREA_SIZE); /* the second record void */
    if (err)
        return err;
    h->tag_reserved = upto;
    h->tag_next = 1;
    h->tag_step = TAGS_STEP_MAX;
    return VNV_OK;
}

int tags_reserve(struct vnv_heap *h)
{
    uint32_t step = h->tag_step;
    uint64_t upto = h->alloc_count < UINT64_MAX - step ? h->alloc_count + step : UINT64_MAX;
    /* each a critical section of its own, like every storage transaction: a checkpoint
     * never starts while the device is busy, and waits for one of them only. One deferred
     * to the end of either leaves the counter alone. */
    int err = record_write(h, h->tag_next * TAGS_RECORD, upto, TAGS_RECORD);
    if (!err) {
        sec_enter(h);
        err = vnv_storage_sync(&h->storage);
        sec_leave(h);
    }
    if (heap_is_dead(h))
        return VNV_ERR_INVAL; /* closed itself in that checkpoint (heap_die) */
    if (err)
        return err; /* no tag issued; the next try writes the same record again */
    h->tag_reserved = upto;
    h->tag_next ^= 1u;
    h->tag_step = step < TAGS_STEP_MAX ? 2u * step : TAGS_STEP_MAX;
    h->st.tag_reserves++;
    return VNV_OK;
}

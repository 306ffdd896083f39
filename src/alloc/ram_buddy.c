/*
 * ram_buddy.c - `vnv_ram_buddy`: power-of-two buddy allocator for the RAM buffer.
 *
 * Blocks: order k is a block of RB_MIN << k bytes (16 B .. 512 MiB), naturally aligned
 * relative to the buffer start. A buffer that is not a power of two is carved greedily
 * into the largest aligned blocks: at most (size >> 29) blocks of the top order and one
 * block of each lower order (the binary digits of the rest); a trailing 8 bytes (size % 16)
 * are never used. Blocks never merge across carved blocks.
 *
 * Free block header (first 12 bytes of the free block, read/written with memcpy):
 *     [+0] tag   = position hash | order     (tag_of(pos, k))
 *     [+4] next  offset of the next free block of that order, RB_NIL at the end
 *     [+8] prev  offset of the previous one, RB_NIL for the list head
 * The lists are doubly linked, so removing a SPECIFIC block (the buddy being merged, the
 * block alloc_at needs) is O(1).
 *
 * "Is block B of order k free?" (is_free) is an O(1) test: B's tag must be the tag for
 * (B, k) AND B's links must be consistent with its neighbours (prev->next == B, or head[k]
 * == B when prev is NIL; next->prev == B). Stale headers are prevented: whenever a block
 * leaves a free list (alloc, alloc_at, or absorbed by a merge) its tag is overwritten with
 * RB_DEAD, and free() writes RB_DEAD over the freed block's first word before merging. So
 * every valid tag in the buffer belongs to a free block on its list, except what the
 * CALLER writes into its own allocated blocks. Residual risk, documented: allocated user
 * data that reproduces, at the start of the buddy, the position-specific 32-bit tag AND
 * links consistent with genuinely free neighbours (prev->next pointing back at it) would
 * be taken for a free block. That cannot happen by accident with stale allocator data
 * (there is none) and needs a deliberate forgery (or ~2^-64 coincidence) otherwise.
 * Note: as part of handing a block out, alloc/alloc_at write RB_DEAD into the first 4
 * bytes of the returned block (before returning; the allocator never touches it after).
 *
 * Complexity (K = number of orders, <= 26):
 *     init                 O(K + size>>29)
 *     alloc, alloc_at      O(K)   (find a list, split down; each step O(1))
 *     free                 O(K)   (double-free probes of ancestors/left descendants,
 *                                  then merge upward, each step an O(1) is_free test)
 *     fits, footprint      O(K)
 *     free_bytes           O(1)
 *     check                O(F * K) for F free blocks (bounded list walks)
 *
 * No allocation, no recursion; only <string.h>/<stdint.h>/<stddef.h>.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vnvheap/alloc.h"

#define RB_MIN 16u               /* smallest block */
#define RB_NORD 26u              /* orders 0..25: 16 B .. 512 MiB */
#define RB_MAXO (RB_NORD - 1u)   /* top order */
#define RB_NIL 0xFFFFFFFFu
#define RB_DEAD 0xFFFFFFFFu      /* low 5 bits 31: never a valid order */
#define RB_MAGIC 0x42554459u     /* marks an initialised state */

struct rb_state {
    uint32_t magic;
    uint32_t size;           /* managed bytes */
    uint32_t free;           /* sum of the free block sizes */
    uint32_t head[RB_NORD];  /* first free block of each order, RB_NIL if none */
    unsigned char base[sizeof(void *)]; /* buffer pointer (see ram_firstfit.c) */
};

_Static_assert(sizeof(struct rb_state) <= VNV_RAM_STATE_MAX, "buddy state too large");
_Static_assert(((uint64_t)RB_MIN << RB_MAXO) <= 0x80000000u, "top block must fit in 32 bits");

/* ---- helpers ------------------------------------------------------------------------ */

static uint32_t bsz(uint32_t k) { return RB_MIN << k; }

static uint8_t *rb_base(const struct rb_state *S)
{
    uint8_t *b;
    memcpy(&b, S->base, sizeof b);
    return b;
}

static uint32_t ld32(const uint8_t *b, uint32_t off)
{
    uint32_t v;
    memcpy(&v, b + off, sizeof v);
    return v;
}

static void st32(uint8_t *b, uint32_t off, uint32_t v) { memcpy(b + off, &v, sizeof v); }

static uint32_t tag_of(uint32_t pos, uint32_t k)
{
    return ((((pos >> 4) * 0x9E3779B1u) ^ 0x6B0DD1E5u) & ~0x1Fu) | k;
}

#define H_TAG 0u
#define H_NEXT 4u
#define H_PREV 8u

/* Smallest order whose block holds `size` bytes; RB_NORD if none (size 0 or too big). */
static uint32_t order_for(uint32_t size)
{
    if (size == 0 || size > bsz(RB_MAXO))
        return RB_NORD;
    uint32_t k = 0;
    while (k < RB_MAXO && bsz(k) < size)
        k++;
    return k;
}

/* Carved block containing `pos`: 1 and its start/order, or 0 if pos is past the carve. */
static int carve_find(uint32_t size, uint32_t pos, uint32_t *start, uint32_t *order)
{
    uint32_t top = bsz(RB_MAXO);
    uint32_t ntop = size / top;
    if (pos / top < ntop) {
        *start = pos & ~(top - 1u);
        *order = RB_MAXO;
        return 1;
    }
    uint32_t rest = size - ntop * top, acc = ntop * top;
    for (uint32_t j = RB_MAXO; j-- > 0;) {
        if (rest & bsz(j)) {
            if (pos >= acc && pos - acc < bsz(j)) {
                *start = acc;
                *order = j;
                return 1;
            }
            acc += bsz(j);
        }
    }
    return 0;
}

/* A node (pos, k) that lies inside one carved block; *c receives that block's order. */
static int node_ok(const struct rb_state *S, uint32_t pos, uint32_t k, uint32_t *c)
{
    uint32_t start;
    if (k >= RB_NORD || (pos & (bsz(k) - 1u)) != 0 || !carve_find(S->size, pos, &start, c))
        return 0;
    return k <= *c;
}

/* Cheap range test for a link value: aligned block of order k fully inside the buffer. */
static int link_ok(const struct rb_state *S, uint32_t pos, uint32_t k)
{
    return (pos & (bsz(k) - 1u)) == 0 && bsz(k) <= S->size && pos <= S->size - bsz(k);
}

/* O(1): is there a free block of order k starting at pos (on list k)? */
static int is_free(const struct rb_state *S, const uint8_t *b, uint32_t pos, uint32_t k)
{
    if (k >= RB_NORD || !link_ok(S, pos, k) || ld32(b, pos + H_TAG) != tag_of(pos, k))
        return 0;
    uint32_t nx = ld32(b, pos + H_NEXT), pv = ld32(b, pos + H_PREV);
    if (pv == RB_NIL) {
        if (S->head[k] != pos)
            return 0;
    } else if (pv == pos || !link_ok(S, pv, k) || ld32(b, pv + H_TAG) != tag_of(pv, k) ||
               ld32(b, pv + H_NEXT) != pos) {
        return 0;
    }
    if (nx != RB_NIL && (nx == pos || !link_ok(S, nx, k) || ld32(b, nx + H_TAG) != tag_of(nx, k) ||
                         ld32(b, nx + H_PREV) != pos))
        return 0;
    return 1;
}

static void push(struct rb_state *S, uint8_t *b, uint32_t pos, uint32_t k)
{
    uint32_t h = S->head[k];
    st32(b, pos + H_TAG, tag_of(pos, k));
    st32(b, pos + H_NEXT, h);
    st32(b, pos + H_PREV, RB_NIL);
    if (h != RB_NIL)
        st32(b, h + H_PREV, pos);
    S->head[k] = pos;
    S->free += bsz(k);
}

/* Remove a block known to be on list k; its tag is killed. */
static void unlink_blk(struct rb_state *S, uint8_t *b, uint32_t pos, uint32_t k)
{
    uint32_t nx = ld32(b, pos + H_NEXT), pv = ld32(b, pos + H_PREV);
    if (pv == RB_NIL)
        S->head[k] = nx;
    else
        st32(b, pv + H_NEXT, nx);
    if (nx != RB_NIL)
        st32(b, nx + H_PREV, pv);
    st32(b, pos + H_TAG, RB_DEAD);
    S->free -= bsz(k);
}

static struct rb_state *rb_get(void *st)
{
    struct rb_state *S = st;
    return (S && S->magic == RB_MAGIC) ? S : NULL;
}

static const struct rb_state *rb_cget(const void *st)
{
    const struct rb_state *S = st;
    return (S && S->magic == RB_MAGIC) ? S : NULL;
}

/* ---- operations --------------------------------------------------------------------- */

static int rb_init(void *st, void *base, uint32_t size)
{
    struct rb_state *S = st;
    if (!S || !base || ((uintptr_t)base % VNV_RAM_ALIGN) != 0 || (size % VNV_RAM_ALIGN) != 0)
        return VNV_ERR_INVAL;
    memset(S, 0, sizeof *S);
    memcpy(S->base, &base, sizeof base);
    S->size = size;
    for (uint32_t k = 0; k < RB_NORD; k++)
        S->head[k] = RB_NIL;
    uint8_t *b = base;
    uint32_t top = bsz(RB_MAXO), ntop = size / top, rest = size - ntop * top;
    /* Push from the highest address down so that each list's head is its lowest block:
     * the lower orders (the binary digits of `rest`) sit above the top-order blocks. */
    for (uint32_t j = 0; j < RB_MAXO; j++) {
        if (rest & bsz(j)) {
            uint32_t pos = ntop * top + (rest & ~(2u * bsz(j) - 1u));
            push(S, b, pos, j);
        }
    }
    for (uint32_t i = ntop; i-- > 0;)
        push(S, b, i * top, RB_MAXO);
    S->magic = RB_MAGIC;
    return VNV_OK;
}

static int rb_alloc(void *st, uint32_t size, uint32_t *off)
{
    struct rb_state *S = rb_get(st);
    if (!S || !off || size == 0)
        return VNV_ERR_INVAL;
    uint32_t k = order_for(size);
    if (k >= RB_NORD)
        return VNV_ERR_NOMEM;
    uint32_t j = k;
    while (j < RB_NORD && S->head[j] == RB_NIL)
        j++;
    if (j >= RB_NORD)
        return VNV_ERR_NOMEM;
    uint8_t *b = rb_base(S);
    uint32_t x = S->head[j];
    unlink_blk(S, b, x, j);
    while (j > k) { /* keep the lower half, free the upper */
        j--;
        push(S, b, x + bsz(j), j);
    }
    st32(b, x + H_TAG, RB_DEAD);
    *off = x;
    return VNV_OK;
}

static int rb_alloc_at(void *st, uint32_t off, uint32_t size)
{
    struct rb_state *S = rb_get(st);
    uint32_t c;
    if (!S)
        return VNV_ERR_INVAL;
    uint32_t k = order_for(size);
    if (k >= RB_NORD || !node_ok(S, off, k, &c))
        return VNV_ERR_INVAL;
    uint8_t *b = rb_base(S);
    uint32_t j = k, a = off;
    for (; j <= c; j++) {
        a = off & ~(bsz(j) - 1u);
        if (is_free(S, b, a, j))
            break;
    }
    if (j > c)
        return VNV_ERR_NOMEM;
    unlink_blk(S, b, a, j);
    while (j > k) { /* split, keeping the half that contains off */
        j--;
        if (off & bsz(j)) {
            push(S, b, a, j);
            a += bsz(j);
        } else {
            push(S, b, a + bsz(j), j);
        }
    }
    st32(b, off + H_TAG, RB_DEAD);
    return VNV_OK;
}

static int rb_free(void *st, uint32_t off, uint32_t size)
{
    struct rb_state *S = rb_get(st);
    uint32_t c;
    if (!S)
        return VNV_ERR_INVAL;
    uint32_t k = order_for(size);
    if (k >= RB_NORD || !node_ok(S, off, k, &c))
        return VNV_ERR_INVAL;
    uint8_t *b = rb_base(S);
    /* Double-free / wrong-size detection: the block must not be (inside) a free block,
     * and must not start with a free sub-block (left descendants). */
    for (uint32_t j = k; j <= c; j++)
        if (is_free(S, b, off & ~(bsz(j) - 1u), j))
            return VNV_ERR_INVAL;
    for (uint32_t j = 0; j < k; j++)
        if (is_free(S, b, off, j) || is_free(S, b, off + bsz(j), j))
            return VNV_ERR_INVAL;

    st32(b, off + H_TAG, RB_DEAD); /* user data must not look like a header */
    uint32_t x = off;
    while (k < c) {
        uint32_t bud = x ^ bsz(k);
        if (!is_free(S, b, bud, k))
            break;
        unlink_blk(S, b, bud, k); /* kills its tag: it is an interior from now on */
        x &= ~bsz(k);
        k++;
    }
    push(S, b, x, k);
    return VNV_OK;
}

static int rb_fits(void *st, uint32_t size)
{
    const struct rb_state *S = rb_get(st);
    if (!S)
        return 0;
    for (uint32_t j = order_for(size); j < RB_NORD; j++)
        if (S->head[j] != RB_NIL)
            return 1;
    return 0;
}

static uint32_t rb_footprint(const void *st, uint32_t size)
{
    (void)st;
    if (size == 0)
        return 0;
    uint32_t k = order_for(size);
    return k < RB_NORD ? bsz(k) : UINT32_MAX; /* UINT32_MAX: can never be allocated */
}

static int rb_check(const void *st)
{
    const struct rb_state *S = rb_cget(st);
    if (!S || (S->size % VNV_RAM_ALIGN) != 0 || S->free > S->size)
        return VNV_ERR_CORRUPT;
    const uint8_t *b = rb_base(S);
    if (!b || ((uintptr_t)b % VNV_RAM_ALIGN) != 0)
        return VNV_ERR_CORRUPT;
    uint32_t total = 0;
    for (uint32_t k = 0; k < RB_NORD; k++) {
        uint32_t prev = RB_NIL, e = S->head[k];
        uint32_t bound = S->size / bsz(k); /* at most this many blocks of order k */
        for (uint32_t n = 0; e != RB_NIL; n++) {
            uint32_t c;
            if (n >= bound || !node_ok(S, e, k, &c))
                return VNV_ERR_CORRUPT; /* cycle, misaligned, outside the carve */
            if (ld32(b, e + H_TAG) != tag_of(e, k) || ld32(b, e + H_PREV) != prev)
                return VNV_ERR_CORRUPT; /* not a free header, broken back link */
            /* Not merged with its free buddy, or inside a bigger free block? */
            if (k < c && is_free(S, b, e ^ bsz(k), k))
                return VNV_ERR_CORRUPT;
            for (uint32_t j = k + 1; j <= c; j++)
                if (is_free(S, b, e & ~(bsz(j) - 1u), j))
                    return VNV_ERR_CORRUPT;
            if (total > S->size - bsz(k))
                return VNV_ERR_CORRUPT;
            total += bsz(k);
            prev = e;
            e = ld32(b, e + H_NEXT);
        }
    }
    return total == S->free ? VNV_OK : VNV_ERR_CORRUPT;
}

static uint32_t rb_free_bytes(const void *st)
{
    const struct rb_state *S = rb_cget(st);
    return S ? S->free : 0;
}

const struct vnv_ram_allocator vnv_ram_buddy = {
    .name = "buddy",
    .state_size = (uint32_t)sizeof(struct rb_state),
    .init = rb_init,
    .alloc = rb_alloc,
    .alloc_at = rb_alloc_at,
    .free = rb_free,
    .fits = rb_fits,
    .footprint = rb_footprint,
    .check = rb_check,
    .free_bytes = rb_free_bytes,
};

/*
 * ram_buddy.c - `vnv_ram_buddy`: power-of-two buddy allocator for the RAM buffer.
 *
 * Blocks: order k is a block of 16 << k bytes (16 B .. 512 MiB), naturally aligned
 * relative to the buffer start. A buffer that is not a power of two is carved greedily into
 * the largest aligned blocks: (size >> 29) blocks of the top order, then one block per lower
 * binary digit of the rest; a trailing size % 16 (8 bytes) is never used (free_bytes counts
 * it, so that allocated footprints + free_bytes == size always). Blocks never merge across
 * carved blocks.
 *
 * Free sets: the free blocks of each order form a crit-bit tree (binary radix tree keyed by
 * the block offset) whose nodes live inside the free blocks themselves:
 *   - a leaf is a free block; a pointer to it is its offset (a multiple of 16);
 *   - an internal node {child[0], child[1], bit} occupies the first 12 bytes of one free
 *     block of the same tree (its "host"); a pointer to it is host | 1. n leaves need n-1
 *     internal nodes, so exactly one free block of each non-empty tree hosts none;
 *   - invariant: the node a block hosts is an ancestor of that block's leaf (so deleting a
 *     leaf finds the node it hosts on its own search path and can move it).
 * Along any path the node bits strictly decrease and lie in [4 + k, 31], so a path has at
 * most 28 nodes: every descent is bounded by RB_DEPTH. The RAM state holds one root per
 * order (26 words), the buffer pointer, its size and the free byte count.
 *
 * Why trees and not linked lists: (1) membership ("is my buddy a free block of order k?")
 * is answered by a search from the root, which only follows pointers stored in free blocks,
 * so nothing the caller writes into its allocated blocks can fool it - no magic numbers, no
 * residual risk; the allocator never writes into an allocated block. (2) The behaviour is
 * canonical: alloc takes the lowest-addressed block of the smallest non-empty order >= the
 * request, and with full merging the free set depends only on the set of allocated blocks,
 * so re-creating the allocations with alloc_at (in any order) after a reset yields exactly
 * the same future results as the original heap. LIFO lists cannot offer that.
 * A freed block is removed from its tree by a search for ITS key (not "the lowest block of
 * that order").
 *
 * Complexity (K = number of orders <= 26, W = key bits of the buffer = log2(size) - 4; a tree
 * of order j has depth <= W - j):
 *     init                 O(K + size >> 29)
 *     alloc                O(K + W)   (find order, lowest leaf, delete; the split halves go
 *                                      into empty trees, O(1) each)
 *     alloc_at             O(K * W)   (probe each order, then one insert per split level)
 *     free                 O(K * W)   (overlap probes of every order, then per merge level
 *                                      one search-and-delete in that order's tree)
 *     fits, footprint      O(K)
 *     free_bytes           O(1)
 *     check                O(F * K * W) for F free blocks
 * i.e. O(log2(size)) for alloc and O(log2(size)^2) pointer steps worst case for free and
 * alloc_at (in practice trees are shallow: depth ~ log2 of the free blocks of that order).
 *
 * No allocation, no recursion (explicit bounded stack in check); only <string.h>,
 * <stdint.h>, <stddef.h>.
 */
#include "vnvheap/common.h"
#if !VNV_MINIMAL /* the buddy RAM allocator: not in the minimal profile */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vnvheap/alloc.h"

#define RB_MIN 16u                 /* smallest block */
#define RB_LOG_MIN 4u
#define RB_NORD 26u                /* orders 0..25: 16 B .. 512 MiB */
#define RB_MAXO (RB_NORD - 1u)
#define RB_NIL 0xFFFFFFFFu         /* empty tree / no location */
#define RB_DEPTH 33u               /* bound of any root-to-leaf walk (bits 31..4 + leaf) */
#define RB_MAGIC 0x42554459u       /* marks an initialised state */

/* node fields, at the host block's start */
#define F_C0 0u
#define F_C1 4u
#define F_BIT 8u

struct rb_state {
    uint32_t magic;
    uint32_t size;                      /* managed bytes */
    uint32_t free;                      /* sum of the free block sizes */
    uint32_t root[RB_NORD];             /* tree of each order; RB_NIL if empty */
    unsigned char base[sizeof(void *)]; /* buffer pointer, as bytes: the state area is only
                                           guaranteed uint32_t-aligned */
};

_Static_assert(sizeof(struct rb_state) <= VNV_RAM_STATE_MAX, "buddy state too large");
_Static_assert(((uint64_t)RB_MIN << RB_MAXO) <= 0x80000000u, "top block must fit in 32 bits");

/* ---- helpers ------------------------------------------------------------------------ */

static uint32_t bsz(uint32_t k) { return RB_MIN << k; }
static int is_node(uint32_t p) { return p != RB_NIL && (p & 1u); }
static uint32_t host(uint32_t p) { return p & ~1u; }

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

/* Smallest order whose block holds `size` bytes; RB_NORD if none (0 or too big). */
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
    uint32_t top = bsz(RB_MAXO), ntop = size / top;
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

/* Block (pos, k) aligned and inside one carved block; *c receives that block's order. */
static int node_ok(const struct rb_state *S, uint32_t pos, uint32_t k, uint32_t *c)
{
    uint32_t start;
    if (k >= RB_NORD || (pos & (bsz(k) - 1u)) != 0 || !carve_find(S->size, pos, &start, c))
        return 0;
    return k <= *c;
}

/* A pointer read from the buffer may be followed: a 16-aligned block start in range. */
static int host_ok(const struct rb_state *S, uint32_t h)
{
    return (h & (RB_MIN - 1u)) == 0 && S->size >= RB_MIN && h <= S->size - RB_MIN;
}

/* Read an internal node's bit; RB_NIL if the pointer or the bit is implausible. */
static uint32_t node_bit(const struct rb_state *S, const uint8_t *b, uint32_t p, uint32_t k)
{
    if (!host_ok(S, host(p)))
        return RB_NIL;
    uint32_t bit = ld32(b, host(p) + F_BIT);
    return (bit >= RB_LOG_MIN + k && bit <= 31u) ? bit : RB_NIL;
}

static uint32_t dir_of(uint32_t key, uint32_t bit) { return (key >> bit) & 1u; }

/* Store v at a location: RB_NIL = the root of tree k, else a byte offset in the buffer. */
static void set_loc(struct rb_state *S, uint8_t *b, uint32_t k, uint32_t loc, uint32_t v)
{
    if (loc == RB_NIL)
        S->root[k] = v;
    else
        st32(b, loc, v);
}

/* Follow `key`'s bits from the root of tree k to a leaf. Returns the leaf (RB_NIL for an
 * empty tree); *bad is set on a malformed structure. If `target` is met on the way,
 * *seen is set. */
static uint32_t descend(const struct rb_state *S, const uint8_t *b, uint32_t k, uint32_t key,
                        uint32_t target, int *seen, int *bad)
{
    uint32_t p = S->root[k], limit = 32u;
    for (uint32_t n = 0; is_node(p); n++) {
        uint32_t bit = node_bit(S, b, p, k);
        if (n >= RB_DEPTH || bit == RB_NIL || bit >= limit) {
            *bad = 1;
            return RB_NIL;
        }
        if (p == target)
            *seen = 1;
        limit = bit;
        p = ld32(b, host(p) + 4u * dir_of(key, bit));
    }
    return p;
}

/* Is the block at `key` a free block of order k? */
static int contains(const struct rb_state *S, const uint8_t *b, uint32_t k, uint32_t key)
{
    int seen = 0, bad = 0;
    uint32_t leaf = descend(S, b, k, key, RB_NIL, &seen, &bad);
    return !bad && leaf == key;
}

/* Does tree k hold a block inside the aligned range [lo, lo + (1 << pb))? (pb <= 31) */
static int any_in(const struct rb_state *S, const uint8_t *b, uint32_t k, uint32_t lo, uint32_t pb)
{
    uint32_t p = S->root[k], limit = 32u;
    for (uint32_t n = 0; is_node(p); n++) {
        uint32_t bit = node_bit(S, b, p, k);
        if (n >= RB_DEPTH || bit == RB_NIL || bit >= limit)
            return 1; /* malformed: be conservative */
        limit = bit;
        /* below pb every key of the subtree shares lo's bits >= pb, or none does */
        p = ld32(b, host(p) + 4u * (bit < pb ? 0u : dir_of(lo, bit)));
    }
    return p != RB_NIL && (p >> pb) == (lo >> pb);
}

/* Insert block x (not present) into tree k. */
static int insert(struct rb_state *S, uint8_t *b, uint32_t k, uint32_t x)
{
    if (S->root[k] == RB_NIL) {
        S->root[k] = x;
        S->free += bsz(k);
        return VNV_OK;
    }
    int seen = 0, bad = 0;
    uint32_t leaf = descend(S, b, k, x, RB_NIL, &seen, &bad);
    if (bad || leaf == x || leaf == RB_NIL || is_node(leaf))
        return VNV_ERR_CORRUPT;
    uint32_t diff = leaf ^ x, crit = 31u;
    while (!(diff >> crit)) /* diff != 0: ends at its highest set bit */
        crit--;
    /* find where the new node goes: below every node whose bit is > crit */
    uint32_t loc = RB_NIL, p = S->root[k];
    for (uint32_t n = 0; is_node(p) && n < RB_DEPTH; n++) {
        uint32_t bit = node_bit(S, b, p, k);
        if (bit == RB_NIL)
            return VNV_ERR_CORRUPT;
        if (bit < crit)
            break;
        loc = host(p) + 4u * dir_of(x, bit);
        p = ld32(b, loc);
    }
    uint32_t d = dir_of(x, crit);
    st32(b, x + 4u * d, x);
    st32(b, x + 4u * (1u - d), p);
    st32(b, x + F_BIT, crit);
    set_loc(S, b, k, loc, x | 1u);
    S->free += bsz(k);
    return VNV_OK;
}

/* Remove block x from tree k if present: 1 removed, 0 absent, <0 malformed. */
static int remove_blk(struct rb_state *S, uint8_t *b, uint32_t k, uint32_t x)
{
    uint32_t p = S->root[k], loc = RB_NIL, par = RB_NIL, par_loc = RB_NIL, r_loc = RB_NIL;
    uint32_t limit = 32u;
    int has_r = 0;
    for (uint32_t n = 0; is_node(p); n++) {
        uint32_t bit = node_bit(S, b, p, k);
        if (n >= RB_DEPTH || bit == RB_NIL || bit >= limit)
            return VNV_ERR_CORRUPT;
        if (p == (x | 1u)) { /* the node x hosts: it must move elsewhere */
            has_r = 1;
            r_loc = loc;
        }
        par = p;
        par_loc = loc;
        limit = bit;
        loc = host(p) + 4u * dir_of(x, bit);
        p = ld32(b, loc);
    }
    if (p != x)
        return 0;
    if (par == RB_NIL) {
        S->root[k] = RB_NIL;
    } else {
        uint32_t ph = host(par);
        uint32_t sibling = ld32(b, loc == ph + F_C0 ? ph + F_C1 : ph + F_C0);
        set_loc(S, b, k, par_loc, sibling); /* the parent node disappears */
        if (has_r && ph != x) {
            /* block ph lost its node; x leaves: move x's node into ph */
            memcpy(b + ph, b + x, 12);
            set_loc(S, b, k, r_loc, ph | 1u);
        }
    }
    S->free -= bsz(k);
    return 1;
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
        S->root[k] = RB_NIL;
    uint8_t *b = base;
    uint32_t top = bsz(RB_MAXO), ntop = size / top, rest = size - ntop * top;
    for (uint32_t i = 0; i < ntop; i++)
        (void)insert(S, b, RB_MAXO, i * top); /* fresh tree: cannot fail */
    for (uint32_t j = 0; j < RB_MAXO; j++) {
        if (rest & bsz(j)) { /* one block per binary digit of the rest, above the top blocks */
            S->root[j] = ntop * top + (rest & ~(2u * bsz(j) - 1u));
            S->free += bsz(j);
        }
    }
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
    while (j < RB_NORD && S->root[j] == RB_NIL)
        j++;
    if (j >= RB_NORD)
        return VNV_ERR_NOMEM;
    uint8_t *b = rb_base(S);
    uint32_t x = S->root[j]; /* lowest block: leftmost leaf */
    for (uint32_t n = 0; is_node(x); n++) {
        if (n >= RB_DEPTH || node_bit(S, b, x, j) == RB_NIL)
            return VNV_ERR_CORRUPT;
        x = ld32(b, host(x) + F_C0);
    }
    if (remove_blk(S, b, j, x) != 1)
        return VNV_ERR_CORRUPT;
    while (j > k) { /* keep the lower half, free the upper one (its tree is empty) */
        j--;
        int err = insert(S, b, j, x + bsz(j));
        if (err)
            return err;
    }
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
        if (contains(S, b, j, a))
            break;
    }
    if (j > c)
        return VNV_ERR_NOMEM;
    if (remove_blk(S, b, j, a) != 1)
        return VNV_ERR_CORRUPT;
    while (j > k) { /* split, keeping the half that contains off */
        j--;
        uint32_t other = (off & bsz(j)) ? a : a + bsz(j);
        if (off & bsz(j))
            a += bsz(j);
        int err = insert(S, b, j, other);
        if (err)
            return err;
    }
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
    /* The block must not overlap any free block: not inside a free block of order >= k
     * (double free), and holding no free block of a lower order (wrong size / stale). */
    for (uint32_t j = k; j <= c; j++)
        if (contains(S, b, j, off & ~(bsz(j) - 1u)))
            return VNV_ERR_INVAL;
    for (uint32_t j = 0; j < k; j++)
        if (any_in(S, b, j, off, RB_LOG_MIN + k))
            return VNV_ERR_INVAL;

    uint32_t x = off;
    while (k < c) {
        int r = remove_blk(S, b, k, x ^ bsz(k)); /* the buddy, if it is free */
        if (r < 0)
            return r;
        if (r == 0)
            break;
        x &= ~bsz(k);
        k++;
    }
    return insert(S, b, k, x);
}

static int rb_fits(void *st, uint32_t size)
{
    const struct rb_state *S = rb_get(st);
    if (!S)
        return 0;
    for (uint32_t j = order_for(size); j < RB_NORD; j++)
        if (S->root[j] != RB_NIL)
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

/* Validate tree k completely; adds its bytes to *total. */
static int check_tree(const struct rb_state *S, const uint8_t *b, uint32_t k, uint32_t *total)
{
    uint32_t stack[RB_DEPTH], sp = 0, p = S->root[k], limit = 32u;
    uint32_t leaves = 0, nodes = 0, prev = 0, bound = 2u * (S->size / bsz(k)) + 1u;
    if (p == RB_NIL)
        return VNV_OK;
    for (uint32_t steps = 0;; steps++) {
        uint32_t c;
        if (steps > bound)
            return VNV_ERR_CORRUPT;
        if (is_node(p)) {
            uint32_t bit = node_bit(S, b, p, k);
            int seen = 0, bad = 0;
            if (bit == RB_NIL || bit >= limit || sp >= RB_DEPTH || !node_ok(S, host(p), k, &c))
                return VNV_ERR_CORRUPT;
            /* the host is a leaf of this tree and the node lies on its path */
            if (descend(S, b, k, host(p), p, &seen, &bad) != host(p) || !seen || bad)
                return VNV_ERR_CORRUPT;
            stack[sp++] = p;
            nodes++;
            limit = bit;
            p = ld32(b, host(p) + F_C0);
            continue;
        }
        /* a leaf, visited in address order */
        if (p == RB_NIL || !node_ok(S, p, k, &c) || (leaves && p <= prev) || !contains(S, b, k, p))
            return VNV_ERR_CORRUPT;
        if (k < c && contains(S, b, k, p ^ bsz(k)))
            return VNV_ERR_CORRUPT; /* two free buddies: should have merged */
        for (uint32_t j = k + 1; j <= c; j++)
            if (contains(S, b, j, p & ~(bsz(j) - 1u)))
                return VNV_ERR_CORRUPT; /* inside a bigger free block */
        if (*total > S->size - bsz(k))
            return VNV_ERR_CORRUPT;
        *total += bsz(k);
        leaves++;
        prev = p;
        if (sp == 0)
            break;
        uint32_t q = stack[--sp];
        limit = ld32(b, host(q) + F_BIT);
        p = ld32(b, host(q) + F_C1);
    }
    return nodes + 1u == leaves ? VNV_OK : VNV_ERR_CORRUPT;
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
        int err = check_tree(S, b, k, &total);
        if (err)
            return err;
    }
    return total == S->free ? VNV_OK : VNV_ERR_CORRUPT;
}

/* Free block bytes plus the uncarvable tail (size % 16), so that the footprints of the
 * allocated blocks plus free_bytes always add up to the managed size. */
static uint32_t rb_free_bytes(const void *st)
{
    const struct rb_state *S = rb_cget(st);
    return S ? S->free + (S->size & (RB_MIN - 1u)) : 0;
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

#endif /* !VNV_MINIMAL */

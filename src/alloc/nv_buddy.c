/*
 * nv_buddy.c - `vnv_nv_buddy`: buddy allocator whose whole state lives on storage.
 *
 * On-storage layout of the region [off, off + size), all integers little-endian u32:
 *
 *   region header (hdr = round_up(32 + 4 * nord, 16) bytes)
 *     +0  magic NB_MAGIC            +16 hdr (block area offset inside the region)
 *     +4  version NB_VERSION        +20 area_size (bytes of the block area, multiple of 16)
 *     +8  off (region start)        +24 nord (number of free lists)
 *     +12 size (region size)        +28 CRC-32 of bytes 0..27 (the static geometry)
 *     +32 head[0 .. nord-1]         first free block of each order (area-relative), NB_NIL
 *   block area [off + hdr, off + hdr + area_size)
 *
 * Orders: block of order k = 16 << k bytes (16 B .. 16 MiB, at most 21 orders), naturally
 * aligned relative to the block-area start. The area is carved greedily (as many 16 MiB
 * blocks as fit, then one block per lower binary digit); blocks never merge across carved
 * blocks. The geometry is a pure function of `size`, so attach can verify it.
 *
 * Block headers (at the block start; "tag" = position hash | state << 5 | order, so a
 * header is only valid at the position it was written for):
 *     free block:      { tag(FREE, k), next, prev }   12 bytes, doubly linked list
 *     allocated block: { tag(ALLOC, k) }               4 bytes; alloc returns block + 4
 * A request of n bytes takes a block of next_pow2(n + 4) >= 16 bytes.
 * Headers only ever sit at block starts: whenever a freed block becomes the interior of a
 * merged block, its ALLOC tag is overwritten with a DEAD tag, so free(off) can trust the
 * 4 bytes at off-4 (the caller owns only [block+4, ...)). Stale FREE tags may remain inside
 * merged free blocks; they are harmless (nothing reads interiors, and free() of such an
 * offset sees FREE and returns VNV_ERR_INVAL). Residual risk, documented: free() of a forged
 * offset that points into the caller's own data, where the 4 preceding bytes happen to be
 * exactly the ALLOC tag for that position (24-bit position hash + state + order), would be
 * accepted; check() would then report the damage.
 *
 * free_bytes() reports the usable payload: sum over free blocks of (block size - 4).
 *
 * RAM state (the cache): geometry, the heads, free byte/block totals (recomputed on attach
 * by walking the lists). Every change of a head is written through to the region header.
 *
 * Storage transactions per operation (each = one read/write call; nord <= 21, "m" = the
 * number of merges, "s" = the number of splits):
 *     alloc:  1 read (popped block's header)
 *             + 1 write (next block's prev link, if the list had another entry)
 *             + s writes (header of each split-off upper half; those lists were empty)
 *             + 1 write (heads[k..j], one contiguous piece) + 1 write (ALLOC tag)
 *             = s + 4 <= nord + 3                                   -> NB_ALLOC_MAX_TX
 *     free:   1 read (own header: tag + 8 bytes kept for a rollback)
 *             + per merge: 1 read (buddy header) + <= 2 writes (unlink: prev->next,
 *               next->prev)
 *             + 1 read (the buddy that is not free, unless the carved block's top order
 *               was reached)
 *             + 1 write (merged free header) + <= 1 write (old head's prev)
 *             + 1 write (heads range) + <= 1 write (DEAD tag over the freed block's header
 *               if it became an interior)
 *             <= 3m + 6 with m <= nord - 2, or 3m + 5 with m <= nord - 1
 *             <= 3 * nord + 2                                       -> NB_FREE_MAX_TX
 *     format: 1 write (clear magic) + one write per carved block + 1 write (header)
 *     attach: 1 read (header) + 1 read per free block
 *     check:  1 read (header) + 1 read per free block + 1 read per block
 * Complexity: alloc, free O(nord); format O(nord + size/16 MiB); attach O(free blocks);
 * check O(blocks). Every walk is bounded by the number of blocks the area can hold.
 *
 * Crash atomicity is not provided (the heap detects an interrupted operation); but when an
 * operation returns success, all its writes have been issued and the structure is valid.
 * Storage errors: if a storage call fails in the middle of alloc/free, the operation is
 * rolled back from an undo log (old values of every word written, old heads; ~0.5 KiB of
 * stack) and the error returned: nothing is committed and the allocator stays usable. Only
 * if a rollback write fails as well does the RAM state detach (later calls return
 * VNV_ERR_INVAL until attach). A rollback costs at most as many writes as were issued.
 *
 * No allocation, no recursion; only <string.h>/<stdint.h>/<stddef.h>.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vnvheap/alloc.h"

#define NB_MIN 16u
#define NB_NORD_MAX 21u              /* orders 0..20: 16 B .. 16 MiB */
#define NB_MAXO (NB_NORD_MAX - 1u)
#define NB_FIXED 32u                 /* bytes of the header before the heads */
#define NB_MAGIC 0x42564E56u         /* "VNVB" little-endian */
#define NB_VERSION 1u
#define NB_NIL 0xFFFFFFFFu
#define NB_SALT 0xB0DDB10Cu
#define NB_RAM_MAGIC 0x4E564244u     /* marks an attached RAM state */

#define NB_FREE 1u
#define NB_ALLOC 2u
#define NB_DEAD 3u

/* Documented worst-case transaction counts (see the table above). */
#define NB_ALLOC_MAX_TX(nord) ((nord) + 3u)
#define NB_FREE_MAX_TX(nord) (3u * (nord) + 2u)

struct nb_state {
    uint32_t magic;
    uint32_t off, size;    /* region on storage */
    uint32_t area;         /* absolute storage offset of the block area */
    uint32_t area_size;    /* bytes of the block area (multiple of 16) */
    uint32_t nord;         /* number of free lists */
    uint32_t hdr;          /* region header size */
    uint32_t free_bytes;   /* sum of free block sizes */
    uint32_t free_count;   /* number of free blocks */
    uint32_t head[NB_NORD_MAX];
};

_Static_assert(sizeof(struct nb_state) <= VNV_NV_STATE_MAX, "nv buddy state too large");

/* ---- helpers ------------------------------------------------------------------------ */

static uint32_t bsz(uint32_t k) { return NB_MIN << k; }

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc32_le(const uint8_t *p, uint32_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint32_t tag_of(uint32_t pos, uint32_t state, uint32_t k)
{
    return ((((pos >> 4) * 0x9E3779B1u) ^ NB_SALT) & ~0xFFu) | (state << 5) | k;
}

/* Decode a tag read at pos: 1 and state/order if it is a tag written for this position. */
static int tag_dec(uint32_t pos, uint32_t raw, uint32_t *state, uint32_t *k)
{
    if ((raw & ~0xFFu) != (tag_of(pos, 0, 0) & ~0xFFu))
        return 0;
    *state = (raw >> 5) & 7u;
    *k = raw & 31u;
    return 1;
}

/* Region geometry, a pure function of the region size. 0 if the region is too small. */
static int geometry(uint32_t size, uint32_t *nord, uint32_t *hdr, uint32_t *area_size)
{
    if (size < NB_FIXED + 4u + NB_MIN)
        return 0;
    uint32_t usable = size - NB_FIXED, n = 1;
    while (n < NB_NORD_MAX && bsz(n) <= usable)
        n++;
    uint32_t h = (NB_FIXED + 4u * n + 15u) & ~15u;
    if (size < h + NB_MIN)
        return 0;
    *nord = n;
    *hdr = h;
    *area_size = (size - h) & ~15u;
    return 1;
}

/* Carved block containing area-relative pos: 1 and its start/order, 0 past the carve. */
static int carve_find(uint32_t area_size, uint32_t pos, uint32_t *start, uint32_t *order)
{
    uint32_t top = bsz(NB_MAXO), ntop = area_size / top;
    if (pos / top < ntop) {
        *start = pos & ~(top - 1u);
        *order = NB_MAXO;
        return 1;
    }
    uint32_t rest = area_size - ntop * top, acc = ntop * top;
    for (uint32_t j = NB_MAXO; j-- > 0;) {
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

/* Node (pos, k) aligned and inside one carved block; *c = the carved block's order. */
static int node_ok(const struct nb_state *S, uint32_t pos, uint32_t k, uint32_t *c)
{
    uint32_t start;
    if (k >= S->nord || (pos & (bsz(k) - 1u)) != 0 || !carve_find(S->area_size, pos, &start, c))
        return 0;
    return k <= *c;
}

static int link_ok(const struct nb_state *S, uint32_t pos, uint32_t k)
{
    uint32_t c;
    return pos == NB_NIL || node_ok(S, pos, k, &c);
}

static struct nb_state *nb_get(void *st)
{
    struct nb_state *S = st;
    return (S && S->magic == NB_RAM_MAGIC) ? S : NULL;
}

static int rd(const struct nb_state *S, const struct vnv_storage *s, uint32_t pos, void *dst,
              uint32_t len)
{
    return vnv_storage_read(s, S->area + pos, dst, len);
}

static int wr32(const struct nb_state *S, const struct vnv_storage *s, uint32_t pos, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    return vnv_storage_write(s, S->area + pos, b, 4);
}

/* Write a free header {tag, next, prev} at pos. */
static int wr_free_hdr(const struct nb_state *S, const struct vnv_storage *s, uint32_t pos,
                       uint32_t k, uint32_t next, uint32_t prev)
{
    uint8_t b[12];
    put32(b, tag_of(pos, NB_FREE, k));
    put32(b + 4, next);
    put32(b + 8, prev);
    return vnv_storage_write(s, S->area + pos, b, sizeof b);
}

/* Write heads[lo..hi] through to the region header (one transaction). */
static int wr_heads(const struct nb_state *S, const struct vnv_storage *s, uint32_t lo,
                    uint32_t hi)
{
    uint8_t b[4u * NB_NORD_MAX];
    if (lo > hi || hi >= NB_NORD_MAX)
        return VNV_ERR_INVAL; /* never: callers pass orders */
    uint32_t n = hi - lo + 1u;
    for (uint32_t i = 0; i < n && i < NB_NORD_MAX; i++)
        put32(b + 4u * i, S->head[lo + i]);
    return vnv_storage_write(s, S->off + NB_FIXED + 4u * lo, b, 4u * n);
}

static int region_ok(const struct vnv_storage *s, uint32_t off, uint32_t size)
{
    return s && s->read && s->write && off <= s->size && size <= s->size - off;
}

/* Fill the static part of the RAM state from (off, size); 0 if the geometry is invalid. */
static int set_geometry(struct nb_state *S, uint32_t off, uint32_t size)
{
    uint32_t nord, hdr, area_size;
    if (!geometry(size, &nord, &hdr, &area_size))
        return 0;
    memset(S, 0, sizeof *S);
    S->off = off;
    S->size = size;
    S->hdr = hdr;
    S->area = off + hdr;
    S->area_size = area_size;
    S->nord = nord;
    for (uint32_t k = 0; k < NB_NORD_MAX; k++)
        S->head[k] = NB_NIL;
    return 1;
}

static void encode_fixed(const struct nb_state *S, uint8_t *b)
{
    put32(b + 0, NB_MAGIC);
    put32(b + 4, NB_VERSION);
    put32(b + 8, S->off);
    put32(b + 12, S->size);
    put32(b + 16, S->hdr);
    put32(b + 20, S->area_size);
    put32(b + 24, S->nord);
    put32(b + 28, crc32_le(b, 28));
}

/* Walk every free list (bounded), verifying each entry; totals and a fingerprint of the
 * set of (position, order) pairs go to the out parameters. */
static int walk_lists(const struct nb_state *S, const struct vnv_storage *s, uint32_t *bytes,
                      uint32_t *count, uint32_t *fp_sum, uint32_t *fp_xor)
{
    uint32_t total = 0, cnt = 0, fs = 0, fx = 0;
    for (uint32_t k = 0; k < S->nord; k++) {
        uint32_t prev = NB_NIL, e = S->head[k], bound = S->area_size / bsz(k);
        for (uint32_t n = 0; e != NB_NIL; n++) {
            uint32_t c, st, ko;
            uint8_t h[12];
            if (n >= bound || !node_ok(S, e, k, &c))
                return VNV_ERR_CORRUPT;
            int err = rd(S, s, e, h, sizeof h);
            if (err)
                return err;
            if (!tag_dec(e, get32(h), &st, &ko) || st != NB_FREE || ko != k ||
                get32(h + 8) != prev)
                return VNV_ERR_CORRUPT;
            total += bsz(k); /* entries are distinct blocks: bounded by area_size */
            if (total > S->area_size)
                return VNV_ERR_CORRUPT;
            cnt++;
            fs += (e ^ k) * 0x85EBCA6Bu + 0x165667B1u;
            fx ^= (e + k) * 0xC2B2AE35u;
            prev = e;
            e = get32(h + 4);
        }
    }
    *bytes = total;
    *count = cnt;
    *fp_sum = fs;
    *fp_xor = fx;
    return VNV_OK;
}

/* ---- operations --------------------------------------------------------------------- */

static int nb_format(void *st, const struct vnv_storage *s, uint32_t off, uint32_t size)
{
    struct nb_state *S = st;
    if (!S)
        return VNV_ERR_INVAL;
    S->magic = 0;
    if (!region_ok(s, off, size) || !set_geometry(S, off, size))
        return VNV_ERR_INVAL;
    uint8_t zero[4] = {0, 0, 0, 0};
    int err = vnv_storage_write(s, off, zero, sizeof zero); /* invalidate an old region */
    if (err)
        return err;

    uint32_t top = bsz(NB_MAXO), ntop = S->area_size / top, rest = S->area_size - ntop * top;
    for (uint32_t i = 0; i < ntop; i++) {
        err = wr_free_hdr(S, s, i * top, NB_MAXO, i + 1u < ntop ? (i + 1u) * top : NB_NIL,
                          i ? (i - 1u) * top : NB_NIL);
        if (err)
            return err;
        S->free_bytes += top;
        S->free_count++;
    }
    if (ntop)
        S->head[NB_MAXO] = 0;
    for (uint32_t j = 0; j < NB_MAXO; j++) {
        if (rest & bsz(j)) {
            uint32_t pos = ntop * top + (rest & ~(2u * bsz(j) - 1u));
            err = wr_free_hdr(S, s, pos, j, NB_NIL, NB_NIL);
            if (err)
                return err;
            S->head[j] = pos;
            S->free_bytes += bsz(j);
            S->free_count++;
        }
    }

    uint8_t b[NB_FIXED + 4u * NB_NORD_MAX];
    encode_fixed(S, b);
    for (uint32_t k = 0; k < S->nord; k++)
        put32(b + NB_FIXED + 4u * k, S->head[k]);
    err = vnv_storage_write(s, off, b, NB_FIXED + 4u * S->nord);
    if (err)
        return err;
    S->magic = NB_RAM_MAGIC;
    return VNV_OK;
}

static int nb_attach(void *st, const struct vnv_storage *s, uint32_t off, uint32_t size)
{
    struct nb_state *S = st;
    if (!S)
        return VNV_ERR_INVAL;
    S->magic = 0;
    if (!region_ok(s, off, size))
        return VNV_ERR_INVAL;
    if (!set_geometry(S, off, size))
        return VNV_ERR_CORRUPT; /* no region of this size can exist */
    uint8_t b[NB_FIXED + 4u * NB_NORD_MAX], want[NB_FIXED];
    int err = vnv_storage_read(s, off, b, NB_FIXED + 4u * S->nord);
    if (err)
        return err;
    encode_fixed(S, want);
    if (memcmp(b, want, NB_FIXED) != 0)
        return VNV_ERR_CORRUPT; /* magic, version, geometry or CRC mismatch */
    for (uint32_t k = 0; k < S->nord; k++) {
        S->head[k] = get32(b + NB_FIXED + 4u * k);
        if (!link_ok(S, S->head[k], k))
            return VNV_ERR_CORRUPT;
    }
    uint32_t fs, fx;
    err = walk_lists(S, s, &S->free_bytes, &S->free_count, &fs, &fx);
    if (err)
        return err;
    S->magic = NB_RAM_MAGIC;
    return VNV_OK;
}

/* Undo log of one alloc/free: on a storage error every write already issued (and the one
 * that failed) is written back with its old value, and the RAM heads are restored, so a
 * failed operation commits nothing (provided the rollback writes succeed; if one fails too,
 * the state detaches). Header writes into what stays the interior of a free block need no
 * undo (interiors are never read). */
#define NB_LOG_MAX (2u * NB_NORD_MAX + 2u)
struct nb_txn {
    uint32_t n;
    uint32_t pos[NB_LOG_MAX], old[NB_LOG_MAX]; /* u32 writes: position and old value */
    uint32_t heads[NB_NORD_MAX];               /* RAM heads before the operation */
    uint32_t hlo, hhi;                         /* heads range written (hlo > hhi: none) */
    uint32_t blk;                              /* 12-byte write at blk (NB_NIL: none) */
    uint8_t blk_old[12];
};

static void txn_begin(struct nb_txn *t, const struct nb_state *S)
{
    t->n = 0;
    memcpy(t->heads, S->head, sizeof t->heads);
    t->hlo = 1;
    t->hhi = 0;
    t->blk = NB_NIL;
}

static int txn_wr32(struct nb_txn *t, const struct nb_state *S, const struct vnv_storage *s,
                    uint32_t pos, uint32_t v, uint32_t old)
{
    if (t->n >= NB_LOG_MAX)
        return VNV_ERR_CORRUPT; /* cannot happen: at most 2 per merge level + 2 */
    t->pos[t->n] = pos;
    t->old[t->n++] = old;
    return wr32(S, s, pos, v);
}

static int txn_heads(struct nb_txn *t, const struct nb_state *S, const struct vnv_storage *s,
                     uint32_t lo, uint32_t hi)
{
    t->hlo = lo;
    t->hhi = hi;
    return wr_heads(S, s, lo, hi);
}

static int txn_abort(struct nb_txn *t, struct nb_state *S, const struct vnv_storage *s, int err)
{
    int ok = 1;
    if (t->blk != NB_NIL && vnv_storage_write(s, S->area + t->blk, t->blk_old, 12))
        ok = 0;
    for (uint32_t i = t->n; i-- > 0;)
        if (wr32(S, s, t->pos[i], t->old[i]))
            ok = 0;
    memcpy(S->head, t->heads, sizeof S->head);
    if (t->hlo <= t->hhi && wr_heads(S, s, t->hlo, t->hhi))
        ok = 0;
    if (!ok)
        S->magic = 0; /* storage no longer known: the caller must attach again */
    return err;
}

static int nb_alloc(void *st, const struct vnv_storage *s, uint32_t size, uint32_t *out)
{
    struct nb_state *S = nb_get(st);
    if (!S || !out || size == 0)
        return VNV_ERR_INVAL;
    if (size > bsz(NB_MAXO) - 4u)
        return VNV_ERR_NOSPC;
    uint32_t k = 0;
    while (bsz(k) < size + 4u) /* terminates: size + 4 <= bsz(NB_MAXO) */
        k++;
    uint32_t j = k;
    while (j < S->nord && S->head[j] == NB_NIL)
        j++;
    if (j >= S->nord)
        return VNV_ERR_NOSPC;

    uint32_t x = S->head[j], ko, stt;
    uint8_t h[12];
    int err = rd(S, s, x, h, sizeof h);
    if (err)
        return err;
    uint32_t nx = get32(h + 4);
    if (!tag_dec(x, get32(h), &stt, &ko) || stt != NB_FREE || ko != j || get32(h + 8) != NB_NIL ||
        nx == x || !link_ok(S, nx, j))
        return VNV_ERR_CORRUPT;

    struct nb_txn t;
    txn_begin(&t, S);
    for (uint32_t i = j; i-- > k;) { /* split: free upper halves; lists k..j-1 were empty */
        err = wr_free_hdr(S, s, x + bsz(i), i, NB_NIL, NB_NIL);
        if (err)
            return txn_abort(&t, S, s, err);
        S->head[i] = x + bsz(i);
    }
    S->head[j] = nx;
    err = txn_heads(&t, S, s, k, j);
    if (!err && nx != NB_NIL)
        err = txn_wr32(&t, S, s, nx + 8u, NB_NIL, x);
    if (!err)
        err = txn_wr32(&t, S, s, x, tag_of(x, NB_ALLOC, k), tag_of(x, NB_FREE, j));
    if (err)
        return txn_abort(&t, S, s, err);
    S->free_bytes -= bsz(k);
    S->free_count += j - k;
    S->free_count--;
    *out = S->area + x + 4u;
    return VNV_OK;
}

static int nb_free(void *st, const struct vnv_storage *s, uint32_t off)
{
    struct nb_state *S = nb_get(st);
    if (!S)
        return VNV_ERR_INVAL;
    if (off < S->area + 4u || off - 4u - S->area >= S->area_size || ((off - 4u - S->area) & 15u))
        return VNV_ERR_INVAL;
    uint32_t p = off - 4u - S->area, k, stt, c;
    uint8_t h[12], mine[12], low[12] = {0};
    int err = rd(S, s, p, mine, sizeof mine); /* tag + 8 bytes, kept for a rollback */
    if (err)
        return err;
    if (!tag_dec(p, get32(mine), &stt, &k) || stt != NB_ALLOC || !node_ok(S, p, k, &c))
        return VNV_ERR_INVAL; /* double free, forged offset */

    struct nb_txn t;
    txn_begin(&t, S);
    uint32_t x = p, j = k, freed = 0, merged = 0;
    while (j < c) {
        uint32_t bud = x ^ bsz(j), bst, bk;
        err = rd(S, s, bud, h, sizeof h);
        if (err)
            return txn_abort(&t, S, s, err);
        if (!tag_dec(bud, get32(h), &bst, &bk) || bst != NB_FREE || bk != j)
            break;
        uint32_t nx = get32(h + 4), pv = get32(h + 8);
        if (nx == bud || pv == bud || !link_ok(S, nx, j) || !link_ok(S, pv, j) ||
            (pv == NB_NIL && S->head[j] != bud))
            return txn_abort(&t, S, s, VNV_ERR_CORRUPT);
        if (pv == NB_NIL)
            S->head[j] = nx; /* written with the heads range below */
        else
            err = txn_wr32(&t, S, s, pv + 4u, nx, bud);
        if (!err && nx != NB_NIL)
            err = txn_wr32(&t, S, s, nx + 8u, pv, bud);
        if (err)
            return txn_abort(&t, S, s, err);
        if (bud < x)
            memcpy(low, h, sizeof low); /* the header at the merged block's start */
        freed += bsz(j);
        merged++;
        x &= ~bsz(j);
        j++;
    }
    uint32_t old = S->head[j];
    t.blk = x;
    memcpy(t.blk_old, x == p ? mine : low, sizeof t.blk_old);
    err = wr_free_hdr(S, s, x, j, old, NB_NIL);
    if (!err && old != NB_NIL)
        err = txn_wr32(&t, S, s, old + 8u, x, NB_NIL);
    S->head[j] = x;
    if (!err)
        err = txn_heads(&t, S, s, k, j);
    if (!err && x != p) /* the freed block is an interior now: kill its ALLOC tag */
        err = txn_wr32(&t, S, s, p, tag_of(p, NB_DEAD, k), tag_of(p, NB_ALLOC, k));
    if (err)
        return txn_abort(&t, S, s, err);
    S->free_bytes = S->free_bytes - freed + bsz(j);
    S->free_count = S->free_count - merged + 1u;
    return VNV_OK;
}

/* Walk the block area block by block, carved block by carved block, validating every
 * header; sums describe the free blocks found. `visit` (optional) sees each allocated
 * block as (offset the caller got, usable bytes); a non-zero return stops the walk. */
struct walk_sums {
    uint32_t bytes, count, fs, fx;
};

static int walk_area(const struct nb_state *S, const struct vnv_storage *s,
                     int (*visit)(void *ctx, uint32_t off, uint32_t size), void *ctx,
                     struct walk_sums *w)
{
    int err;
    uint32_t wbytes = 0, wcount = 0, wfs = 0, wfx = 0;
    uint32_t top = bsz(NB_MAXO), ntop = S->area_size / top, rest = S->area_size - ntop * top;
    uint32_t cstart = 0;
    for (uint32_t ci = 0; ci < ntop + NB_MAXO; ci++) { /* every carved block */
        uint32_t c;
        if (ci < ntop) {
            c = NB_MAXO;
        } else {
            c = NB_MAXO - 1u - (ci - ntop);
            if (!(rest & bsz(c)))
                continue;
        }
        uint32_t cend = cstart + bsz(c), pos = cstart;
        uint32_t prev_free_pos = NB_NIL, prev_free_k = 0;
        /* each step advances >= 16 bytes: at most bsz(c) / 16 steps */
        for (uint32_t n = 0; pos < cend; n++) {
            uint32_t raw, stt, k;
            uint8_t h[4];
            if (n >= bsz(c) / NB_MIN)
                return VNV_ERR_CORRUPT;
            err = rd(S, s, pos, h, 4);
            if (err)
                return err;
            raw = get32(h);
            if (!tag_dec(pos, raw, &stt, &k) || (stt != NB_FREE && stt != NB_ALLOC) || k > c ||
                (pos & (bsz(k) - 1u)) != 0)
                return VNV_ERR_CORRUPT;
            if (stt == NB_FREE) {
                /* two free buddies of the same order must have been merged */
                if (prev_free_pos != NB_NIL && prev_free_k == k && prev_free_pos + bsz(k) == pos &&
                    (prev_free_pos & bsz(k)) == 0)
                    return VNV_ERR_CORRUPT;
                wbytes += bsz(k);
                wcount++;
                wfs += (pos ^ k) * 0x85EBCA6Bu + 0x165667B1u;
                wfx ^= (pos + k) * 0xC2B2AE35u;
                prev_free_pos = pos;
                prev_free_k = k;
            } else {
                prev_free_pos = NB_NIL;
                if (visit) {
                    int v = visit(ctx, S->area + pos + 4u, bsz(k) - 4u);
                    if (v)
                        return v;
                }
            }
            pos += bsz(k);
        }
        cstart = cend;
    }
    w->bytes = wbytes;
    w->count = wcount;
    w->fs = wfs;
    w->fx = wfx;
    return VNV_OK;
}

static int nb_check(void *st, const struct vnv_storage *s)
{
    struct nb_state *S = nb_get(st);
    if (!S || !region_ok(s, S->off, S->size))
        return VNV_ERR_INVAL;
    uint8_t b[NB_FIXED + 4u * NB_NORD_MAX], want[NB_FIXED];
    int err = vnv_storage_read(s, S->off, b, NB_FIXED + 4u * S->nord);
    if (err)
        return err;
    encode_fixed(S, want);
    if (memcmp(b, want, NB_FIXED) != 0)
        return VNV_ERR_CORRUPT;
    for (uint32_t k = 0; k < S->nord; k++)
        if (get32(b + NB_FIXED + 4u * k) != S->head[k])
            return VNV_ERR_CORRUPT; /* RAM cache and storage disagree */
    for (uint32_t k = S->nord; k < NB_NORD_MAX; k++)
        if (S->head[k] != NB_NIL)
            return VNV_ERR_CORRUPT;

    uint32_t lbytes, lcount, lfs, lfx;
    err = walk_lists(S, s, &lbytes, &lcount, &lfs, &lfx);
    if (err)
        return err;

    struct walk_sums w;
    err = walk_area(S, s, NULL, NULL, &w);
    if (err)
        return err;
    if (w.bytes != lbytes || w.count != lcount || w.fs != lfs || w.fx != lfx ||
        lbytes != S->free_bytes || lcount != S->free_count)
        return VNV_ERR_CORRUPT;
    return VNV_OK;
}

static int nb_walk(void *st, const struct vnv_storage *s,
                   int (*visit)(void *ctx, uint32_t off, uint32_t size), void *ctx)
{
    struct nb_state *S = nb_get(st);
    struct walk_sums w;
    if (!S || !visit || !region_ok(s, S->off, S->size))
        return VNV_ERR_INVAL;
    return walk_area(S, s, visit, ctx, &w);
}

static uint32_t nb_free_bytes(const void *st)
{
    const struct nb_state *S = st;
    if (!S || S->magic != NB_RAM_MAGIC)
        return 0;
    return S->free_bytes - 4u * S->free_count; /* usable payload of the free blocks */
}

const struct vnv_nv_allocator vnv_nv_buddy = {
    .name = "nv-buddy",
    .state_size = (uint32_t)sizeof(struct nb_state),
    .format = nb_format,
    .attach = nb_attach,
    .alloc = nb_alloc,
    .free = nb_free,
    .check = nb_check,
    .free_bytes = nb_free_bytes,
    .walk = nb_walk,
};

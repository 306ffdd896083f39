/* cksum.c - the checkpoint checksum: two 32-bit running sums over the little-endian
 * 32-bit words of the bytes fed, in pieces of any length (Fletcher's construction over
 * words, modulo 2^32). About 2.5 instructions a byte on rv32 where the CRC-32 needs 20 with
 * its 16-entry table; and since it is linear, the sums over the NV map are kept as the map
 * changes (internal.h, map_put), so a checkpoint sums only its header, records and undo
 * log. Tearing needs no checksum at all (the body is written and
 * synced before the header); this one catches media damage: a changed word always changes
 * the first sum, a moved one the second, and the 32-bit result misses a damaged checkpoint
 * about once in 2^32. docs/FORMAT.md 2.1 gives the definition. */
#include "internal.h"

void cksum_init(struct cksum *s)
{
    s->a = 1u; /* (all-zero bytes do not sum to 0) */
    s->b = 0u;
    s->part = 0u;
    s->n = 0u;
}

void cksum_add(struct cksum *s, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    for (; len && s->n; len--) { /* finish a word begun by the last piece */
        s->part |= (uint32_t)*p++ << (8u * s->n);
        if (++s->n == 4u) {
            s->a += s->part;
            s->b += s->a;
            s->part = 0u;
            s->n = 0u;
        }
    }
    uint32_t a = s->a, b = s->b;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (!((uintptr_t)p & 3u)) { /* aligned (the NV map, the records): one load a word */
        const uint8_t *q = __builtin_assume_aligned(p, 4);
        for (; len >= 4u; len -= 4u, q += 4u) {
            uint32_t w;
            memcpy(&w, q, 4);
            a += w;
            b += a;
        }
        p = q;
    }
#endif
    for (; len >= 4u; len -= 4u, p += 4u) {
        a += get_le32(p);
        b += a;
    }
    s->a = a;
    s->b = b;
    for (; len; len--) /* (s->n is 0 here) */
        s->part |= (uint32_t)*p++ << (8u * s->n++);
}

uint32_t cksum_end(const struct cksum *s)
{
    uint32_t a = s->a, b = s->b;
    if (s->n) { /* the last word, zero-padded */
        a += s->part;
        b += a;
    }
    return a ^ (b << 16 | b >> 16);
}

#include "rng.h"

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void rng_seed(struct rng *r, uint32_t seed)
{
    /* splitmix32 spreads one seed over the four state words (never all zero) */
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b9u;
        uint32_t z = seed;
        z = (z ^ (z >> 16)) * 0x85ebca6bu;
        z = (z ^ (z >> 13)) * 0xc2b2ae35u;
        r->s[i] = z ^ (z >> 16);
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

uint32_t rng_next(struct rng *r)
{
    uint32_t *s = r->s;
    uint32_t result = rotl(s[1] * 5, 7) * 9;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
}

uint32_t rng_below(struct rng *r, uint32_t n) { return (uint32_t)(((uint64_t)rng_next(r) * n) >> 32); }

void rng_fill(struct rng *r, void *buf, uint32_t len)
{
    uint8_t *p = buf;
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)rng_next(r);
}

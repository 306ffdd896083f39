/* rng.h - deterministic pseudo-random numbers for tests (xoshiro128**, seeded). */
#ifndef VNV_TEST_RNG_H
#define VNV_TEST_RNG_H
#include <stdint.h>

struct rng {
    uint32_t s[4];
};

void rng_seed(struct rng *r, uint32_t seed);
uint32_t rng_next(struct rng *r);
/* Uniform in [0, n) for n > 0. */
uint32_t rng_below(struct rng *r, uint32_t n);
void rng_fill(struct rng *r, void *buf, uint32_t len);
#endif

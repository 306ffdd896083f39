/* fuzz_input.h - what the libFuzzer harnesses share: the input, taken a byte at a time, and
 * the errors the environment may cause. */
#ifndef VNV_TEST_FUZZ_INPUT_H
#define VNV_TEST_FUZZ_INPUT_H
#include <stddef.h>
#include <stdint.h>

#include "vnvheap.h"

struct input {
    const uint8_t *p;
    size_t n;
};

/* The next byte, or 0 once the input is used up. */
static inline uint32_t take(struct input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* Errors of room (RAM, budget, storage) that a correct heap may return: nothing changed. */
static inline int env_error(int err)
{
    return err == VNV_ERR_NOMEM || err == VNV_ERR_BUDGET || err == VNV_ERR_NOSPC;
}

#endif

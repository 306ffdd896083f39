/* alloc_damage.h - one damage of a RAM allocator's state or buffer, for the check tests. */
#ifndef VNV_TEST_ALLOC_DAMAGE_H
#define VNV_TEST_ALLOC_DAMAGE_H
#include <stdint.h>

#include "vnvheap/alloc.h"

/* Store `bad` into the 4 bytes at `at` (a word of the state `st` or of its buffer), call
 * a->check, put the bytes back and call it again. Returns 0 if check said CORRUPT with the
 * damage and OK without it; 1 if it missed the damage; 2 if the undone state fails. */
int alloc_damage(const struct vnv_ram_allocator *a, const void *st, void *at, uint32_t bad);

#endif

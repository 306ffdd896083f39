/* fixture.h - a heap over emulated FRAM, with a RAM-wiping persist callback, for tests. */
#ifndef VNV_TEST_FIXTURE_H
#define VNV_TEST_FIXTURE_H

#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

struct fixture {
    struct vnv_heap heap;
    struct vnv_emu emu;
    struct vnv_storage storage;
    struct vnv_config cfg;
    uint8_t *nv;     /* emulated FRAM content */
    uint8_t *ram;    /* the heap's RAM buffer */
    int wipe;        /* persist callback: 1 = zero the buffer and report it lost */
    unsigned persist_calls;
    int last_status;
};

/* cfg.flags that fx_init puts in every configuration (e.g. VNV_CFG_NO_FREE_CACHE for tests
 * that check for leaks through stats.nv_free). */
extern uint32_t fx_default_flags;

/* Fill the config (modules NULL = defaults) over fresh zeroed memory; does not format. */
void fx_init(struct fixture *f, uint32_t nv_size, uint32_t ram_size, uint32_t max_dirty);
/* fx_init + vnv_format; returns the format result. */
int fx_format(struct fixture *f, uint32_t nv_size, uint32_t ram_size, uint32_t max_dirty);
/* Simulated reset: the RAM buffer and heap struct are trashed, storage kept; vnv_open. */
int fx_reboot(struct fixture *f);
void fx_free(struct fixture *f);
/* Heap counters restart at every vnv_open: a test adds them up before each reset. */
struct fx_totals {
    uint64_t persists, deferred, restores, callbacks;
};
void fx_collect(const struct fixture *f, struct fx_totals *t);
/* The NV map's bytes in every checkpoint of this (open) heap: the bound's constant part. */
uint32_t st_map_bytes(struct fixture *f);

#endif

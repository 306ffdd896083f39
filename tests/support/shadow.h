/*
 * shadow.h - a shadow model of one heap and a random, self-checking workload over it.
 *
 * The model holds, for every live object, its handle, size, bytes, partial block size and
 * pins (reader count / writer flag, and the pointer the heap handed out while pinned), the
 * last freed handles and the root. sh_step() performs one random API operation, predicts
 * its result from the model and checks the heap's answer and every byte it exposes. The
 * model lives outside the heap's buffer, so a checkpoint (and RAM wipe) from a signal
 * handler never touches it.
 *
 * Where the model cannot know the heap's internal state (residency, fragmentation) it
 * tolerates exactly the errors the contract allows and only when they are possible:
 *   NOMEM   only for a load while some other object is pinned (with first-fit: and the
 *           k pinned blocks may leave no hole of the object's size, i.e.
 *           (arena - pinned bytes) / (k + 1) < its block);
 *   BUDGET  only if the pinned objects' unfreeable checkpoint bytes + what the operation
 *           needs exceed max_dirty_bytes.
 * Every tolerated error is counted (sh_report).
 *
 * Failures are counted in shadow.fails (vtest's counters are per translation unit): a test
 * ends with CHECK_EQ(s.fails, 0).
 */
#ifndef VNV_TEST_SHADOW_H
#define VNV_TEST_SHADOW_H

#include <stdint.h>

#include "fixture.h"
#include "rng.h"

/* 1 when built with AddressSanitizer (shorter default runs). */
#if defined(__SANITIZE_ADDRESS__)
#define SH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SH_ASAN 1
#endif
#endif
#ifndef SH_ASAN
#define SH_ASAN 0
#endif

#define SH_MAX_OBJ 256
#define SH_MAX_FREED 64

struct sh_obj {
    vnv_obj_t h;
    uint32_t size;
    uint32_t block;   /* 0: plain object; else partial with this block size */
    uint8_t *val;     /* expected bytes */
    uint8_t readers;
    uint8_t writer;
    uint8_t *ptr;     /* what get/get_mut returned, while pinned */
};

struct sh_params {
    uint32_t max_objects;      /* live objects (<= SH_MAX_OBJ) */
    uint32_t max_size;         /* plain objects: 1 .. max_size bytes */
    uint32_t partial_pct;      /* % of allocations made with vnv_alloc_blocks */
    uint32_t max_partial_size; /* partial objects: 1 .. this */
    uint32_t max_pinned;       /* objects pinned at the same time */
    /* Arena bytes when the RAM allocator is first-fit (0: other allocator). Then a NOMEM is
     * also refused when the holes between the pinned blocks must hold the object. */
    uint32_t firstfit_arena;
};

enum sh_op {
    SH_ALLOC,
    SH_FREE,
    SH_GET,
    SH_GET_MUT,
    SH_WRITE,
    SH_READ_HELD,
    SH_RELEASE,
    SH_FLUSH,
    SH_UNLOAD,
    SH_SIZE,
    SH_ROOT,
    SH_BAD_HANDLE,
    SH_BAD_ARGS,
    SH_QUERY,
    SH_NOPS
};

struct shadow {
    struct fixture *f;
    struct rng r;
    struct sh_params p;
    const char *label;
    uint32_t seed;
    struct sh_obj o[SH_MAX_OBJ];
    uint32_t n;
    vnv_obj_t freed[SH_MAX_FREED];
    uint32_t nfreed, freed_pos;
    vnv_obj_t root;
    uint32_t npinned; /* objects with at least one pin */
    uint32_t max_dirty, bound;
    /* counters */
    uint64_t ops, checks, fails;
    uint64_t by_op[SH_NOPS];
    uint64_t tolerated_nomem, tolerated_budget, expected_busy, expected_inval;
    uint64_t reader_limit; /* gets refused because VNV_MAX_READERS readers held it */
    uint64_t checkpoints, wiped, restarts, reopens;
};

/* fx_init + vnv_format for a shadow run: `ram_alloc` NULL is first-fit, whose arena size
 * then goes into p->firstfit_arena (the model's NOMEM rule needs it). Returns the format
 * result. */
int sh_format(struct fixture *f, uint32_t nv_size, uint32_t ram, uint32_t dirty,
              const struct vnv_ram_allocator *ram_alloc, struct sh_params *p);
/* The heap in f must be open (formatted or opened, no objects yet unless the caller adds
 * them to the model). Copies p; seeds the random source with `seed`. */
void sh_init(struct shadow *s, struct fixture *f, const struct sh_params *p, uint32_t seed,
             const char *label);
/* Frees the model's memory (not the heap). */
void sh_destroy(struct shadow *s);

/* One random operation, checked. */
void sh_step(struct shadow *s);
/* The budget invariant as seen through vnv_stats: checkpoint_bytes <= bound <= max_dirty. */
void sh_check_budget(struct shadow *s);
/* Every pinned object is resident, its pointer unchanged and showing the expected bytes. */
void sh_check_pins(struct shadow *s);
/* get + compare + release of every object (writers are compared through their pointer). */
void sh_verify_all(struct shadow *s);
/* Release every pin through the API. */
void sh_release_all(struct shadow *s);
/* The heap was restarted: no pins survive. */
void sh_drop_pins(struct shadow *s);
/* vnv_root matches the model. */
void sh_check_root(struct shadow *s);

/*
 * A checkpoint at an operation boundary, checked: via vnv_persist_all() or vnv_checkpoint(),
 * the callback wiping RAM or not. The storage bytes written must equal the checkpoint_bytes
 * reported just before and never exceed the bound; counters and held pointers unchanged.
 * Storage traffic other than the checkpoint must not happen during the call.
 */
void sh_checkpoint(struct shadow *s, int via_persist_all, int wipe);
/* sh_checkpoint, then a simulated reset (fx_reboot): every value survives, pins are gone. */
void sh_restart(struct shadow *s);
/* Release all pins, vnv_close, reopen: every value survives. */
void sh_close_reopen(struct shadow *s);

/* Print the counters to stderr. */
void sh_report(const struct shadow *s);

/* `base` mixed with VNV_TEST_SEED from the environment (unset: base itself). */
uint32_t sh_seed(uint32_t base);
/* Ops multiplier from the environment (VNV_TEST_SCALE, default 1, may be fractional). */
double sh_scale(void);

#endif

/*
 * bench.h - the benchmark runner's framework (vnv-bench).
 *
 * A benchmark FAMILY has one bench_name (the original vNV-Heap's names where it had one)
 * and a number of POINTS (parameter settings, e.g. object sizes). Running a point builds
 * its scenario and calls bench_measure() with a prepare/run pair: `prepare` (not measured)
 * sets the state up before each repetition, `run` is the measured operation. For every
 * repetition the framework records
 *   - the CPU counter: host nanoseconds (informational) or, on rv32 under QEMU
 *     -icount shift=0, the exact number of retired instructions (minstret);
 *   - the emulated storage's counters (transactions, bytes) and its modeled device time
 *     under the selected cost profile (vnvheap/storage_emu.h).
 * and prints one JSON line in the original's [BENCH-INFO] schema plus our fields.
 *
 * Freestanding core: no POSIX outside the #ifdef VNV_BENCH_HOST parts of runner.c.
 */
#ifndef VNV_BENCH_H
#define VNV_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "vnvheap.h"
#include "vnvheap/storage_emu.h"

#if defined(__riscv)
#define BENCH_RV32 1
#else
#define BENCH_RV32 0
#endif

#ifndef BENCH_STORAGE_SIZE
#if BENCH_RV32
#define BENCH_STORAGE_SIZE (512u * 1024u)
#else
#define BENCH_STORAGE_SIZE (1024u * 1024u)
#endif
#endif

#define BENCH_MAX_REPS 1024u
#define BENCH_OPT_MAX 1024u

/* ---- a small JSON writer over a fixed buffer (no floating point printf needed) ---------- */

struct jw {
    char *buf;
    size_t cap, len;
    int need_comma; /* a value was written at the current nesting level */
};
void jw_init(struct jw *w, char *buf, size_t cap);
void jw_raw(struct jw *w, const char *s);     /* appended verbatim */
void jw_key(struct jw *w, const char *key);   /* "key": (with a comma if needed) */
void jw_obj_begin(struct jw *w);              /* { */
void jw_obj_end(struct jw *w);                /* } */
void jw_arr_begin(struct jw *w);              /* [ */
void jw_arr_end(struct jw *w);                /* ] */
void jw_str(struct jw *w, const char *s);     /* a string value */
void jw_u64(struct jw *w, uint64_t v);        /* an unsigned value */
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, int v);
void jw_fixed(struct jw *w, uint64_t num, uint64_t den, unsigned digits); /* num/den */
/* Shorthands for key + value. */
void jw_kstr(struct jw *w, const char *key, const char *v);
void jw_ku64(struct jw *w, const char *key, uint64_t v);
void jw_kbool(struct jw *w, const char *key, int v);
void jw_kfixed(struct jw *w, const char *key, uint64_t num, uint64_t den, unsigned digits);

/* ---- measured quantities ----------------------------------------------------------------- */

struct bench_sample {
    uint64_t cpu;        /* ns (host) or instructions (rv32) */
    uint64_t rd_tx, wr_tx, sync_tx, rd_bytes, wr_bytes;
    uint64_t modeled_ns; /* storage time under the profile */
};

/* ---- context ------------------------------------------------------------------------------ */

struct bench_ctx {
    /* options */
    int full;                 /* --full: the paper's repetitions and sweeps */
    int reps, cold;           /* --reps / --cold overrides (-1 = family default) */
    const char *filter;       /* --filter SUBSTR (NULL = all) */
    const char *profile_name; /* paper | spi40 | free */
    const struct vnv_emu_cost *profile;
    const char *policy_name;
    const struct vnv_policy *policy; /* --policy (default: clock, the library default) */
    int list_only;
    int verbose;              /* --verbose: two progress lines per point (the old output) */
    /* --original: the original's exact configurations (queue: 100 iterations, 3784-byte
     * buffer, items from its per-byte modulo; KVS dirty limit 11 534; get benchmarks time
     * the get alone; the counter's own cost is not subtracted) */
    int original;
    const char *file_path;    /* --storage-file PATH: a POSIX file (pread/pwrite, no sync) */
    /* the storage every benchmark uses */
    struct vnv_emu emu;
    uint8_t *mem;
    uint32_t mem_size;
    /* progress */
    unsigned total, done;
    unsigned failures;
    uint64_t cpu_overhead; /* counter cost of an empty measured region, subtracted */
};

/* The CPU counter (ns on the host, minstret on rv32). */
uint64_t bench_counter(void);
const char *bench_unit(void);
const char *bench_machine(void);
uint32_t bench_ticks_per_ms(void);

/* Reset the emulator over `size` bytes (<= mem_size) with the selected profile and fill
 * `*s` with its callbacks. The content is zeroed. With --storage-file the storage is that
 * file instead (host builds), behind a shim that updates the same counters (transactions,
 * bytes, modeled time under the profile), so every count stays comparable. */
void bench_storage(struct bench_ctx *c, uint32_t size, struct vnv_storage *s);
void bench_snapshot(struct bench_ctx *c, struct bench_sample *out); /* counters now */
void bench_diff(const struct bench_sample *a, const struct bench_sample *b,
                struct bench_sample *out); /* b - a */

/* ---- measuring a point ---------------------------------------------------------------------- */

struct bench_spec {
    const char *name;
    const char *options; /* JSON object text (bench_options) */
    unsigned reps, cold; /* family defaults (the ctx may override) */
    uint32_t ops;        /* operations per repetition (data is per repetition); 0 = 1 */
    int (*prepare)(void *arg, unsigned rep); /* before each repetition; NULL = none */
    int (*run)(void *arg, unsigned rep);     /* the measured part; nonzero = failure */
    /* Optional: more JSON fields for the result line (called once, after the reps). */
    void (*extra)(void *arg, struct jw *w);
    /* Optional: replace the measured samples (e.g. locked_wcet measures inside `run`). */
    int (*sample)(void *arg, unsigned rep, struct bench_sample *out);
    /* Nonzero: reps/cold are fixed by the benchmark (--reps/--cold do not apply). */
    int fixed;
};

/* Run cold + reps repetitions and print the result line. Returns 0 or the first error. */
int bench_measure(struct bench_ctx *c, const struct bench_spec *s, void *arg);

/* Default repetitions for a family: quick / full. */
unsigned bench_reps(const struct bench_ctx *c, unsigned quick, unsigned full);

/* ---- families ------------------------------------------------------------------------------- */

struct bench_family {
    const char *name;
    const char *group; /* micro | baseline | storage | persist | wcet | app */
    const char *desc;
    int variant;
    unsigned (*points)(struct bench_ctx *c, const struct bench_family *f);
    int (*run)(struct bench_ctx *c, const struct bench_family *f, unsigned point);
};

extern const struct bench_family bench_micro_families[];
extern const unsigned bench_micro_count;
extern const struct bench_family bench_baseline_families[];
extern const unsigned bench_baseline_count;
extern const struct bench_family bench_persist_families[];
extern const unsigned bench_persist_count;
extern const struct bench_family bench_queue_families[];
extern const unsigned bench_queue_count;
extern const struct bench_family bench_kvs_families[];
extern const unsigned bench_kvs_count;

/* ---- helpers shared by the families ---------------------------------------------------------- */

/* The heap configuration every heap benchmark starts from. */
void bench_heap_config(struct bench_ctx *c, struct vnv_config *cfg, const struct vnv_storage *s,
                       void *buf, size_t buf_size, uint32_t max_dirty);
/* Writes "modules":{...} into an options object. */
void bench_modules_json(struct jw *w, const struct vnv_config *cfg);
/* A storage size with 128 KiB of homes after the superblock and checkpoint slots
 * (docs/FORMAT.md's layout). */
uint32_t bench_pow2_storage(uint32_t max_dirty);
/* Report a failed call (stderr) and count it; returns err. */
int bench_fail(struct bench_ctx *c, const char *what, int err);

/* xoshiro128** */
struct bench_rng {
    uint32_t s[4];
};
void rng_seed(struct bench_rng *r, uint32_t seed);
uint32_t rng_next(struct bench_rng *r);
uint32_t rng_below(struct bench_rng *r, uint32_t n); /* uniform in [0, n) */

/* A statically allocated, 8-aligned scratch RAM area benchmarks carve their buffers from
 * (the heap's RAM buffer, the baselines' pages, the queue ring). */
#ifndef BENCH_SCRATCH_SIZE
#define BENCH_SCRATCH_SIZE (192u * 1024u)
#endif
extern uint8_t bench_scratch[BENCH_SCRATCH_SIZE];

/* The heap every heap benchmark uses (one at a time: vnv_persist_all reaches it). */
extern struct vnv_heap bench_heap;

/* Known policies (generated from vnvheap/policy.h at configure time). */
const struct vnv_policy *bench_policy_by_name(const char *name);
void bench_policy_names(char *out, size_t cap);

#endif /* VNV_BENCH_H */

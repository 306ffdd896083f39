/*
 * runner.c - vnv-bench: command line, the measurement loop, result lines.
 *
 *   vnv-bench [--list] [--filter SUBSTR] [--reps N] [--cold N] [--json FILE]
 *             [--storage-profile paper|spi40|free] [--policy NAME] [--full]
 *
 * Progress goes to stderr: on a terminal one status line rewritten in place, otherwise one
 * line per benchmark (--verbose: two lines per point). Every result is one line
 * "[BENCH-INFO] {json}" on stdout and, with --json (host builds only), the bare JSON line
 * appended to FILE.
 * On rv32 (QEMU semihosting) arguments come from -semihosting-config arg=...; without any,
 * the reduced embedded set runs (see BENCH_RV32_DEFAULT_FILTER in CMakeLists).
 */
#if !defined(__riscv) && (defined(__unix__) || defined(__APPLE__))
#define VNV_BENCH_HOST 1
#define _POSIX_C_SOURCE 199309L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef VNV_BENCH_HOST
#include <time.h>
#include <unistd.h>

#include "vnvheap/storage_file.h"
#endif

_Alignas(16) uint8_t bench_scratch[BENCH_SCRATCH_SIZE];
struct vnv_heap bench_heap;
static _Alignas(16) uint8_t storage_mem[BENCH_STORAGE_SIZE];

/* ---- the CPU counter ------------------------------------------------------------------------- */

#if BENCH_RV32
uint64_t bench_counter(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile(".option push\n.option arch, +zicsr\n"
                         "csrr %0, minstreth\ncsrr %1, minstret\ncsrr %2, minstreth\n"
                         ".option pop"
                         : "=r"(hi), "=r"(lo), "=r"(hi2));
    } while (hi != hi2);
    return (uint64_t)hi << 32 | lo;
}
const char *bench_unit(void) { return "instructions"; }
const char *bench_machine(void) { return "qemu-rv32imc-icount"; }
/* 160 MHz at one instruction per cycle: a rough ESP32-C3 equivalent (README). */
uint32_t bench_ticks_per_ms(void) { return 160000u; }
#elif defined(VNV_BENCH_HOST)
uint64_t bench_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
const char *bench_unit(void) { return "ns"; }
const char *bench_machine(void)
{
#if defined(__x86_64__)
    return "host-x86_64";
#elif defined(__aarch64__)
    return "host-aarch64";
#else
    return "host";
#endif
}
uint32_t bench_ticks_per_ms(void) { return 1000000u; }
#else
/* Other bare-metal targets: no counter (storage counts and modeled time still apply). */
uint64_t bench_counter(void) { return 0; }
const char *bench_unit(void) { return "none"; }
const char *bench_machine(void) { return "bare-metal"; }
uint32_t bench_ticks_per_ms(void) { return 0u; }
#endif

/* ---- storage and counters -------------------------------------------------------------------- */

#ifdef VNV_BENCH_HOST
/* --storage-file: the POSIX file backend behind a counting shim. The counters live in
 * c->emu (its memory is not used), so bench_snapshot needs no second path. sync is counted
 * and not passed on: the side-by-side measures pread/pwrite without fsync, as the original
 * does on desktop. */
static struct vnv_file bench_file;
static struct vnv_storage bench_file_inner;
static int file_open_size; /* size the file was opened with (0 = not open) */

static void file_charge(struct vnv_emu *e, int write, uint32_t len)
{
    if (write) {
        e->write_calls++;
        e->write_bytes += len;
        e->modeled_ns += (uint64_t)e->cost.write_tx_ns + (uint64_t)e->cost.write_byte_ns * len;
    } else {
        e->read_calls++;
        e->read_bytes += len;
        e->modeled_ns += (uint64_t)e->cost.read_tx_ns + (uint64_t)e->cost.read_byte_ns * len;
    }
}

static int file_read(void *ctx, uint32_t off, void *dst, uint32_t len)
{
    file_charge(ctx, 0, len);
    return bench_file_inner.read(bench_file_inner.ctx, off, dst, len);
}

static int file_write(void *ctx, uint32_t off, const void *src, uint32_t len)
{
    file_charge(ctx, 1, len);
    return bench_file_inner.write(bench_file_inner.ctx, off, src, len);
}

static int file_writev(void *ctx, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    uint32_t len = 0;
    for (unsigned i = 0; i < cnt; i++)
        len += (uint32_t)iov[i].len;
    file_charge(ctx, 1, len);
    return bench_file_inner.writev(bench_file_inner.ctx, off, iov, cnt);
}

static int file_sync(void *ctx)
{
    struct vnv_emu *e = ctx;
    e->sync_calls++;
    e->modeled_ns += e->cost.sync_ns;
    return 0;
}

static void file_storage(struct bench_ctx *c, uint32_t size, struct vnv_storage *s)
{
    static uint8_t zeros[4096];
    if (file_open_size != (int)size) {
        if (file_open_size)
            vnv_file_close(&bench_file);
        file_open_size = 0;
        if (vnv_file_open(&bench_file, c->file_path, size,
                          VNV_FILE_CREATE | VNV_FILE_TRUNCATE) != 0) {
            fprintf(stderr, "cannot open storage file %s\n", c->file_path);
            exit(2);
        }
        file_open_size = (int)size;
        vnv_file_storage(&bench_file, &bench_file_inner);
    } else {
        for (uint32_t off = 0; off < size; off += sizeof zeros) /* content zeroed */
            bench_file_inner.write(bench_file_inner.ctx, off, zeros,
                                   size - off < sizeof zeros ? size - off : sizeof zeros);
    }
    vnv_emu_init(&c->emu, c->mem, size, c->profile); /* counters only */
    memset(s, 0, sizeof *s);
    s->ctx = &c->emu;
    s->size = size;
    s->read = file_read;
    s->write = file_write;
    s->writev = bench_file_inner.writev ? file_writev : NULL;
    s->sync = file_sync;
}
#endif

void bench_storage(struct bench_ctx *c, uint32_t size, struct vnv_storage *s)
{
    if (size > c->mem_size)
        size = c->mem_size;
#ifdef VNV_BENCH_HOST
    if (c->file_path) {
        file_storage(c, size, s);
        return;
    }
#endif
    memset(c->mem, 0, size);
    vnv_emu_init(&c->emu, c->mem, size, c->profile);
    vnv_emu_storage(&c->emu, s);
}

void bench_snapshot(struct bench_ctx *c, struct bench_sample *o)
{
    o->rd_tx = c->emu.read_calls;
    o->wr_tx = c->emu.write_calls;
    o->sync_tx = c->emu.sync_calls;
    o->rd_bytes = c->emu.read_bytes;
    o->wr_bytes = c->emu.write_bytes;
    o->modeled_ns = c->emu.modeled_ns;
    o->cpu = bench_counter(); /* last: the counter read ends the snapshot */
}

void bench_diff(const struct bench_sample *a, const struct bench_sample *b, struct bench_sample *o)
{
    o->cpu = b->cpu - a->cpu;
    o->rd_tx = b->rd_tx - a->rd_tx;
    o->wr_tx = b->wr_tx - a->wr_tx;
    o->sync_tx = b->sync_tx - a->sync_tx;
    o->rd_bytes = b->rd_bytes - a->rd_bytes;
    o->wr_bytes = b->wr_bytes - a->wr_bytes;
    o->modeled_ns = b->modeled_ns - a->modeled_ns;
}

/* ---- progress -------------------------------------------------------------------------------- */

static int progress_tty;  /* stderr is a terminal: one status line, rewritten in place */
static int progress_open; /* that line is on screen, not yet ended by a newline */

/* End the in-place status line before anything else is printed to stderr. */
static void progress_break(void)
{
    if (progress_open) {
        fputc('\n', stderr);
        progress_open = 0;
    }
}

static void progress_point(const struct bench_ctx *c, const struct bench_spec *s)
{
    unsigned pct = c->total ? 100u * c->done / c->total : 100u;
    if (c->verbose) {
        fprintf(stderr, "[%3u%%] Running %s %s\n", pct, s->name, s->options);
    } else if (progress_tty) {
        /* \r, the text cut to 100 columns, then erase to the end of the line */
        fprintf(stderr, "\r[%3u%%] %u/%u %.40s %.44s\033[K", pct, c->done, c->total, s->name,
                s->options);
        fflush(stderr);
        progress_open = 1;
    }
}

/* After the last point of a family: one line when stderr is not a terminal. */
static void progress_family(const struct bench_ctx *c, const struct bench_family *f, unsigned n,
                            unsigned failed)
{
    if (c->verbose || progress_tty)
        return;
    fprintf(stderr, "[%3u%%] %s: %u point%s%s\n", c->total ? 100u * c->done / c->total : 100u,
            f->name, n, n == 1 ? "" : "s", failed ? ", FAILED" : "");
}

int bench_fail(struct bench_ctx *c, const char *what, int err)
{
    (void)c; /* counted once, by main, from the family's return value */
    progress_break();
    fprintf(stderr, "   !! %s failed: %s (%d)\n", what, vnv_strerror(err), err);
    return err ? err : -1;
}

unsigned bench_reps(const struct bench_ctx *c, unsigned quick, unsigned full)
{
    return c->full ? full : quick;
}

/* ---- rng: xoshiro128** ----------------------------------------------------------------------- */

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

uint32_t rng_next(struct bench_rng *r)
{
    uint32_t *s = r->s;
    uint32_t res = rotl(s[1] * 5u, 7) * 9u, t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return res;
}

void rng_seed(struct bench_rng *r, uint32_t seed)
{
    uint32_t z = seed;
    for (int i = 0; i < 4; i++) { /* splitmix32 */
        z += 0x9E3779B9u;
        uint32_t x = z;
        x = (x ^ (x >> 16)) * 0x85EBCA6Bu;
        x = (x ^ (x >> 13)) * 0xC2B2AE35u;
        r->s[i] = x ^ (x >> 16);
    }
}

uint32_t rng_below(struct bench_rng *r, uint32_t n)
{
    return n ? (uint32_t)(((uint64_t)rng_next(r) * n) >> 32) : 0;
}

/* ---- heap configuration ---------------------------------------------------------------------- */

void bench_heap_config(struct bench_ctx *c, struct vnv_config *cfg, const struct vnv_storage *s,
                       void *buf, size_t buf_size, uint32_t max_dirty)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->storage = s;
    cfg->buffer = buf;
    cfg->buffer_size = buf_size;
    cfg->max_dirty_bytes = max_dirty;
    cfg->ram_allocator = &vnv_ram_firstfit;
    cfg->nv_allocator = &vnv_nv_firstfit;
    cfg->policy = c->policy;
}

uint32_t bench_pow2_storage(uint32_t max_dirty)
{
    /* superblock, tag area, two checkpoint slots (max_dirty + NV map of at most
     * VNV_MAX_UNITS units), then 128 KiB of homes */
    uint32_t slot = (max_dirty + 3u * (VNV_MAX_UNITS / 8u) + 15u) & ~15u;
    return VNV_SUPERBLOCK_SIZE + VNV_TAG_AREA_SIZE + 2u * slot + 128u * 1024u;
}

void bench_modules_json(struct jw *w, const struct vnv_config *cfg)
{
    jw_key(w, "modules");
    jw_obj_begin(w);
    jw_kstr(w, "ram_allocator", cfg->ram_allocator ? cfg->ram_allocator->name : "default");
    jw_kstr(w, "nv_allocator", cfg->nv_allocator ? cfg->nv_allocator->name : "default");
    jw_kstr(w, "policy", cfg->policy ? cfg->policy->name : "default");
    jw_obj_end(w);
}

/* ---- measuring ------------------------------------------------------------------------------- */

static struct bench_sample samples[BENCH_MAX_REPS];
static char line[24 * 1024];
#ifdef VNV_BENCH_HOST
static FILE *json_out;
#endif

static void sort_u64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) { /* insertion sort: n <= BENCH_MAX_REPS */
        uint64_t x = v[i];
        unsigned j = i;
        while (j && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void storage_json(struct jw *w, const char *key, const struct bench_sample *s)
{
    jw_key(w, key);
    jw_obj_begin(w);
    jw_ku64(w, "read_tx", s->rd_tx);
    jw_ku64(w, "write_tx", s->wr_tx);
    jw_ku64(w, "sync_tx", s->sync_tx);
    jw_ku64(w, "read_bytes", s->rd_bytes);
    jw_ku64(w, "write_bytes", s->wr_bytes);
    jw_ku64(w, "modeled_ns", s->modeled_ns);
    jw_obj_end(w);
}

static void max_into(struct bench_sample *m, const struct bench_sample *s)
{
#define MX(f) if (s->f > m->f) m->f = s->f
    MX(cpu);
    MX(rd_tx);
    MX(wr_tx);
    MX(sync_tx);
    MX(rd_bytes);
    MX(wr_bytes);
    MX(modeled_ns);
#undef MX
}

int bench_measure(struct bench_ctx *c, const struct bench_spec *s, void *arg)
{
    unsigned reps = c->reps >= 0 && !s->fixed ? (unsigned)c->reps : s->reps;
    unsigned cold = c->cold >= 0 && !s->fixed ? (unsigned)c->cold : s->cold;
    if (reps < 1)
        reps = 1;
    if (reps > BENCH_MAX_REPS)
        reps = BENCH_MAX_REPS;
    c->done++;
    progress_point(c, s);
    for (unsigned i = 0; i < cold + reps; i++) {
        int err = s->prepare ? s->prepare(arg, i) : 0;
        if (err)
            return bench_fail(c, "prepare", err);
        struct bench_sample a, b, d;
        bench_snapshot(c, &a);
        err = s->run(arg, i);
        bench_snapshot(c, &b);
        if (err)
            return bench_fail(c, s->name, err);
        bench_diff(&a, &b, &d);
        if (s->sample && (err = s->sample(arg, i, &d)) != 0)
            return bench_fail(c, "sample", err);
        d.cpu = d.cpu > c->cpu_overhead ? d.cpu - c->cpu_overhead : 0;
        if (i >= cold)
            samples[i - cold] = d;
    }
    /* The median repetition by modeled time (ties: by CPU counter). */
    static uint64_t keys[BENCH_MAX_REPS], cpus[BENCH_MAX_REPS];
    struct bench_sample mx = samples[0];
    for (unsigned i = 0; i < reps; i++) {
        keys[i] = samples[i].modeled_ns;
        cpus[i] = samples[i].cpu;
        max_into(&mx, &samples[i]);
    }
    sort_u64(keys, reps);
    sort_u64(cpus, reps);
    uint64_t med_model = keys[(reps - 1) / 2], med_cpu = cpus[(reps - 1) / 2];
    const struct bench_sample *med = &samples[0];
    for (unsigned i = 0; i < reps; i++)
        if (samples[i].modeled_ns == med_model) {
            med = &samples[i];
            break;
        }

    struct jw w;
    jw_init(&w, line, sizeof line);
    jw_obj_begin(&w);
    jw_kstr(&w, "bench_name", s->name);
    jw_key(&w, "bench_options");
    jw_raw(&w, s->options);
    w.need_comma |= 1;
    jw_kstr(&w, "machine_name", bench_machine());
    jw_ku64(&w, "cold_start", cold);
    jw_ku64(&w, "repetitions", reps);
    jw_ku64(&w, "ticks_per_ms", bench_ticks_per_ms());
    jw_kstr(&w, "unit", bench_unit());
    jw_key(&w, "data");
    jw_arr_begin(&w);
    for (unsigned i = 0; i < reps; i++)
        jw_u64(&w, samples[i].cpu);
    jw_arr_end(&w);
    jw_ku64(&w, "ops", s->ops ? s->ops : 1u);
    jw_kstr(&w, "storage_profile", c->profile_name);
    jw_kfixed(&w, "modeled_ms", med_model, 1000000u, 6);
    jw_kfixed(&w, "modeled_ms_max", mx.modeled_ns, 1000000u, 6);
    jw_key(&w, "modeled_ns");
    jw_arr_begin(&w);
    for (unsigned i = 0; i < reps; i++)
        jw_u64(&w, samples[i].modeled_ns);
    jw_arr_end(&w);
    storage_json(&w, "storage", med);
    storage_json(&w, "storage_max", &mx);
    jw_ku64(&w, "cpu_median", med_cpu);
    jw_ku64(&w, "cpu_max", mx.cpu);
    if (s->extra)
        s->extra(arg, &w);
    jw_obj_end(&w);
    printf("[BENCH-INFO] %s\n", line);
    fflush(stdout);
#ifdef VNV_BENCH_HOST
    if (json_out) {
        fputs(line, json_out);
        fputc('\n', json_out);
        fflush(json_out);
    }
#endif
    if (c->verbose) {
        char ms[32];
        struct jw t;
        jw_init(&t, ms, sizeof ms);
        jw_fixed(&t, med_model, 1000000u, 4);
        fprintf(stderr, "-> Finished %s: modeled=%s ms, median=%lu %s, storage %lu+%lu tx\n\n",
                s->name, ms, (unsigned long)med_cpu, bench_unit(), (unsigned long)med->rd_tx,
                (unsigned long)med->wr_tx);
    }
    return 0;
}

/* ---- the command line ------------------------------------------------------------------------ */

struct family_list {
    const struct bench_family *f;
    const unsigned *n;
};

static const struct family_list all_families[] = {
    {bench_micro_families, &bench_micro_count},
    {bench_baseline_families, &bench_baseline_count},
    {bench_persist_families, &bench_persist_count},
    {bench_queue_families, &bench_queue_count},
    {bench_kvs_families, &bench_kvs_count},
};
#define NLISTS (sizeof all_families / sizeof all_families[0])

static int selected(const struct bench_ctx *c, const struct bench_family *f)
{
    return !c->filter || strstr(f->name, c->filter) || strcmp(f->group, c->filter) == 0;
}

static void usage(void)
{
    char pol[256];
    bench_policy_names(pol, sizeof pol);
    fprintf(stderr,
            "usage: vnv-bench [--list] [--filter SUBSTR] [--reps N] [--cold N] [--json FILE]\n"
            "                 [--storage-profile paper|spi40|free] [--policy %s] [--full]\n"
            "                 [--original] [--storage-file PATH]\n"
            "  --filter SUBSTR   run the benchmarks whose name contains SUBSTR (or whose\n"
            "                    group is SUBSTR: micro baseline storage persist wcet app)\n"
            "  --full            the paper's repetitions and sweeps (slow)\n"
            "  --verbose         two progress lines per point (default: one line per\n"
            "                    benchmark, or one status line on a terminal)\n"
            "  --original        the original's exact configurations (bench/README.md)\n"
            "  --storage-file PATH  storage is a POSIX file (pread/pwrite, no sync; host)\n",
            pol);
}

#ifndef BENCH_RV32_DEFAULT_FILTER
#define BENCH_RV32_DEFAULT_FILTER NULL
#endif

int main(int argc, char **argv)
{
    static struct bench_ctx ctx;
    struct bench_ctx *c = &ctx;
    c->reps = c->cold = -1;
    c->profile_name = "paper";
    c->profile = &vnv_emu_profile_paper;
    c->policy = &vnv_policy_clock;
    c->policy_name = "clock";
    c->mem = storage_mem;
    c->mem_size = sizeof storage_mem;
    const char *json_path = NULL;
    int any_arg = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (BENCH_RV32 && a[0] != '-')
            continue; /* picolibc's semihosting argv: a placeholder and the image path */
        any_arg = 1;
        if (!strcmp(a, "--list")) {
            c->list_only = 1;
        } else if (!strcmp(a, "--full")) {
            c->full = 1;
        } else if (!strcmp(a, "--verbose")) {
            c->verbose = 1;
        } else if (!strcmp(a, "--original")) {
            c->original = 1;
#ifdef VNV_BENCH_HOST
        } else if (!strcmp(a, "--storage-file") && v) {
            c->file_path = v;
            i++;
#endif
        } else if (!strcmp(a, "--filter") && v) {
            c->filter = v;
            i++;
        } else if (!strcmp(a, "--reps") && v) {
            c->reps = atoi(v);
            i++;
        } else if (!strcmp(a, "--cold") && v) {
            c->cold = atoi(v);
            i++;
        } else if (!strcmp(a, "--json") && v) {
            json_path = v;
            i++;
        } else if (!strcmp(a, "--storage-profile") && v) {
            if (!strcmp(v, "paper"))
                c->profile = &vnv_emu_profile_paper;
            else if (!strcmp(v, "spi40"))
                c->profile = &vnv_emu_profile_spi40;
            else if (!strcmp(v, "free"))
                c->profile = &vnv_emu_profile_free;
            else {
                usage();
                return 2;
            }
            c->profile_name = v;
            i++;
        } else if (!strcmp(a, "--policy") && v) {
            c->policy = bench_policy_by_name(v);
            if (!c->policy) {
                fprintf(stderr, "unknown policy '%s'\n", v);
                usage();
                return 2;
            }
            c->policy_name = v;
            i++;
        } else {
            usage();
            return !strcmp(a, "--help") || !strcmp(a, "-h") ? 0 : 2;
        }
    }
    if (BENCH_RV32 && !any_arg)
        c->filter = BENCH_RV32_DEFAULT_FILTER;
    if (c->original) { /* the original's desktop run: 5 repetitions, no cold start, each */
        c->reps = c->reps >= 0 ? c->reps : 5;
        c->cold = c->cold >= 0 ? c->cold : 0;
    }

    unsigned total = 0;
    for (unsigned l = 0; l < NLISTS; l++)
        for (unsigned k = 0; k < *all_families[l].n; k++) {
            const struct bench_family *f = &all_families[l].f[k];
            if (!selected(c, f))
                continue;
            unsigned n = f->points(c, f);
            if (c->list_only)
                printf("%-44s %-8s %4u  %s\n", f->name, f->group, n, f->desc);
            total += n;
        }
    if (c->list_only)
        return 0;
    c->total = total;

#ifdef VNV_BENCH_HOST
    if (json_path) {
        json_out = fopen(json_path, "w");
        if (!json_out) {
            fprintf(stderr, "cannot open %s\n", json_path);
            return 2;
        }
    }
#else
    (void)json_path;
#endif

    /* Cost of the counter itself: the minimum of an empty measured region. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 64; i++) {
        struct bench_sample a, b;
        bench_snapshot(c, &a);
        bench_snapshot(c, &b);
        if (b.cpu - a.cpu < best)
            best = b.cpu - a.cpu;
    }
    c->cpu_overhead = c->original ? 0 : best; /* the original does not subtract its timer */
#ifdef VNV_BENCH_HOST
    progress_tty = isatty(2);
#endif
    fprintf(stderr, "vnv-bench: %u points, storage profile %s, policy %s, %s mode, counter "
                    "overhead %lu %s\n",
            total, c->profile_name, c->policy_name, c->full ? "full" : "quick",
            (unsigned long)best, bench_unit());

    for (unsigned l = 0; l < NLISTS; l++)
        for (unsigned k = 0; k < *all_families[l].n; k++) {
            const struct bench_family *f = &all_families[l].f[k];
            if (!selected(c, f))
                continue;
            unsigned n = f->points(c, f), failed = 0;
            for (unsigned p = 0; p < n; p++) {
                int err = f->run(c, f, p);
                if (err) {
                    progress_break();
                    fprintf(stderr, "   !! %s point %u: %s\n", f->name, p, vnv_strerror(err));
                    c->failures++;
                    failed++;
                }
                vnv_abandon(&bench_heap); /* never leave a heap registered */
            }
            progress_family(c, f, n, failed);
        }
#ifdef VNV_BENCH_HOST
    if (json_out)
        fclose(json_out);
#endif
    progress_break();
    fprintf(stderr, "[BENCH-STATUS] Finished: %u points, %u failures\n", total, c->failures);
    return c->failures ? 1 : 0;
}

/*
 * zbench.c - vnv-bench (bench/runner.c and the families) on Zephyr. The runner's CPU counter
 * becomes k_cycle_get_32() (64-bit extended); result lines are the same
 * "[BENCH-INFO] {json}" lines (bench/plot.py reads them), progress "[ NN%] Running ..." (with
 * --verbose, CONFIG_APP_BENCH_VERBOSE) and "[BENCH-STATUS] Finished: N points, M failures" go
 * to the console as on the host.
 * On native_sim simulated time stands still while code runs, so the cycle counts are 0
 * there; the storage counters and modeled times are exact. On QEMU the counter runs.
 *
 * runner.c picks its counter by target macros (__riscv: minstret, __unix__: clock_gettime);
 * here both are hidden and the bare-metal counter functions it would define are renamed
 * away, while its calls go to the Zephyr ones below.
 */
#include <stdio.h>

#include <zephyr/kernel.h>

#include "bench.h"

/* Progress goes to stderr on the host; Zephyr's console is stdout. */
#undef stderr
#define stderr stdout

static uint64_t zb_counter(void);
static const char *zb_unit(void);
static const char *zb_machine(void);
static uint32_t zb_ticks_per_ms(void);

#undef __unix__
#undef __riscv
/* definitions "f(void)" become unused stubs; calls "f()" go to zb_*() */
#define bench_counter(...) ZB_counter_##__VA_ARGS__
#define ZB_counter_void bench_counter_stub(void)
#define ZB_counter_ zb_counter()
#define bench_unit(...) ZB_unit_##__VA_ARGS__
#define ZB_unit_void bench_unit_stub(void)
#define ZB_unit_ zb_unit()
#define bench_machine(...) ZB_machine_##__VA_ARGS__
#define ZB_machine_void bench_machine_stub(void)
#define ZB_machine_ zb_machine()
#define bench_ticks_per_ms(...) ZB_ticks_##__VA_ARGS__
#define ZB_ticks_void bench_ticks_stub(void)
#define ZB_ticks_ zb_ticks_per_ms()
#define main bench_main
#include "runner.c"
#undef main
#undef bench_counter
#undef bench_unit
#undef bench_machine
#undef bench_ticks_per_ms

static uint32_t last_lo, hi;
static uint64_t zb_counter(void)
{
    uint32_t lo = k_cycle_get_32();
    if (lo < last_lo)
        hi++;
    last_lo = lo;
    return (uint64_t)hi << 32 | lo;
}
static const char *zb_unit(void) { return "cycles"; }
static const char *zb_machine(void) { return "zephyr-" CONFIG_BOARD; }
static uint32_t zb_ticks_per_ms(void) { return (uint32_t)(sys_clock_hw_cycles_per_sec() / 1000u); }

/* The other families call these by their real names. */
uint64_t bench_counter(void) { return zb_counter(); }
const char *bench_unit(void) { return zb_unit(); }
const char *bench_machine(void) { return zb_machine(); }
uint32_t bench_ticks_per_ms(void) { return zb_ticks_per_ms(); }

int main(void)
{
    /* --verbose: the "[ NN%] Running ..." line per point (CONFIG_APP_BENCH_VERBOSE); the
     * runner decides the terse form by isatty() on the host only. */
    char *argv[5] = {"vnv-bench"};
    int argc = 1;
    if (IS_ENABLED(CONFIG_APP_BENCH_VERBOSE))
        argv[argc++] = "--verbose";
    if (CONFIG_APP_BENCH_FILTER[0]) {
        argv[argc++] = "--filter";
        argv[argc++] = CONFIG_APP_BENCH_FILTER;
    }
    argv[argc] = NULL;
    int rc = bench_main(argc, argv);
    printk("vnv-bench exit %d\n", rc);
#ifdef CONFIG_ARCH_POSIX
    extern void posix_exit(int);
    posix_exit(rc);
#endif
    return 0;
}

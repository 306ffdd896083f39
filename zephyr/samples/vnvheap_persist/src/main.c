/*
 * vnvheap_persist - the power-failure demo (examples/power_demo.c, restart mode) on Zephyr.
 *
 * A worker thread is a sensor logger: it appends readings to a ring of RING chunk objects
 * of CHUNK readings, reachable from the heap's root object. A stimulus thread presses the
 * "power-fail button" (gpio-emul) after random delays; the button's interrupt calls
 * vnv_zephyr_power_fail(), the persist thread runs vnv_persist_all(), and the persist
 * callback - after the checkpoint is durable - records how many readings it holds in a
 * harness record outside the heap, then the power "dies":
 *   CONFIG_APP_PROCESS_RESTART (native_sim): the process exits; the runner starts it again
 *     on the same file-backed EEPROM.
 *   otherwise: the worker thread is killed where it stands, the RAM buffer is wiped, and the
 *     next life starts in-process.
 * Every life opens the heap (vnv_open, nothing else survives), checks that it holds exactly
 * the readings of the last checkpoint with their values, and continues. After
 * CONFIG_APP_POWER_FAILURES failures it prints "OK: survived N power failures, 0 lost", or
 * "FAIL: ..." at the first discrepancy.
 *
 * Storage: the chosen zephyr,vnvheap-storage node, an EEPROM-API device (sim-eeprom,
 * fujitsu,mb85rsxx) or a vnvheap,spi-fram node (the library's own SPI FRAM driver, e.g. an
 * MB85RS64V: esp32c3_devkitm, or the chip model with fram64v.overlay on native_sim). The
 * heap uses CONFIG_APP_HEAP_SIZE bytes, the harness record follows.
 * Without gpio-emul (real boards) nobody presses the button for you: each press of the
 * power-fail button is one power failure.
 */
#include <stddef.h>
#include <string.h>

#include <zephyr/drivers/eeprom.h>
#include <zephyr/drivers/gpio.h>
#include <zephyr/drivers/gpio/gpio_emul.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "vnvheap_zephyr.h"

#ifdef CONFIG_ARCH_POSIX
#include <posix_board_if.h> /* posix_exit(): native_sim ends the process */
#endif

#define CHUNK 16u /* readings per chunk object */
#define HEAP_SIZE ((uint32_t)CONFIG_APP_HEAP_SIZE)
/* Chunk objects in the ring. A replaced chunk's storage is reusable only after the next
 * checkpoint (vnv_alloc, NOSPC): a small heap (an 8 KiB MB85RS64V) keeps a shorter ring to
 * leave room for the chunks replaced between two button presses. */
#define RING (HEAP_SIZE >= 12288u ? 24u : 8u)
#define RECORD_OFF HEAP_SIZE /* the harness record, right after the heap's storage */
#define RECORD_MAGIC 0x56524543u

struct log_root {
    uint32_t count; /* readings appended (and committed) */
    uint32_t lives;
    vnv_obj_t chunk[RING];
};

/* What the harness knows across power failures (written by the persist callback). */
struct record {
    uint32_t magic;
    uint32_t survived; /* checkpoints followed by a power loss */
    uint32_t expected; /* readings the last checkpoint holds */
    uint32_t lives;
};

static const struct device *const storage_dev = VNV_ZEPHYR_STORAGE_DEVICE;
static const struct gpio_dt_spec button = GPIO_DT_SPEC_GET(DT_ALIAS(vnvheap_power_fail), gpios);
static struct gpio_callback button_cb;

static _Alignas(8) uint8_t ram[2048];
static struct vnv_heap heap;
#if !VNV_ZEPHYR_STORAGE_IS_SPI_FRAM
static struct vnv_zephyr_eeprom eeprom;
#endif
static struct vnv_storage storage;
static struct vnv_config cfg;
static vnv_obj_t root;
static struct record rec;

/* Readings committed to the root object; changed inside a failure-atomic group together
 * with the root's count. */
static volatile uint32_t shadow_count;
/* shadow_count when the open group began: a checkpoint taken inside a group is rolled back
 * by a restart, which then finds this count (vnv_atomic_depth tells the callback). */
static volatile uint32_t group_base;
/* Power failures are simulated while the worker runs; a checkpoint at boot (the first one,
 * or one the button asks for while the heap is checked) just lets the boot continue. */
static volatile bool armed;
static volatile bool dead; /* in-process mode: the power died, the worker must stop */

K_SEM_DEFINE(power_died, 0, 1);
#define WORKER_PRIO 6
#define STIMULUS_PRIO 2
K_THREAD_STACK_DEFINE(worker_stack, 2048);
static struct k_thread worker_thread;

/* ---- helpers ---------------------------------------------------------------------------- */

static uint32_t rng_state;
static uint32_t rng(void) /* xorshift32 */
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static uint32_t reading(uint32_t i) /* the value of reading i: a fixed function */
{
    uint32_t x = i * 0x9E3779B1u + 0x7F4A7C15u;
    x ^= x >> 15;
    return x * 0x85EBCA6Bu;
}

static void fail(const char *what, int err)
{
    printk("FAIL: %s: %s (%d)\n", what, vnv_strerror(err), err);
#ifdef CONFIG_ARCH_POSIX
    posix_exit(1);
#else
    k_sleep(K_FOREVER);
#endif
}

/* The device itself: the heap's storage callbacks plus the bytes past HEAP_SIZE. */
static struct vnv_storage device;

static int storage_open(void)
{
#if VNV_ZEPHYR_STORAGE_IS_SPI_FRAM
    /* The record lies past HEAP_SIZE: the driver's callbacks reach the whole chip. */
    return vnv_zephyr_spi_fram_storage(storage_dev, HEAP_SIZE, &device);
#else
    return vnv_zephyr_eeprom_storage(&eeprom, storage_dev, 0, HEAP_SIZE, &device);
#endif
}

static int record_io(bool write)
{
#if VNV_ZEPHYR_STORAGE_IS_SPI_FRAM
    return write ? device.write(device.ctx, RECORD_OFF, &rec, sizeof rec)
                 : device.read(device.ctx, RECORD_OFF, &rec, sizeof rec);
#else
    return write ? eeprom_write(storage_dev, RECORD_OFF, &rec, sizeof rec)
                 : eeprom_read(storage_dev, RECORD_OFF, &rec, sizeof rec);
#endif
}

static void record_write(void)
{
    if (record_io(true) != 0)
        fail("record write", VNV_ERR_IO);
}

/* ---- the power-fail path ----------------------------------------------------------------- */

/* Runs after the checkpoint is durable, in the persist thread (or, when the checkpoint was
 * deferred to the end of a heap critical section, in the worker). */
static int on_persist(void *user, int status, void *buf, size_t len)
{
    ARG_UNUSED(user);
    ARG_UNUSED(buf);
    ARG_UNUSED(len);
    if (status < 0)
        fail("checkpoint", status);
    if (!armed)
        return 0;
    armed = false;
    rec.survived++;
    rec.expected = vnv_atomic_depth(&heap) ? group_base : shadow_count;
    record_write();
#ifdef CONFIG_APP_PROCESS_RESTART
    posix_exit(0); /* the power dies: nothing after the checkpoint runs */
#else
    /* The power dies: no later storage write may land (it would void the checkpoint). In
     * the persist thread, main (higher priority than the worker) kills the worker as soon
     * as this round ends. When the checkpoint ran deferred in the worker, the worker must
     * first leave the heap's persist round (killing it inside would leave the library's
     * round marker set - state a real power loss resets): it stops at its next storage
     * call (dead_storage_call) or operation boundary instead. */
    dead = true;
    if (k_current_get() != &worker_thread)
        k_sem_give(&power_died);
#endif
    return 0;
}

static void worker_dies(void)
{
    k_sem_give(&power_died); /* main kills this thread at once */
    k_sleep(K_FOREVER);
}

/* In-process mode: storage calls after the power died never reach the device. */
static void dead_storage_call(void)
{
    if (dead && k_current_get() == &worker_thread)
        worker_dies();
}
static int s_read(void *c, uint32_t off, void *dst, uint32_t len)
{
    dead_storage_call();
    return device.read(c, off, dst, len);
}
static int s_write(void *c, uint32_t off, const void *src, uint32_t len)
{
    dead_storage_call();
    return device.write(c, off, src, len);
}
static int s_writev(void *c, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    dead_storage_call();
    return device.writev(c, off, iov, cnt);
}

#ifdef CONFIG_GPIO_EMUL
static void stimulus(void *a, void *b, void *c)
{
    ARG_UNUSED(a);
    ARG_UNUSED(b);
    ARG_UNUSED(c);
    uint32_t s = 0x2545F491u ^ (uint32_t)CONFIG_APP_SEED;
    for (;;) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        k_sleep(K_USEC(300 + s % 4000));
        gpio_emul_input_set(button.port, button.pin, 1); /* press: the interrupt fires */
        gpio_emul_input_set(button.port, button.pin, 0);
    }
}
K_THREAD_DEFINE(stimulus_tid, 1024, stimulus, NULL, NULL, NULL, STIMULUS_PRIO, 0, 0);
#endif

/* ---- the workload ------------------------------------------------------------------------ */

static void check(int err, const char *what)
{
    if (err < 0)
        fail(what, err);
}

static void append_one(void)
{
    uint32_t i = shadow_count;
    uint32_t slot = (i / CHUNK) % RING, k = i % CHUNK;
    if (k == 0) { /* a new chunk replaces the oldest: allocate, link, free in one group */
        vnv_obj_t fresh, old;
        group_base = i;
        check(vnv_atomic_begin(&heap), "atomic_begin");
        check(vnv_read(&heap, root, offsetof(struct log_root, chunk[slot]), &old, sizeof old),
              "read link");
        check(vnv_alloc(&heap, CHUNK * 4u, NULL, &fresh), "alloc");
        check(vnv_write(&heap, root, offsetof(struct log_root, chunk[slot]), &fresh,
                        sizeof fresh), "link");
        if (!vnv_is_null(old))
            check(vnv_free(&heap, old), "free");
        check(vnv_atomic_end(&heap), "atomic_end");
    }
    vnv_obj_t ch;
    check(vnv_read(&heap, root, offsetof(struct log_root, chunk[slot]), &ch, sizeof ch), "read");
    uint32_t v = reading(i);
    if (rng() & 1) {
        check(vnv_write(&heap, ch, k * 4u, &v, 4), "write reading");
    } else {
        uint32_t *p;
        check(vnv_get_mut(&heap, ch, (void **)&p), "get_mut");
        p[k] = v;
        check(vnv_release(&heap, ch), "release");
    }
    uint32_t n = i + 1;
    group_base = i;
    check(vnv_atomic_begin(&heap), "atomic_begin");
    check(vnv_write(&heap, root, offsetof(struct log_root, count), &n, sizeof n), "commit");
    shadow_count = n;
    check(vnv_atomic_end(&heap), "atomic_end");
}

static void worker(void *a, void *b, void *c)
{
    ARG_UNUSED(a);
    ARG_UNUSED(b);
    ARG_UNUSED(c);
    for (;;) {
        if (dead)
            worker_dies();
        append_one();
        if (rng() % 8 == 0) /* some unrelated reads keep the cache moving */
            (void)vnv_unload(&heap, root);
        /* Lets simulated time pass on native_sim (the stimulus thread wakes up here); on
         * QEMU the interrupt arrives at any instruction anyway. */
        k_busy_wait(rng() % 20);
    }
}

/* ---- one life ---------------------------------------------------------------------------- */

/* Open (or, on a blank device, format) the heap and check every reading it should hold. */
static void boot(void)
{
    int err = vnv_open(&heap, &cfg);
    if (err < 0) {
        if (rec.magic == RECORD_MAGIC)
            fail("open after a power failure", err);
        /* first boot (no record of an earlier life): whatever the device held is this
         * test's to discard; an application formats on NOHEAP only */
        err = vnv_format(&heap, &cfg);
        check(err, "format");
        struct log_root r0 = {0};
        check(vnv_alloc(&heap, sizeof r0, &r0, &root), "alloc root");
        check(vnv_set_root(&heap, root), "set_root");
        check(vnv_checkpoint(&heap), "first checkpoint");
        rec = (struct record){.magic = RECORD_MAGIC};
        record_write();
    }
    armed = false;
    check(vnv_root(&heap, &root), "root");
    struct log_root r;
    check(vnv_read(&heap, root, 0, &r, sizeof r), "read root");
    if (r.count != rec.expected) {
        printk("FAIL: life %u: the heap holds %u readings, the last checkpoint had %u\n",
               (unsigned)rec.lives, (unsigned)r.count, (unsigned)rec.expected);
        fail("lost readings", VNV_ERR_CORRUPT);
    }
    uint32_t lost = 0, checked = 0;
    if (r.count) {
        uint32_t last = (r.count - 1) / CHUNK;
        uint32_t first = last + 2 > RING ? last + 2 - RING : 0;
        for (uint32_t cidx = first; cidx <= last; cidx++) {
            uint32_t vals[CHUNK];
            check(vnv_read(&heap, r.chunk[cidx % RING], 0, vals, sizeof vals), "read chunk");
            for (uint32_t k = 0; k < CHUNK && cidx * CHUNK + k < r.count; k++, checked++)
                lost += vals[k] != reading(cidx * CHUNK + k);
        }
    }
    check(vnv_check(&heap), "vnv_check");
    if (lost) {
        printk("FAIL: life %u: %u of %u readings wrong\n", (unsigned)rec.lives,
               (unsigned)lost, (unsigned)checked);
        fail("lost readings", VNV_ERR_CORRUPT);
    }
    shadow_count = r.count;
    r.lives++;
    check(vnv_write(&heap, root, offsetof(struct log_root, lives), &r.lives, 4), "lives");
    rec.lives++;
    if (rec.lives % 25 == 0 || rec.survived >= CONFIG_APP_POWER_FAILURES)
        printk("life %u: %u power failures survived, %u readings verified, %u in the log\n",
               (unsigned)rec.lives, (unsigned)rec.survived, (unsigned)checked,
               (unsigned)r.count);
}

int main(void)
{
    int err = storage_open();
    check(err, "storage");
    storage = device;
    storage.read = s_read;
    storage.write = s_write;
    storage.writev = s_writev;
    vnv_zephyr_config_init(&cfg);
    cfg.storage = &storage;
    cfg.buffer = ram;
    cfg.buffer_size = sizeof ram;
    cfg.max_dirty_bytes = 512;
    cfg.on_persist = on_persist;
    if (record_io(false) != 0)
        fail("record read", VNV_ERR_IO);
    if (rec.magic != RECORD_MAGIC)
        rec = (struct record){0};
    shadow_count = rec.expected;
    rng_state = 0x1234567u + 7919u * (rec.lives + (uint32_t)CONFIG_APP_SEED);
    err = vnv_zephyr_power_fail_gpio(&button, &button_cb, GPIO_INT_EDGE_TO_ACTIVE);
    if (err)
        fail("power-fail button", VNV_ERR_IO);
#ifndef CONFIG_GPIO_EMUL
    printk("press the power-fail button %d times\n", CONFIG_APP_POWER_FAILURES);
#endif

    for (;;) {
        boot();
        if (rec.survived >= CONFIG_APP_POWER_FAILURES)
            break;
        armed = true;
        dead = false;
        k_thread_create(&worker_thread, worker_stack, K_THREAD_STACK_SIZEOF(worker_stack),
                        worker, NULL, NULL, NULL, WORKER_PRIO, 0, K_NO_WAIT);
        k_sem_take(&power_died, K_FOREVER); /* CONFIG_APP_PROCESS_RESTART: never returns */
        k_thread_abort(&worker_thread);     /* the power is gone: the worker stops here */
        vnv_abandon(&heap);
        memset(ram, 0xA5, sizeof ram); /* and so is the RAM */
    }
#ifdef CONFIG_GPIO_EMUL
    k_thread_suspend(stimulus_tid);
#endif
    struct vnv_zephyr_persist_stats ps;
    vnv_zephyr_persist_stats(&ps);
    struct vnv_stats st;
    vnv_stats(&heap, &st);
    printk("persist thread: %u requests, %u rounds, %u failed; stack %d bytes unused of %d; "
           "peak checkpoint %u of bound %u bytes; %u deferred (this life)\n",
           (unsigned)ps.requests, (unsigned)ps.rounds, (unsigned)ps.failures,
           (int)ps.stack_unused, CONFIG_VNVHEAP_PERSIST_THREAD_STACK_SIZE,
           (unsigned)st.peak_checkpoint_bytes, (unsigned)st.bound, (unsigned)st.deferred);
#if VNV_ZEPHYR_STORAGE_IS_SPI_FRAM
    const struct vnv_spi_fram *f = vnv_zephyr_spi_fram_driver(storage_dev);
    printk("spi fram: RDID %02x %02x %02x %02x, %u address bytes; this life %llu CS cycles, "
           "%llu bytes, %llu transfer calls, %llu errors\n",
           f->rdid[0], f->rdid[1], f->rdid[2], f->rdid[3], (unsigned)f->chip.addr_bytes,
           (unsigned long long)f->cs_cycles, (unsigned long long)f->bytes,
           (unsigned long long)f->calls, (unsigned long long)f->errors);
#endif
#ifdef CONFIG_APP_FRAM_EMUL
    extern void fram_emul_report(uint64_t *, uint64_t *, uint64_t *);
    uint64_t cyc, viol, ign;
    fram_emul_report(&cyc, &viol, &ign);
    printk("fram model: %llu CS cycles, %llu bus-contract violations, %llu ignored writes\n",
           (unsigned long long)cyc, (unsigned long long)viol, (unsigned long long)ign);
    if (viol || ign)
        fail("fram model", VNV_ERR_IO);
#endif
    printk("OK: survived %u power failures, 0 lost\n", (unsigned)rec.survived);
#ifdef CONFIG_ARCH_POSIX
    posix_exit(0);
#endif
    return 0;
}

/*
 * vnvheap ztest suite: the core on Zephyr, through the EEPROM backend and the persist
 * thread. Storage is the devicetree's zephyr,vnvheap-storage (a zephyr,sim-eeprom).
 *   model       randomized operations against a shadow copy, checkpoints with RAM wipes
 *   restore     checkpoint through the persist thread, power loss, vnv_open
 *   bad_input   forged handles, double free, bad sizes, ranges outside the device
 *   preempt     the persist thread preempts a worker thread at random points: inside storage
 *               transactions (the storage wrapper requests a checkpoint), between operations,
 *               and from a timer interrupt (asynchronous on QEMU); every value is checked.
 *   persist_thread_blocks  the same with a storage driver that sleeps in the persist thread:
 *               the guard keeps the worker off the CPU until each round ends.
 * Every assertion counts events or compares states; none depends on timing.
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>
#include <zephyr/drivers/eeprom.h>

#include "vnvheap_zephyr.h"

#ifdef CONFIG_VNVHEAP_MINIMAL
#define CHECK_HEAP(h) ((void)(h), VNV_OK) /* vnv_check: not in the minimal profile */
#else
#define CHECK_HEAP(h) vnv_check(h)
#endif

#define HEAP_SIZE (12u * 1024u)
#define NSLOT 16
#define MAXSZ 64

static const struct device *const dev = VNV_ZEPHYR_STORAGE_DEVICE;
static _Alignas(8) uint8_t ram[1536];
static struct vnv_heap heap;
static struct vnv_zephyr_eeprom ee;
static struct vnv_storage inner, wrapped;
static struct vnv_config cfg;

/* ---- random numbers, shadow model ------------------------------------------------------ */

static uint32_t rs = 1;
static uint32_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 17;
    rs ^= rs << 5;
    return rs;
}

struct slot {
    vnv_obj_t obj;
    uint32_t size;
    uint8_t data[MAXSZ];
};
static struct slot slots[NSLOT];
static int first_slot; /* random_op leaves slots below this one alone */

/* ---- storage wrapper: optionally requests a checkpoint inside a storage transaction ------ */

static volatile uint32_t inject_one_in; /* 0 = never */
static volatile uint32_t injected_in_storage;

/* A driver that blocks (an interrupt-driven SPI transfer, an EEPROM write cycle): in the
 * persist thread each storage call sleeps for a tick, so lower-priority threads could run
 * in the middle of a checkpoint. The persist guard must keep the heap's threads out. */
extern const k_tid_t vnv_persist_tid;
static volatile bool block_in_persist;
static volatile bool persist_asleep;
static volatile uint32_t persist_sleeps, overlapping_calls, worker_ran_in_round;
static atomic_t in_flight;

static void maybe_inject(void)
{
    if (atomic_inc(&in_flight) != 0)
        overlapping_calls++; /* storage.h: the heap never issues two calls at once */
    if (block_in_persist && k_current_get() == vnv_persist_tid) {
        persist_sleeps++;
        persist_asleep = true;
        k_sleep(K_TICKS(1));
        persist_asleep = false;
        return;
    }
    if (inject_one_in && rnd() % inject_one_in == 0) {
        injected_in_storage++;
        vnv_zephyr_power_fail(); /* the persist thread preempts us right here */
    }
}
static int w_read(void *c, uint32_t off, void *dst, uint32_t len)
{
    maybe_inject();
    int r = inner.read(c, off, dst, len);
    atomic_dec(&in_flight);
    return r;
}
static int w_write(void *c, uint32_t off, const void *src, uint32_t len)
{
    maybe_inject();
    int r = inner.write(c, off, src, len);
    atomic_dec(&in_flight);
    return r;
}
static int w_writev(void *c, uint32_t off, const struct vnv_iovec *iov, unsigned cnt)
{
    maybe_inject();
    int r = inner.writev(c, off, iov, cnt);
    atomic_dec(&in_flight);
    return r;
}

/* ---- persist callback: the RAM buffer is lost at every checkpoint ------------------------ */

static volatile uint32_t callbacks;
static volatile bool wipe_ram = true;
static int on_persist(void *user, int status, void *buf, size_t len)
{
    ARG_UNUSED(user);
    callbacks++;
    if (status < 0 || !wipe_ram)
        return 0;
    memset(buf, 0x5A, len); /* power lost: the heap restores it at the same addresses */
    return 1;
}

static void setup_heap(void)
{
    zassert_ok(vnv_zephyr_eeprom_storage(&ee, dev, 0, HEAP_SIZE, &inner));
    wrapped = inner;
    wrapped.read = w_read;
    wrapped.write = w_write;
    wrapped.writev = w_writev;
    vnv_zephyr_config_init(&cfg);
    cfg.storage = &wrapped;
    cfg.buffer = ram;
    cfg.buffer_size = sizeof ram;
    cfg.max_dirty_bytes = 320;
    cfg.on_persist = on_persist;
    inject_one_in = 0;
    wipe_ram = true;
    zassert_ok(vnv_format(&heap, &cfg));
    memset(slots, 0, sizeof slots);
    first_slot = 0;
}

static void after(void *f)
{
    ARG_UNUSED(f);
    inject_one_in = 0;
    vnv_abandon(&heap);
}

/* ---- one random operation on the shadow model --------------------------------------------- */

static void verify_slot(const struct slot *s)
{
    uint8_t buf[MAXSZ];
    zassert_ok(vnv_read(&heap, s->obj, 0, buf, s->size));
    zassert_mem_equal(buf, s->data, s->size);
}

static void random_op(void)
{
    struct slot *s = &slots[first_slot + rnd() % (NSLOT - first_slot)];
    uint32_t op = rnd() % 8;
    if (vnv_is_null(s->obj)) {
        s->size = 1 + rnd() % MAXSZ;
        for (uint32_t i = 0; i < s->size; i++)
            s->data[i] = (uint8_t)rnd();
        int err = vnv_alloc(&heap, s->size, s->data, &s->obj);
        zassert_true(err == 0 || err == VNV_ERR_NOSPC, "alloc: %d", err);
        if (err)
            s->obj = VNV_NULL;
        return;
    }
    switch (op) {
    case 0:
        zassert_ok(vnv_free(&heap, s->obj));
        s->obj = VNV_NULL;
        break;
    case 1: {
        uint8_t *p;
        zassert_ok(vnv_get_mut(&heap, s->obj, (void **)&p));
        zassert_mem_equal(p, s->data, s->size);
        uint32_t i = rnd() % s->size;
        p[i] = s->data[i] = (uint8_t)rnd();
        zassert_ok(vnv_release(&heap, s->obj));
        break;
    }
    case 2: {
        uint32_t off = rnd() % s->size, len = 1 + rnd() % (s->size - off);
        for (uint32_t i = 0; i < len; i++)
            s->data[off + i] = (uint8_t)rnd();
        zassert_ok(vnv_write(&heap, s->obj, off, s->data + off, len));
        break;
    }
    case 3: {
        const uint8_t *p;
        zassert_ok(vnv_get(&heap, s->obj, (const void **)&p));
        zassert_mem_equal(p, s->data, s->size);
        zassert_ok(vnv_release(&heap, s->obj));
        break;
    }
    case 4:
        zassert_ok(vnv_unload(&heap, s->obj));
        break;
    case 5:
        zassert_ok(vnv_flush(&heap, s->obj));
        break;
    default:
        verify_slot(s);
        break;
    }
}

static void verify_all(void)
{
    for (int i = 0; i < NSLOT; i++)
        if (!vnv_is_null(slots[i].obj))
            verify_slot(&slots[i]);
    zassert_ok(CHECK_HEAP(&heap));
}

/* ---- tests ---------------------------------------------------------------------------------- */

ZTEST(vnvheap, test_model)
{
    rs = 0xC0FFEEu;
    setup_heap();
    uint32_t ckpts = 0;
    for (int i = 0; i < 3000; i++) {
        random_op();
        if (rnd() % 50 == 0) {
            zassert_ok(vnv_checkpoint(&heap)); /* RAM wiped and restored by the callback */
            ckpts++;
        }
    }
    verify_all();
    struct vnv_stats st;
    zassert_ok(vnv_stats(&heap, &st));
    zassert_true(st.persists >= ckpts, "persists %u < %u", st.persists, ckpts);
    zassert_true(st.restores >= ckpts, "restores %u < %u", st.restores, ckpts);
    zassert_true(st.peak_checkpoint_bytes <= st.bound);
}

ZTEST(vnvheap, test_checkpoint_restore)
{
    rs = 0xBEEF;
    setup_heap();
    for (int i = 0; i < 400; i++)
        random_op();
    vnv_obj_t root = VNV_NULL;
    for (int i = 0; i < NSLOT && vnv_is_null(root); i++)
        root = slots[i].obj;
    zassert_false(vnv_is_null(root));
    zassert_ok(vnv_set_root(&heap, root));
    struct vnv_zephyr_persist_stats before, after_ps;
    vnv_zephyr_persist_stats(&before);
    uint32_t cb = callbacks;
    wipe_ram = false;
    vnv_zephyr_power_fail(); /* the persist thread runs before this returns */
    vnv_zephyr_persist_stats(&after_ps);
    zassert_equal(after_ps.requests, before.requests + 1);
    zassert_equal(after_ps.rounds, before.rounds + 1);
    zassert_true(after_ps.last_result >= 0, "persist: %d", after_ps.last_result);
    zassert_equal(callbacks, cb + 1);
    /* Power lost: nothing survives but storage. */
    vnv_abandon(&heap);
    memset(ram, 0, sizeof ram);
    zassert_ok(vnv_open(&heap, &cfg));
    vnv_obj_t r;
    zassert_ok(vnv_root(&heap, &r));
    zassert_true(vnv_same(r, root));
    verify_all();
}

ZTEST(vnvheap, test_bad_input)
{
    setup_heap();
    uint8_t v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vnv_obj_t o;
    const void *p;
    zassert_equal(vnv_alloc(&heap, 0, NULL, &o), VNV_ERR_INVAL);
    zassert_ok(vnv_alloc(&heap, sizeof v, v, &o));
    zassert_equal(vnv_get(&heap, (vnv_obj_t){o.id ^ 0x00400000u}, &p), VNV_ERR_INVAL);
    zassert_equal(vnv_read(&heap, o, 4, v, 8), VNV_ERR_INVAL); /* past the end */
    zassert_ok(vnv_get(&heap, o, &p));
    zassert_equal(vnv_free(&heap, o), VNV_ERR_BUSY);
    zassert_ok(vnv_release(&heap, o));
    zassert_equal(vnv_release(&heap, o), VNV_ERR_INVAL);
    zassert_ok(vnv_free(&heap, o));
    zassert_equal(vnv_free(&heap, o), VNV_ERR_INVAL);
    zassert_ok(CHECK_HEAP(&heap));
    /* The backend: ranges outside the device, and outside its slice. */
    struct vnv_zephyr_eeprom e2;
    struct vnv_storage s2;
    size_t devsz = eeprom_get_size(dev);
    zassert_equal(vnv_zephyr_eeprom_storage(&e2, dev, (uint32_t)devsz + 1, 0, &s2),
                  VNV_ERR_INVAL);
    zassert_equal(vnv_zephyr_eeprom_storage(&e2, dev, 16, (uint32_t)devsz, &s2), VNV_ERR_INVAL);
    zassert_equal(vnv_zephyr_eeprom_storage(NULL, dev, 0, 0, &s2), VNV_ERR_INVAL);
    zassert_ok(vnv_zephyr_eeprom_storage(&e2, dev, 0, 256, &s2));
    zassert_equal(s2.read(s2.ctx, 250, v, 8), VNV_ERR_INVAL);
    zassert_equal(s2.write(s2.ctx, 257, v, 0), VNV_ERR_INVAL);
    struct vnv_iovec iov[2] = {{v, 8}, {v, 8}};
    zassert_equal(s2.writev(s2.ctx, 244, iov, 2), VNV_ERR_INVAL);
    zassert_ok(s2.writev(s2.ctx, 240, iov, 2));
    uint8_t back[16];
    zassert_ok(s2.read(s2.ctx, 240, back, 16));
    zassert_mem_equal(back, v, 8);
    zassert_mem_equal(back + 8, v, 8);
    zassert_equal(e2.errors, 0);
}

/* ---- preemption by the persist thread --------------------------------------------------------- */

#define WORKER_OPS 4000
K_THREAD_STACK_DEFINE(worker_stack, 2048);
static struct k_thread worker_thread;
static volatile uint32_t worker_done;
static uint32_t timer_fired;

static void timer_isr(struct k_timer *t)
{
    timer_fired++;
    vnv_zephyr_power_fail(); /* from interrupt context */
    k_timer_start(t, K_USEC(50 + rnd() % 400), K_NO_WAIT);
}
K_TIMER_DEFINE(pf_timer, timer_isr, NULL);

static void worker(void *a, void *b, void *c)
{
    ARG_UNUSED(a);
    ARG_UNUSED(b);
    ARG_UNUSED(c);
    /* A reader pin held through all operations: the same address and content after every
     * checkpoint, though the RAM buffer is wiped each time. */
    struct slot *pinned = &slots[0];
    const uint8_t *pp;
    zassert_ok(vnv_get(&heap, pinned->obj, (const void **)&pp));
    const uint8_t *const addr = pp;
    for (int i = 0; i < WORKER_OPS; i++) {
        if (persist_asleep)
            worker_ran_in_round++; /* the checkpoint is not finished: we must not run */
        struct slot *s = &slots[first_slot + rnd() % (NSLOT - first_slot)];
        if (!vnv_is_null(s->obj) && rnd() % 4 == 0)
            verify_slot(s);
        else
            random_op();
        zassert_mem_equal(pp, pinned->data, pinned->size);
        if (rnd() % 64 == 0)
            vnv_zephyr_power_fail(); /* between operations */
        if (rnd() % 16 == 0)
            k_busy_wait(rnd() % 50); /* lets the timer fire on native_sim */
    }
    zassert_equal(pp, addr);
    zassert_ok(vnv_release(&heap, pinned->obj));
    worker_done = 1;
}

/* The heap the worker starts from: slot 0 the pinned object (never freed: the worker's
 * random_op skips it), the others after 200 random operations. */
static void worker_scene(uint32_t seed, uint32_t mul)
{
    rs = seed;
    setup_heap();
    slots[0].size = 24;
    for (uint32_t i = 0; i < 24; i++)
        slots[0].data[i] = (uint8_t)(i * mul);
    zassert_ok(vnv_alloc(&heap, 24, slots[0].data, &slots[0].obj));
    first_slot = 1;
    for (int i = 0; i < 200; i++)
        random_op();
}

static void run_worker(void)
{
    k_thread_create(&worker_thread, worker_stack, K_THREAD_STACK_SIZEOF(worker_stack), worker,
                    NULL, NULL, NULL, K_PRIO_PREEMPT(5), 0, K_NO_WAIT);
    zassert_ok(k_thread_join(&worker_thread, K_FOREVER));
}

ZTEST(vnvheap, test_preempt)
{
    worker_scene(0x5EED, 7);
    struct vnv_stats st0, st;
    zassert_ok(vnv_stats(&heap, &st0));
    struct vnv_zephyr_persist_stats p0, p1;
    vnv_zephyr_persist_stats(&p0);
    uint32_t cb0 = callbacks;
    injected_in_storage = 0;
    timer_fired = 0;
    worker_done = 0;
    inject_one_in = 24;
    k_timer_start(&pf_timer, K_USEC(100), K_NO_WAIT);
    run_worker();
    k_timer_stop(&pf_timer);
    inject_one_in = 0;
    first_slot = 0;
    zassert_equal(worker_done, 1, "the worker failed an assertion");
    verify_all();
    zassert_ok(vnv_stats(&heap, &st));
    vnv_zephyr_persist_stats(&p1);
    uint32_t rounds = p1.rounds - p0.rounds, persists = st.persists - st0.persists;
    uint32_t deferred = st.deferred - st0.deferred;
    printk("preempt: %u requests (%u in storage transactions, %u from the timer), %u rounds, "
           "%u checkpoints, %u deferred, %u restores; persist stack %d of %d bytes unused\n",
           p1.requests - p0.requests, injected_in_storage, timer_fired, rounds, persists,
           deferred, st.restores - st0.restores, (int)p1.stack_unused,
           CONFIG_VNVHEAP_PERSIST_THREAD_STACK_SIZE);
    zassert_equal(p1.failures, p0.failures);
    zassert_true(injected_in_storage > 50, "too few injections: %u", injected_in_storage);
    /* Every request inside a storage transaction found the heap busy: deferred. */
    zassert_true(deferred >= 1, "nothing deferred");
    zassert_true(rounds >= 1);
    /* Checkpoints happened, called back, and the wiped RAM was restored (the values were
     * compared after every operation above). */
    zassert_true(persists >= 1 && callbacks - cb0 >= persists, "%u callbacks, %u checkpoints",
                 callbacks - cb0, persists);
    zassert_true(st.restores - st0.restores >= 1);
    zassert_true(st.peak_checkpoint_bytes <= st.bound);
}

/* The same worker, with a storage driver that sleeps inside the persist thread (as
 * interrupt-driven SPI and EEPROM drivers do). Without the persist guard the worker ran
 * in the middle of checkpoints: heap calls and storage calls inside a checkpoint, and
 * writes that returned before the callback missing from what it wrote. */
ZTEST(vnvheap, test_persist_thread_blocks)
{
    worker_scene(0xB10C, 5);
    struct vnv_zephyr_persist_stats p0, p1;
    vnv_zephyr_persist_stats(&p0);
    persist_sleeps = overlapping_calls = worker_ran_in_round = 0;
    worker_done = 0;
    block_in_persist = true;
    inject_one_in = 24; /* (and the worker's requests between operations; no timer: a
                           round that sleeps per storage call outlasts its period) */
    run_worker();
    inject_one_in = 0;
    block_in_persist = false;
    first_slot = 0;
    vnv_zephyr_persist_stats(&p1);
    printk("persist blocks: %u rounds, %u sleeps in storage calls, worker ran %u times "
           "inside a round, %u overlapping storage calls\n",
           p1.rounds - p0.rounds, persist_sleeps, worker_ran_in_round, overlapping_calls);
    zassert_equal(worker_ran_in_round, 0, "heap calls inside a checkpoint");
    zassert_equal(overlapping_calls, 0, "two storage calls at once");
    zassert_equal(worker_done, 1, "the worker failed an assertion");
    zassert_true(persist_sleeps > 20, "the persist thread never blocked: %u", persist_sleeps);
    zassert_equal(p1.failures, p0.failures);
    verify_all();
}

ZTEST_SUITE(vnvheap, NULL, NULL, NULL, after, NULL);

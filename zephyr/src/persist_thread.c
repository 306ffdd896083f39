/*
 * persist_thread.c - the power-fail path on Zephyr.
 *
 * EEPROM and SPI drivers take mutexes/semaphores and may sleep, so vnv_persist_all() cannot
 * run in the power-fail ISR. The ISR calls vnv_zephyr_power_fail(), which gives a
 * semaphore; this thread, at the highest priority (a meta-IRQ priority if the kernel has
 * them, else the highest cooperative one), is switched to as the ISR returns and calls
 * vnv_persist_all(). It preempts any application thread at any instruction - exactly the
 * situation the heap's deferral handles for an interrupt: inside a heap critical section
 * the request is recorded and the interrupted thread writes the checkpoint at the
 * section's end (the persist callback then runs in that thread).
 *
 * An interrupt runs to its end; a thread does not: when the persist thread blocks inside
 * the storage driver (an interrupt-driven SPI transfer, an EEPROM write cycle, a bus lock,
 * k_sleep in the callback), the scheduler runs the next ready thread - the preempted
 * application thread, which would go on with heap calls in the middle of the checkpoint.
 * So each round wakes the GUARD: a thread just below the persist thread that keeps the
 * CPU while the round lasts, so that no thread below it runs (interrupts, the persist
 * thread and threads at or above the guard's priority do). It idles the CPU between
 * interrupts when the persist thread is a meta-IRQ thread (which preempts it at the end
 * of the interrupt that wakes it); else it polls, since a cooperative persist thread made
 * ready while the guard idles would wait for the next interrupt.
 *
 * Its stack holds vnv_persist_all() (about 600 bytes on 32-bit targets, README "Costs"),
 * the storage driver with the SPI stack, and the persist callback.
 */
#include <zephyr/kernel.h>
#include <zephyr/sys/atomic.h>

#include "vnvheap_zephyr.h"

#if CONFIG_VNVHEAP_PERSIST_THREAD_PRIORITY == -1000
#define PERSIST_PRIO K_HIGHEST_THREAD_PRIO
#else
#define PERSIST_PRIO CONFIG_VNVHEAP_PERSIST_THREAD_PRIORITY
#endif

static K_SEM_DEFINE(persist_req, 0, 1); /* binary: requests before the thread ran merge */
static atomic_t n_requests, n_rounds, n_failures, last_result;

#if defined(CONFIG_VNVHEAP_PERSIST_GUARD)
#define PERSIST_IS_METAIRQ ((PERSIST_PRIO - K_HIGHEST_THREAD_PRIO) < CONFIG_NUM_METAIRQ_PRIORITIES)
BUILD_ASSERT(CONFIG_VNVHEAP_PERSIST_GUARD_PRIORITY > PERSIST_PRIO,
             "the guard must rank below the persist thread");
static K_SEM_DEFINE(guard_go, 0, 1);
static atomic_t round_active;

static void guard_main(void *a, void *b, void *c)
{
    ARG_UNUSED(a);
    ARG_UNUSED(b);
    ARG_UNUSED(c);
    for (;;) {
        (void)k_sem_take(&guard_go, K_FOREVER);
        while (atomic_get(&round_active)) {
            k_yield(); /* threads at the guard's priority (the system work queue) run */
#if PERSIST_IS_METAIRQ
            unsigned int key = irq_lock();
            if (atomic_get(&round_active))
                k_cpu_atomic_idle(key); /* until an interrupt: no lost wake-up */
            else
                irq_unlock(key);
#else
            k_busy_wait(1); /* poll (and on native_sim let simulated time pass) */
#endif
        }
    }
}

K_THREAD_DEFINE(vnv_persist_guard_tid, CONFIG_VNVHEAP_PERSIST_GUARD_STACK_SIZE, guard_main, NULL,
                NULL, NULL, CONFIG_VNVHEAP_PERSIST_GUARD_PRIORITY, 0, 0);
#endif

void vnv_zephyr_power_fail(void)
{
    atomic_inc(&n_requests);
    k_sem_give(&persist_req);
}

static void persist_main(void *a, void *b, void *c)
{
    ARG_UNUSED(a);
    ARG_UNUSED(b);
    ARG_UNUSED(c);
    for (;;) {
        (void)k_sem_take(&persist_req, K_FOREVER);
#if defined(CONFIG_VNVHEAP_PERSIST_GUARD)
        atomic_set(&round_active, 1);
        k_sem_give(&guard_go); /* ready, but it runs only while this thread is blocked */
#endif
        int r = vnv_persist_all(); /* >= 0: written or deferred to the section's end */
#if defined(CONFIG_VNVHEAP_PERSIST_GUARD)
        atomic_set(&round_active, 0);
#endif
        atomic_set(&last_result, r);
        if (r < 0)
            atomic_inc(&n_failures);
        atomic_inc(&n_rounds);
    }
}

K_THREAD_DEFINE(vnv_persist_tid, CONFIG_VNVHEAP_PERSIST_THREAD_STACK_SIZE, persist_main, NULL,
                NULL, NULL, PERSIST_PRIO, 0, 0);

void vnv_zephyr_persist_stats(struct vnv_zephyr_persist_stats *out)
{
    out->requests = (uint32_t)atomic_get(&n_requests);
    out->rounds = (uint32_t)atomic_get(&n_rounds);
    out->failures = (uint32_t)atomic_get(&n_failures);
    out->last_result = (int)atomic_get(&last_result);
    out->stack_unused = -1;
#if defined(CONFIG_INIT_STACKS) && defined(CONFIG_THREAD_STACK_INFO)
    size_t unused;
    if (k_thread_stack_space_get(vnv_persist_tid, &unused) == 0)
        out->stack_unused = (int32_t)unused;
#endif
}

#if defined(CONFIG_GPIO)
static void gpio_isr(const struct device *port, struct gpio_callback *cb, gpio_port_pins_t pins)
{
    ARG_UNUSED(port);
    ARG_UNUSED(cb);
    ARG_UNUSED(pins);
    vnv_zephyr_power_fail();
}

int vnv_zephyr_power_fail_gpio(const struct gpio_dt_spec *spec, struct gpio_callback *cb,
                               gpio_flags_t edge)
{
    if (!gpio_is_ready_dt(spec))
        return -ENODEV;
    int err = gpio_pin_configure_dt(spec, GPIO_INPUT);
    if (err)
        return err;
    gpio_init_callback(cb, gpio_isr, BIT(spec->pin));
    err = gpio_add_callback_dt(spec, cb);
    if (err)
        return err;
    return gpio_pin_interrupt_configure_dt(spec, edge);
}
#endif

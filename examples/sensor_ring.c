/*
 * sensor_ring.c - a sensor logger built on the two containers, surviving power failures.
 *
 *   sensor_ring [TICKS]          (default 3000)
 *
 * Every tick the "sensor" produces a sample, stored in a ring of 256 samples: a vnv_array
 * with 32-byte blocks, so storing one 8-byte sample dirties (and costs a checkpoint) 32 bytes,
 * not the 2 KiB array. Samples above a threshold also become events in a vnv_list used as a
 * FIFO queue; a consumer sends them (peek, send, pop: at-least-once delivery).
 *
 * Storage is emulated FRAM in a static array (vnvheap/storage_emu.h), which makes it easy to
 * simulate the power failing:
 *   - every 97 ticks: the power-failure interrupt checkpoints, the RAM buffer is lost and
 *     restored from the checkpoint, and the program simply continues (resume);
 *   - every 401 ticks: checkpoint, then the device resets: everything in RAM is gone and the
 *     program boots again: vnv_open, then the containers are found through the root object.
 * At the end the ring must hold exactly the last 256 samples, and every event was sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnvheap.h"
#include "vnvheap/array.h"
#include "vnvheap/list.h"
#include "vnvheap/storage_emu.h"

#define RING 256u
#define THRESHOLD 2800 /* centi-degrees: 28.00 C */

struct sample {
    uint32_t tick;
    int16_t temp; /* centi-degrees */
    uint16_t flags;
};

struct event {
    uint32_t tick;
    int16_t temp;
    uint16_t kind;
};

/* The root object: where everything else is found after a reset. */
struct app {
    vnv_obj_t ring;   /* vnv_array of RING samples */
    vnv_obj_t events; /* vnv_list of struct event */
    uint32_t ticks;   /* samples taken so far; the next one goes to slot ticks % RING */
    uint32_t sent;    /* events sent so far (statistics) */
};

static uint8_t fram[64 * 1024];           /* non-volatile: survives everything */
static _Alignas(8) uint8_t ram[6 * 1024]; /* the heap's RAM buffer: lost at a power failure */
static struct vnv_emu emu;
static struct vnv_storage storage;
static struct vnv_heap heap;
static int lose_ram; /* the next checkpoint is followed by a power loss of the RAM buffer */

static int on_persist(void *user, int status, void *buf, size_t len)
{
    (void)user;
    (void)status;
    if (!lose_ram)
        return 0;
    memset(buf, 0, len); /* what a real power failure does to SRAM */
    return 1;            /* "the buffer is lost": the heap restores it from the checkpoint */
}

static const struct vnv_config cfg = {
    .storage = &storage,
    .buffer = ram,
    .buffer_size = sizeof ram,
    .max_dirty_bytes = 512, /* every checkpoint writes at most 512 bytes: the energy bound */
    .on_persist = on_persist,
};

_Noreturn static void die(const char *what, int err)
{
    fprintf(stderr, "sensor_ring: %s: %s\n", what, vnv_strerror(err));
    exit(1);
}

/* Power-on: attach to the heap of the previous run or create everything. */
static vnv_obj_t boot(void)
{
    vnv_obj_t root;
    int err = vnv_open(&heap, &cfg);
    if (err == VNV_OK) {
        const struct app *a;
        if ((err = vnv_root(&heap, &root)) || (err = VNV_GET(&heap, root, struct app, &a)))
            die("root", err);
        struct app copy = *a;
        vnv_release(&heap, root);
        /* attach FIRST: it finishes a list update the reset interrupted */
        if ((err = vnv_list_attach(&heap, copy.events)) ||
            (err = vnv_array_attach(&heap, copy.ring, NULL, NULL)))
            die("attach", err);
        return root;
    }
    struct app a = {0};
    if ((err = vnv_format(&heap, &cfg)) ||
        (err = vnv_array_create(&heap, RING, sizeof(struct sample), 32, NULL, &a.ring)) ||
        (err = vnv_list_create(&heap, sizeof(struct event), &a.events)) ||
        (err = VNV_NEW(&heap, struct app, &a, &root)) || (err = vnv_set_root(&heap, root)))
        die("format", err);
    return root;
}

static int16_t sensor(uint32_t tick) /* a slow wave with a spike now and then */
{
    int32_t t = 2500 + (int32_t)((tick * 37u) % 400u) - 200;
    return (int16_t)(tick % 53u == 0 ? t + 600 : t);
}

/* One tick: sample, log it in the ring, queue an event if it is hot, send queued events. */
static void tick_once(vnv_obj_t root)
{
    struct app *a;
    int err = VNV_GET_MUT(&heap, root, struct app, &a);
    if (err)
        die("app", err);
    struct sample s = {a->ticks, sensor(a->ticks), 0};
    /* one element write: one 32-byte block charged to the budget, not the whole ring */
    if ((err = vnv_array_set(&heap, a->ring, a->ticks % RING, &s)))
        die("ring", err);
    if (s.temp > THRESHOLD) {
        struct event e = {s.tick, s.temp, 1};
        if ((err = vnv_list_push_back(&heap, a->events, &e)))
            die("push", err);
    }
    /* The commit of this tick: one aligned store. A reset before it samples this tick again
     * into the same slot (and may queue its event twice: the consumer sees the tick). */
    a->ticks++;
    /* The consumer sends at most one event per tick, when it is 20 ticks old (the radio is
     * slow). Peek, send, then pop: a reset in between sends it again, never loses it. */
    struct event e;
    if (vnv_list_peek_front(&heap, a->events, &e) == VNV_OK && e.tick + 20u < a->ticks) {
        if (a->sent < 5)
            printf("sent event: tick %" PRIu32 ", %d.%02d C\n", e.tick, e.temp / 100,
                   e.temp % 100);
        if (vnv_list_pop_front(&heap, a->events, NULL) == VNV_OK)
            a->sent++;
    }
    vnv_release(&heap, root);
}

int main(int argc, char **argv)
{
    uint32_t ticks = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 3000u;
    vnv_emu_init(&emu, fram, sizeof fram, NULL);
    vnv_emu_storage(&emu, &storage);
    vnv_obj_t root = boot();
    unsigned resumes = 0, resets = 0;
    for (uint32_t i = 0; i < ticks; i++) {
        tick_once(root);
        if (i % 97u == 96u) { /* power failure, power comes back: resume */
            lose_ram = 1;
            vnv_persist_all();
            resumes++;
        }
        if (i % 401u == 400u) { /* power failure, the device resets */
            lose_ram = 0;
            vnv_persist_all();
            vnv_abandon(&heap); /* the RAM state of this "run" is gone */
            memset(ram, 0xA5, sizeof ram);
            root = boot();
            resets++;
        }
    }

    /* Check: the ring holds the last RING samples, and events went out in order. */
    const struct app *a;
    const struct sample *ring;
    uint32_t queued = 0, bad = 0;
    if (VNV_GET(&heap, root, struct app, &a) ||
        vnv_array_view(&heap, a->ring, (const void **)&ring, NULL))
        die("final", VNV_ERR_CORRUPT);
    for (uint32_t k = 0; k < RING && k < a->ticks; k++) {
        uint32_t t = a->ticks - 1u - k;
        bad += ring[t % RING].tick != t || ring[t % RING].temp != sensor(t);
    }
    vnv_array_release(&heap, a->ring);
    vnv_list_length(&heap, a->events, &queued);
    struct vnv_stats st;
    vnv_stats(&heap, &st);
    printf("%" PRIu32 " ticks, %u resumes, %u resets; %" PRIu32 " events sent, %" PRIu32
           " queued; checkpoint bound %" PRIu32 " B, peak %" PRIu32 " B\n",
           a->ticks, resumes, resets, a->sent, queued, st.bound, st.peak_checkpoint_bytes);
    vnv_release(&heap, root);
    if (bad || st.peak_checkpoint_bytes > st.bound) {
        fprintf(stderr, "sensor_ring: %" PRIu32 " wrong samples\n", bad);
        return 1;
    }
    return vnv_close(&heap) == VNV_OK ? 0 : 1;
}
